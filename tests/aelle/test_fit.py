"""Training AeLLE: history, determinism, what it learns, persistence."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
import xarray as xr
from helpers.synthetic import FAST

from lyapunov_rnn.aelle import AelleFit, train_aelle
from lyapunov_rnn.dataset import valid_spectrum_mask


def test_history_and_reconstruction_decreases(fit: AelleFit) -> None:
    h = fit.history
    assert list(h.columns) == ["epoch", "split", "alpha", "total", "reconstruction", "prediction"]
    assert set(h["split"]) == {"train", "val"}
    assert h["epoch"].max() == FAST.epochs - 1
    train = h[h["split"] == "train"].set_index("epoch")
    assert train["reconstruction"].iloc[-5:].mean() < 0.5 * train["reconstruction"].iloc[:3].mean()
    assert train["prediction"].iloc[-1] < train["prediction"].iloc[0]
    np.testing.assert_allclose(train["alpha"].unique(), [10.0, 20.0])


def test_determinism(ds: xr.Dataset, fit: AelleFit) -> None:
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    threads = torch.get_num_threads()
    again = train_aelle(ds, FAST, num_threads=1)
    assert torch.rand(1) == before  # global RNG untouched by training
    assert torch.get_num_threads() == threads  # thread setting restored
    pd.testing.assert_frame_equal(again.history, fit.history)
    spectra = ds["exponents"].isel(checkpoint=0).values
    np.testing.assert_array_equal(again.encode(spectra), fit.encode(spectra))
    pd.testing.assert_series_equal(again.split, fit.split)


def test_predictor_learns_signal(fit: AelleFit, ds: xr.Dataset) -> None:
    from scipy.stats import spearmanr

    test = fit.split[fit.split == "test"].index
    sub = ds.sel(network=test).isel(checkpoint=0)
    finite = np.isfinite(ds["val_loss"].sel(network=test).isel(checkpoint=-1).values)
    predicted = fit.predict(sub["exponents"].values)
    rho = spearmanr(predicted[finite], ds["val_loss"].sel(network=test).isel(checkpoint=-1).values[finite])
    assert rho.statistic > 0.5


def test_save_load_roundtrip(fit: AelleFit, ds: xr.Dataset, tmp_path) -> None:
    path = fit.save(tmp_path / "sub" / "aelle.pt")
    assert path.exists() and not list(path.parent.glob("*.tmp"))
    loaded = AelleFit.load(path)
    spectra = ds["exponents"].isel(checkpoint=2).values
    np.testing.assert_allclose(loaded.predict(spectra), fit.predict(spectra))
    pd.testing.assert_series_equal(loaded.split, fit.split, check_index_type=False)
    pd.testing.assert_frame_equal(loaded.history, fit.history)
    assert loaded.config == fit.config


def test_different_state_sizes_resampled_to_max(fit: AelleFit, ds: xr.Dataset) -> None:
    assert fit.scaler.length == ds.sizes["exponent"] == 16


def test_encode_predict_to_dataset(fit: AelleFit, ds: xr.Dataset) -> None:
    spectra = ds["exponents"].isel(checkpoint=-1).values
    latent = fit.encode(spectra)
    assert latent.shape == (ds.sizes["network"], 4)
    valid = valid_spectrum_mask(ds).isel(checkpoint=-1).values
    assert np.isfinite(latent[valid]).all() and np.isnan(latent[~valid]).all()
    predicted = fit.predict(spectra)
    assert np.all(predicted[valid] >= fit.target.low - 1e-9)
    assert np.all(predicted[valid] <= fit.target.high + 1e-9)


def test_training_fractions_select_the_checkpoints_aelle_trains_on(ds: xr.Dataset) -> None:
    from dataclasses import replace

    from lyapunov_rnn.aelle.preprocessing import spectrum_samples

    early, networks = spectrum_samples(ds, 16, "midpoint", (0.0, 0.4))
    everything, _ = spectrum_samples(ds, 16, "midpoint")
    valid = valid_spectrum_mask(ds).values
    assert len(early) == valid[:, :3].sum() and len(everything) == valid.sum()  # fractions 0, 0.2, 0.4
    final_only, _ = spectrum_samples(ds, 16, "midpoint", (1.0, 1.0))
    assert len(final_only) == valid[:, -1].sum()
    fit = train_aelle(ds, replace(FAST, epochs=3, training_fractions=(0.0, 0.4)), num_threads=1)
    assert fit.config.training_fractions == (0.0, 0.4)
    assert set(networks) == set(fit.split.index)


def _all_diverged_after(ds: xr.Dataset, checkpoint: int) -> xr.Dataset:
    """``ds`` with every network diverged from ``checkpoint`` on (NaN spectra and losses there)."""
    diverged = ds["checkpoint"] >= checkpoint
    ds = ds.copy()
    ds["diverged"] = ds["diverged"] | diverged
    ds["val_loss"] = ds["val_loss"].where(~diverged)
    ds["exponents"] = ds["exponents"].where(~diverged)
    return ds


def test_not_fitted_when_every_network_diverged_and_the_reason_survives_the_model_file(ds, tmp_path) -> None:
    from lyapunov_rnn.aelle import AelleNotFitted, save_not_fitted

    with pytest.raises(AelleNotFitted, match="every network diverged: none of the 90 networks has a finite final"):
        train_aelle(_all_diverged_after(ds, 1), FAST)  # the spectra of epoch 0 exist, no final loss does
    with pytest.raises(AelleNotFitted, match="0 of the 90 networks have a finite spectrum .* needs at least 3"):
        train_aelle(_all_diverged_after(ds, 0), FAST)
    path = save_not_fitted(tmp_path / "model.pt", "every network diverged", FAST)
    with pytest.raises(AelleNotFitted, match="^every network diverged$"):
        AelleFit.load(path)
