"""The experiment dataset: assembled from per-network files, readable with plain xarray, schema-checked."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import xarray as xr
from helpers.synthetic import make_dataset
from helpers.trained import train_two_networks
from helpers.workflow import TINY

from lyapunov_rnn.config import LyapunovConfig, experiment_config
from lyapunov_rnn.dataset import assemble, check_schema, network_dataset, open_experiment, write_netcdf
from lyapunov_rnn.spectra import network_spectra

OPTIONS = LyapunovConfig(sequences=4)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    return train_two_networks(tmp_path_factory.mktemp("trained"))


def test_assemble_pads_different_state_sizes(trained, tmp_path):
    _, task, networks = trained
    files, masks = [], {}
    for architecture, checkpoints in networks.items():
        path = tmp_path / f"{architecture}.nc"
        spectra = network_spectra(checkpoints, task, OPTIONS, progress=False)
        # Mark one exponent unresolved, so that carrying the mask is not carrying all True.
        spectra["exponents_resolved"][-1, 0] = False
        masks[f"net-{architecture}"] = spectra["exponents_resolved"].values
        write_netcdf(spectra, path)
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
    # Specs without learning rate and dropout train with, and record, the training section's.
    assert loaded["learning_rate"].values.tolist() == [0.01, 0.01] and loaded["dropout"].values.tolist() == [0.1, 0.1]
    gru = loaded["exponents"].sel(network="net-gru")
    assert np.isfinite(gru.sel(exponent=slice(1, 5))).all() and np.isnan(gru.sel(exponent=slice(6, 8))).all()
    assert loaded.attrs["units"] == "nats per step"
    assert loaded.attrs["sequences"] == 4 and loaded.attrs["sequence_length"] == 12
    assert loaded["diverged"].dtype == bool
    resolved = loaded["exponents_resolved"]
    assert resolved.dims == ("network", "checkpoint", "exponent") and resolved.dtype == bool
    assert "numerically resolved for every driving sequence" in resolved.attrs["description"]
    np.testing.assert_array_equal(resolved.sel(network="net-lstm"), masks["net-lstm"])
    np.testing.assert_array_equal(resolved.sel(network="net-gru", exponent=slice(1, 5)), masks["net-gru"])
    assert not resolved.sel(network="net-gru", exponent=slice(6, 8)).any()  # padding is not resolved
    loaded.close()
    check_schema(open_experiment(path))


def test_schema_errors_name_the_problem(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        open_experiment(tmp_path / "missing.nc")
    bad = xr.Dataset({"exponents": (("network", "exponent"), np.zeros((2, 3)))})
    with pytest.raises(ValueError, match="exponents"):
        check_schema(bad)


def test_schema_checks_the_resolution_mask_where_present():
    ds = make_dataset(n_per_arch=2, epochs=2)
    ds = ds.assign_coords(replicate=("network", np.zeros(ds.sizes["network"], dtype=int)))
    check_schema(ds)
    check_schema(ds.drop_vars("exponents_resolved"))  # files written before the mask existed
    with pytest.raises(ValueError, match="exponents_resolved"):
        check_schema(ds.assign(exponents_resolved=ds["exponents_resolved"].isel(exponent=0)))


def _checkpoint_infos(spec: dict, training: dict, epochs: int = 2) -> list[dict]:
    """What load_checkpoint returns of each checkpoint of one network, without the model."""
    return [
        {
            "epoch": epoch, "epochs": epochs, "spec": spec, "training": training,
            "train_loss": 1.0, "val_loss": 1.0, "val_accuracy": 0.5, "diverged": False,
        }
        for epoch in range(epochs + 1)
    ]


def test_network_learning_rate_and_dropout_are_coordinates(tmp_path):
    training = {"epochs": 2, "batch_size": 8, "learning_rate": 0.01, "grad_clip": None, "dropout": 0.1}
    spec = {"architecture": "rnn", "hidden_size": 3, "init_param": 0.5, "seed": 7, "replicate": 0}
    spectra = np.zeros((3, 3)), np.zeros((3, 3))
    resolved = np.ones((3, 3), dtype=bool)
    swept = network_dataset(
        *spectra, _checkpoint_infos({**spec, "learning_rate": 0.003, "dropout": 0.0}, training),
        task="smnist", convention="benettin", exponents_resolved=resolved,
    )
    assert (swept["learning_rate"].item(), swept["dropout"].item()) == (0.003, 0.0)
    # A checkpoint whose spec predates the swept options: the training settings it was trained with.
    older = network_dataset(
        *spectra, _checkpoint_infos(spec, training), task="smnist", convention="benettin", exponents_resolved=resolved
    )
    assert (older["learning_rate"].item(), older["dropout"].item()) == (0.01, 0.1)

    files = []
    for name, part in (("swept", swept), ("older", older)):
        write_netcdf(part, tmp_path / f"{name}.nc")
        files.append((name, tmp_path / f"{name}.nc"))
    config = experiment_config({**copy.deepcopy(TINY), "experiment": "unit"})
    ds = assemble(files, config=config, sequence_length=6)
    assert ds["learning_rate"].dims == ds["dropout"].dims == ("network",)
    assert ds["learning_rate"].values.tolist() == [0.003, 0.01] and ds["dropout"].values.tolist() == [0.0, 0.1]
    with pytest.raises(ValueError, match="learning_rate"):
        check_schema(ds.drop_vars("learning_rate"))


def test_assemble_records_which_test_sequences_drove_the_networks(tmp_path):
    training = {"epochs": 2, "batch_size": 8, "learning_rate": 0.01, "grad_clip": None, "dropout": 0.1}
    spec = {"architecture": "rnn", "hidden_size": 3, "init_param": 0.5, "seed": 7, "replicate": 0}
    config = experiment_config({**copy.deepcopy(TINY), "experiment": "unit"})

    def assembled(*input_sets: tuple[int, int] | None) -> xr.Dataset:
        files = []
        for number, input_set in enumerate(input_sets):
            part = network_dataset(
                np.zeros((3, 3)), np.zeros((3, 3)), _checkpoint_infos(spec, training), task="smnist",
                convention="benettin", exponents_resolved=np.ones((3, 3), dtype=bool),
            )
            if input_set is not None:
                part.attrs.update(input_set=input_set[0], first_sequence=input_set[1])
            files.append((f"net-{number}", tmp_path / f"{number}.nc"))
            write_netcdf(part, files[-1][1])
        return assemble(files, config=config, sequence_length=6)

    ds = assembled((1, 4), (1, 4))
    assert (ds.attrs["input_set"], ds.attrs["first_sequence"]) == (1, 4)
    ds = assembled(None, None)  # files written before input sets existed were driven by the first sequences
    assert (ds.attrs["input_set"], ds.attrs["first_sequence"]) == (0, 0)
    with pytest.raises(ValueError, match="different input sets"):
        assembled((0, 0), (1, 4))
