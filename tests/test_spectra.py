"""Spectra of every checkpoint of a network, as a labeled dataset."""

from __future__ import annotations

import dataclasses
import runpy
import shutil
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
import xarray as xr
from helpers.trained import ADDING, train_two_networks

from lyapunov_rnn.checkpoints import checkpoint_files, checkpoint_name, load_checkpoint
from lyapunov_rnn.cli import main
from lyapunov_rnn.config import LyapunovConfig, NetworkSpec, TrainingConfig
from lyapunov_rnn.lyapunov import lyapunov_spectrum
from lyapunov_rnn.spectra import group_spectra, network_spectra
from lyapunov_rnn.tasks import load_task, prepare_task
from lyapunov_rnn.train import train_network

OPTIONS = LyapunovConfig(sequences=4)
SPECTRA_SCRIPT = Path(__file__).resolve().parents[1] / "workflow" / "scripts" / "spectra.py"


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    return train_two_networks(tmp_path_factory.mktemp("trained"))


@pytest.fixture(scope="module")
def saturated(trained, tmp_path_factory):
    """Checkpoints of a saturated LSTM (N = 32, weights ~ U(-8, 8)), and the task with a blank first input.

    At the zero state a blank input gives dh' = dc' / 2 exactly: the Jacobian has rank N, so the lowest N
    exponents are -inf and whatever values the arithmetic returns for them are rounding.
    """
    _, task, _ = trained
    directory = tmp_path_factory.mktemp("saturated")
    train_network(
        NetworkSpec("lstm", 32, 8.0, 0), task, TrainingConfig(epochs=1, batch_size=16), directory, progress=False
    )
    inputs = task.test_inputs.clone()
    inputs[:, 0] = 0.0
    return directory, dataclasses.replace(task, test_inputs=inputs)


def test_network_spectra_dataset(trained):
    _, task, networks = trained
    ds = network_spectra(networks["lstm"], task, OPTIONS, progress=False)
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
    resolved = ds["exponents_resolved"]
    assert resolved.dims == ("checkpoint", "exponent") and resolved.dtype == bool
    assert "numerically resolved for every driving sequence" in resolved.attrs["description"]


def test_diverged_checkpoint_gets_nan_spectrum(trained, tmp_path):
    _, task, networks = trained
    payload = torch.load(networks["gru"][2], weights_only=True)
    payload["diverged"] = True
    payload["model_state"] = {k: torch.full_like(v, float("nan")) for k, v in payload["model_state"].items()}
    broken = tmp_path / checkpoint_name(2)
    torch.save(payload, broken)
    ds = network_spectra([*networks["gru"][:2], broken], task, OPTIONS, progress=False)
    assert np.isfinite(ds["exponents"].isel(checkpoint=1)).all()
    assert np.isnan(ds["exponents"].isel(checkpoint=2)).all()
    assert ds["diverged"].values.tolist() == [False, False, True]
    assert not ds["exponents_resolved"].isel(checkpoint=2).any()  # a NaN spectrum resolves nothing


def test_input_sets_drive_with_disjoint_blocks_of_test_sequences(trained):
    """Input set 1 is test sequences [S, 2S): the spectrum of those, not of the first S (set 0, the default)."""
    _, task, networks = trained
    sequences = OPTIONS.sequences
    first = network_spectra(networks["gru"], task, OPTIONS, progress=False)
    second = network_spectra(networks["gru"], task, OPTIONS, input_set=1, progress=False)
    explicit_first = network_spectra(networks["gru"], task, OPTIONS, input_set=0, progress=False)
    only = {
        name: dataclasses.replace(task, test_inputs=task.test_inputs[block])
        for name, block in (("first", slice(0, sequences)), ("second", slice(sequences, 2 * sequences)))
    }
    first_alone = network_spectra(networks["gru"], only["first"], OPTIONS, progress=False)
    second_alone = network_spectra(networks["gru"], only["second"], OPTIONS, progress=False)

    # The default is the first S sequences, exactly as before input sets existed.
    np.testing.assert_array_equal(first["exponents"], explicit_first["exponents"])
    np.testing.assert_array_equal(first["exponents"], first_alone["exponents"])
    np.testing.assert_array_equal(second["exponents"], second_alone["exponents"])
    np.testing.assert_array_equal(second["val_loss"], first["val_loss"])  # same checkpoints
    # A driven GRU's spectrum depends on its inputs, so the two sets give different spectra.
    assert not np.allclose(first["exponents"], second["exponents"])
    assert (first.attrs["input_set"], first.attrs["first_sequence"]) == (0, 0)
    assert (second.attrs["input_set"], second.attrs["first_sequence"]) == (1, sequences)


def test_input_set_beyond_the_test_split_names_the_key(trained):
    _, task, networks = trained
    available = task.test_inputs.shape[0]  # 16 test sequences, 4 per set: sets 0-3 exist
    assert available == 4 * OPTIONS.sequences
    network_spectra(networks["gru"][:1], task, OPTIONS, input_set=3, progress=False)
    with pytest.raises(ValueError, match=r"lyapunov\.sequences=4: input set 4 needs test sequences \[16, 20\)"):
        network_spectra(networks["gru"][:1], task, OPTIONS, input_set=4, progress=False)


def test_checkpoint_files_name_what_is_missing(trained, tmp_path):
    _, _, networks = trained
    directory = networks["gru"][0].parent
    assert checkpoint_files(directory) == networks["gru"]
    gap = tmp_path / "gap"
    shutil.copytree(directory, gap)
    (gap / checkpoint_name(1)).unlink()  # a deleted checkpoint used to be skipped without a word
    with pytest.raises(ValueError, match=r"epoch_001\.pt missing of epoch_000\.pt \.\.\. epoch_002\.pt"):
        checkpoint_files(gap)
    shutil.copy(directory / checkpoint_name(2), gap / checkpoint_name(1))
    shutil.copy(directory / checkpoint_name(2), gap / checkpoint_name(5))
    with pytest.raises(ValueError, match=r"epoch_005\.pt beyond the 2 epochs"):
        checkpoint_files(gap)
    (gap / checkpoint_name(0)).write_bytes(b"torn")
    with pytest.raises(ValueError, match=r"epoch_000\.pt is unreadable"):
        checkpoint_files(gap)
    with pytest.raises(ValueError, match="does not exist"):
        checkpoint_files(tmp_path / "nowhere")


def test_exponents_resolved_holds_for_every_driving_sequence(saturated):
    directory, task = saturated
    ds = network_spectra(checkpoint_files(directory), task, OPTIONS, progress=False)
    model, _ = load_checkpoint(directory / checkpoint_name(1))
    inputs = task.test_inputs[: OPTIONS.sequences]
    assert OPTIONS.rounding_check  # the default
    per_sequence = lyapunov_spectrum(model, inputs, rounding_check=True).resolved
    resolved = ds["exponents_resolved"].isel(checkpoint=1).values
    np.testing.assert_array_equal(resolved, per_sequence.all(dim=0).numpy())
    assert not resolved[32:].any()  # the rank-deficient half
    # The one-step floor alone passes the upper half; the rounding check can only take exponents away from it.
    floor_only = lyapunov_spectrum(model, inputs, rounding_check=False).resolved.all(dim=0).numpy()
    assert floor_only[:32].all() and not floor_only[32:].any()
    assert not (resolved & ~floor_only).any()


def test_cli_and_workflow_script_write_the_same_file(trained, saturated, tmp_path):
    """The workflow's spectra job (1 thread) and ``lyapunov-rnn spectrum`` (default --threads 1) agree bit for bit,
    also when the CLI's process runs more threads."""
    task_path = trained[0]
    directory = saturated[0]
    workflow_file, cli_file = tmp_path / "workflow.nc", tmp_path / "cli.nc"
    snakemake = SimpleNamespace(
        input=SimpleNamespace(checkpoints=[str(directory)], task=str(task_path)),
        output=SimpleNamespace(first=[str(workflow_file)]),
        log=[str(tmp_path / "spectra.log")],
        params=SimpleNamespace(lyapunov={"sequences": OPTIONS.sequences}),
        threads=1,
    )
    threads = torch.get_num_threads()
    try:
        runpy.run_path(str(SPECTRA_SCRIPT), init_globals={"snakemake": snakemake})
        torch.set_num_threads(2)
        status = main(["spectrum", str(directory), "--task", str(task_path), "-o", str(cli_file),
                       "--sequences", str(OPTIONS.sequences), "-q"])
        assert torch.get_num_threads() == 2  # restored after the computation
    finally:
        torch.set_num_threads(threads)
    assert status == 0
    xr.testing.assert_identical(xr.load_dataset(cli_file), xr.load_dataset(workflow_file))


def test_group_spectra_batched_equal_per_network(tmp_path):
    """group_spectra's batched path (the GPU's: one engine run per epoch for all networks, a diverged one left out)
    gives each network the dataset network_spectra gives it, up to rounding; the CPU path gives it bit for bit."""
    task_path = prepare_task(ADDING, tmp_path / "task.npz")
    task = load_task(task_path)
    training = TrainingConfig(epochs=2, batch_size=16, learning_rate=0.01)
    directories = []
    for index, (init_param, learning_rate) in enumerate([(0.5, None), (1.5, None), (0.5, 1.0e37)]):
        spec = NetworkSpec("gru", 5, init_param, seed=index, learning_rate=learning_rate)
        directories.append(tmp_path / f"gru{index}")
        train_network(spec, task, training, directories[-1], progress=False)
    checkpoints = [checkpoint_files(directory) for directory in directories]
    alone = [network_spectra(paths, task, OPTIONS, progress=False) for paths in checkpoints]
    assert bool(alone[2]["diverged"].isel(checkpoint=-1)) and not bool(alone[0]["diverged"].any())
    per_network = group_spectra(checkpoints, task, OPTIONS, batched=False, progress=False)
    batched = group_spectra(checkpoints, task, OPTIONS, batched=True, progress=False)
    for single, unbatched, together in zip(alone, per_network, batched, strict=True):
        xr.testing.assert_identical(unbatched, single)
        xr.testing.assert_allclose(together, single, rtol=0, atol=1e-10)
        np.testing.assert_array_equal(together["exponents_resolved"], single["exponents_resolved"])
