"""Spectra of every checkpoint of a network, as a labeled dataset."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from helpers.trained import train_two_networks

from lyapunov_rnn.checkpoints import checkpoint_name
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
