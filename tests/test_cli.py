"""The command line: spectra of checkpoints, help texts, clear errors."""

from __future__ import annotations

import pytest
import xarray as xr
from helpers.trained import train_two_networks

from lyapunov_rnn.cli import main


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    return train_two_networks(tmp_path_factory.mktemp("trained"))


def test_cli_spectrum_writes_netcdf(trained, tmp_path, capsys):
    task_path, _, networks = trained
    output = tmp_path / "gru.nc"
    status = main(["spectrum", str(networks["gru"][0].parent), "--task", str(task_path),
                   "-o", str(output), "--sequences", "3", "-k", "2"])
    assert status == 0
    ds = xr.load_dataset(output)
    assert dict(ds.sizes) == {"checkpoint": 3, "exponent": 2}
    assert "top exponents" in capsys.readouterr().out


def test_cli_reports_bad_input_clearly(trained, tmp_path, capsys):
    task_path, _, _ = trained
    bad = tmp_path / "epoch_000.pt"
    bad.write_text("garbage")
    status = main(["spectrum", str(bad), "--task", str(task_path), "-o", str(tmp_path / "x.nc"), "-q"])
    assert status == 2
    assert "epoch_000.pt" in capsys.readouterr().err
    assert not (tmp_path / "x.nc").exists()


def test_cli_help_documents_every_option(capsys):
    with pytest.raises(SystemExit):
        main(["spectrum", "--help"])
    text = capsys.readouterr().out
    for option in ("--task", "--output", "--sequences", "--warmup", "-k", "--convention", "--dtype", "--device"):
        assert option in text
