"""The experiment dataset: assembled from per-network files, readable with plain xarray, schema-checked."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import xarray as xr
from helpers.trained import train_two_networks
from helpers.workflow import TINY

from lyapunov_rnn.config import LyapunovConfig, experiment_config
from lyapunov_rnn.dataset import assemble, check_schema, open_experiment, write_netcdf
from lyapunov_rnn.spectra import network_spectra

OPTIONS = LyapunovConfig(sequences=4)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    return train_two_networks(tmp_path_factory.mktemp("trained"))


def test_assemble_pads_different_state_sizes(trained, tmp_path):
    _, task, networks = trained
    files = []
    for architecture, checkpoints in networks.items():
        path = tmp_path / f"{architecture}.nc"
        write_netcdf(network_spectra(checkpoints, task, OPTIONS, progress=False), path)
        files.append((f"net-{architecture}", path))
    config = experiment_config({**copy.deepcopy(TINY), "experiment": "unit", "lyapunov": {"sequences": 4}})
    ds = assemble(files, config=config, sequence_length=12)
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
