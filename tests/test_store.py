"""Per-network spectra, the assembled experiment dataset, and the CLI around them."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import xarray as xr

from lyapunov_rnn.cli import main
from lyapunov_rnn.data import load_task, prepare_task
from lyapunov_rnn.spectra import network_spectra, state_size
from lyapunov_rnn.store import assemble, check_schema, open_experiment, write_netcdf
from lyapunov_rnn.train import NetworkSpec, TrainingConfig, checkpoint_name, train_network

ADDING = {"name": "adding", "sequence_length": 12, "train_size": 64, "test_size": 16, "seed": 0}
OPTIONS = {"sequences": 4, "warmup": 0, "k": None, "convention": "benettin", "dtype": "float64"}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Task file and checkpoints of a GRU (N=5) and an LSTM (N=4, state 8) on the adding problem."""
    root = tmp_path_factory.mktemp("trained")
    task_path = prepare_task(ADDING, root / "task.npz")
    task = load_task(task_path)
    training = TrainingConfig(epochs=2, batch_size=16, learning_rate=0.01)
    networks = {}
    for spec in (NetworkSpec("gru", 5, 0.5, 0), NetworkSpec("lstm", 4, 0.5, 0)):
        directory = root / spec.architecture
        train_network(spec, task, training, directory, progress=False)
        networks[spec.architecture] = [directory / checkpoint_name(e) for e in range(3)]
    return task_path, task, networks


def test_network_spectra_dataset(trained):
    _, task, networks = trained
    ds = network_spectra(networks["lstm"], task, sequences=4, progress=False)
    assert dict(ds.sizes) == {"checkpoint": 3, "exponent": 8}  # LSTM state (h, c)
    assert ds["exponents"].attrs["units"] == "nats per step"
    np.testing.assert_array_equal(ds["epoch"], [0, 1, 2])
    np.testing.assert_allclose(ds["training_fraction"], [0, 0.5, 1])
    values = ds["exponents"].values
    assert np.isfinite(values).all()
    assert (np.diff(values, axis=1) <= 0).all()  # sorted descending
    assert (ds["exponents_sem"] >= 0).all()
    assert ds["architecture"].item() == "lstm" and ds["state_size"].item() == 8
    assert not ds["diverged"].any()


def test_state_size_by_convention():
    assert state_size("lstm", 16, "benettin") == 32
    assert state_size("lstm", 16, "aelle") == 16
    assert state_size("cornn", 16, "benettin") == 32
    assert state_size("gru", 16, "benettin") == 16


def test_diverged_checkpoint_gets_nan_spectrum(trained, tmp_path):
    _, task, networks = trained
    payload = torch.load(networks["gru"][2], weights_only=True)
    payload["diverged"] = True
    payload["model_state"] = {k: torch.full_like(v, float("nan")) for k, v in payload["model_state"].items()}
    broken = tmp_path / checkpoint_name(2)
    torch.save(payload, broken)
    ds = network_spectra([*networks["gru"][:2], broken], task, sequences=4, progress=False)
    assert np.isfinite(ds["exponents"].isel(checkpoint=1)).all()
    assert np.isnan(ds["exponents"].isel(checkpoint=2)).all()
    assert ds["diverged"].values.tolist() == [False, False, True]


def test_assemble_pads_different_state_sizes(trained, tmp_path):
    _, task, networks = trained
    files = []
    for architecture, checkpoints in networks.items():
        path = tmp_path / f"{architecture}.nc"
        write_netcdf(network_spectra(checkpoints, task, sequences=4, progress=False), path)
        files.append((f"net-{architecture}", path))
    config = {"experiment": "unit", "lyapunov": OPTIONS}
    ds = assemble(files, config=config, lyapunov_options=OPTIONS, sequence_length=12)
    path = tmp_path / "lyapunov.nc"
    write_netcdf(ds, path)
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []  # no temp files left

    loaded = xr.open_dataset(path, engine="netcdf4")  # plain xarray, as users read it
    assert dict(loaded.sizes) == {"network": 2, "checkpoint": 3, "exponent": 8}
    assert loaded["state_size"].values.tolist() == [5, 8]
    assert loaded["architecture"].values.tolist() == ["gru", "lstm"]
    assert loaded["task"].values.tolist() == ["adding", "adding"]
    gru = loaded["exponents"].sel(network="net-gru")
    assert np.isfinite(gru.sel(exponent=slice(1, 5))).all() and np.isnan(gru.sel(exponent=slice(6, 8))).all()
    assert loaded.attrs["units"] == "nats per step"
    assert loaded.attrs["sequences"] == 4 and loaded.attrs["sequence_length"] == 12
    assert loaded["diverged"].dtype == bool
    loaded.close()
    check_schema(open_experiment(path))


def test_schema_errors_name_the_problem(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        open_experiment(tmp_path / "missing.nc")
    bad = xr.Dataset({"exponents": (("network", "exponent"), np.zeros((2, 3)))})
    with pytest.raises(ValueError, match="exponents"):
        check_schema(bad)


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
