"""Spectra of every checkpoint of a network, as a labeled dataset."""

from __future__ import annotations

import dataclasses
import shutil

import numpy as np
import pytest
import torch
from helpers.trained import train_two_networks

from lyapunov_rnn.checkpoints import checkpoint_files, checkpoint_name
from lyapunov_rnn.config import LyapunovConfig
from lyapunov_rnn.spectra import network_spectra

OPTIONS = LyapunovConfig(sequences=4)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    return train_two_networks(tmp_path_factory.mktemp("trained"))


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
