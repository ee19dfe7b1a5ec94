"""Tests for lyapunov_rnn.aelle (resampling, AeLLE training, embeddings).

Also defines :func:`make_dataset`, the synthetic experiment used by
``test_analysis.py`` and ``test_plots.py``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
import xarray as xr

from lyapunov_rnn.aelle import (
    AeLLE,
    AelleFit,
    embed,
    resample_spectra,
    split_networks,
    train_aelle,
    valid_spectrum_mask,
)

ARCH_STATE = {"rnn": (8, 8), "gru": (8, 8), "lstm": (8, 16)}  # hidden size, state size


def make_dataset(n_per_arch: int = 30, epochs: int = 5, seed: int = 0) -> xr.Dataset:
    """Synthetic experiment in which the final loss grows with the max exponent.

    Each network has an init parameter ``g`` (log-uniform in [0.1, 10]); its
    largest exponent is ``log g`` plus noise and drifts slightly in training.
    The final validation loss increases monotonically with that exponent, so
    spectra carry real signal about performance. Networks with ``g > 7``
    diverge at the last checkpoint (NaN spectra and losses).
    """
    rng = np.random.default_rng(seed)
    architectures = np.repeat(list(ARCH_STATE), n_per_arch)
    n = architectures.size
    hidden = np.array([ARCH_STATE[a][0] for a in architectures])
    state = np.array([ARCH_STATE[a][1] for a in architectures])
    k_max = int(state.max())
    g = np.exp(rng.uniform(np.log(0.1), np.log(10.0), n))
    fraction = np.arange(epochs + 1) / epochs

    lam_max0 = np.log(g) + rng.normal(0, 0.3, n)
    drift = rng.normal(0, 0.1, n)
    lam_max = lam_max0[:, None] + drift[:, None] * fraction[None, :]  # (n, C)
    spacing = rng.uniform(0.1, 0.3, n)
    exponents = np.full((n, epochs + 1, k_max), np.nan)
    for i in range(n):
        steps = np.arange(state[i])
        exponents[i, :, : state[i]] = lam_max[i][:, None] - spacing[i] * steps[None, :]

    final = 0.2 + 0.4 * np.exp(0.6 * lam_max[:, -1]) + rng.normal(0, 0.08, n)
    initial = 2.0 + rng.normal(0, 0.1, n)
    val_loss = final[:, None] + (initial - final)[:, None] * np.exp(-4 * fraction)[None, :]
    diverged = np.zeros((n, epochs + 1), bool)
    diverged[g > 7.0, -1] = True
    val_loss[diverged] = np.nan
    exponents[diverged] = np.nan
    accuracy = np.clip(1.0 - val_loss / 2.5, 0.0, 1.0)

    networks = [f"{a}-{i:03d}" for i, a in enumerate(architectures)]
    return xr.Dataset(
        {
            "exponents": (("network", "checkpoint", "exponent"), exponents),
            "exponents_sem": (("network", "checkpoint", "exponent"), 0.01 * np.abs(exponents)),
            "val_loss": (("network", "checkpoint"), val_loss),
            "val_accuracy": (("network", "checkpoint"), accuracy),
            "diverged": (("network", "checkpoint"), diverged),
        },
        coords={
            "network": networks,
            "architecture": ("network", architectures),
            "task": ("network", np.full(n, "synthetic")),
            "hidden_size": ("network", hidden),
            "init_param": ("network", g),
            "seed": ("network", np.arange(n)),
            "state_size": ("network", state),
            "checkpoint": np.arange(epochs + 1),
            "epoch": ("checkpoint", np.arange(epochs + 1)),
            "training_fraction": ("checkpoint", fraction),
            "exponent": np.arange(1, k_max + 1),
        },
        attrs={"units": "nats per step", "experiment": "synthetic"},
    )


FAST = dict(epochs=60, hidden_dim=32, latent_dim=4, alpha=(10.0, 20.0), batch_size=64, num_threads=1)


@pytest.fixture(scope="module")
def ds() -> xr.Dataset:
    return make_dataset()


@pytest.fixture(scope="module")
def fit(ds: xr.Dataset) -> AelleFit:
    return train_aelle(ds, seed=0, **FAST)


# ----------------------------------------------------------------- resampling
def test_midpoint_resampling_exact_length_endpoints_order() -> None:
    spectra = np.array(
        [[0.5, 0.1, -0.3, -1.0, np.nan, np.nan], [0.2, -0.1, -0.4, -0.6, -0.9, -2.0]]
    )
    for length in (6, 7, 11, 13, 100, 1024):
        out = resample_spectra(spectra, length, method="midpoint")
        assert out.shape == (2, length)
        np.testing.assert_allclose(out[:, 0], [0.5, 0.2])
        np.testing.assert_allclose(out[:, -1], [-1.0, -2.0])
        assert np.all(np.diff(out, axis=1) <= 0)
    # a full doubling pass inserts exact midpoints
    np.testing.assert_allclose(
        resample_spectra(spectra[:1], 7), [[0.5, 0.3, 0.1, -0.1, -0.3, -0.65, -1.0]]
    )


def test_midpoint_cannot_shorten_and_linear_can() -> None:
    spectra = np.linspace(1, -1, 10)[None, :]
    with pytest.raises(ValueError):
        resample_spectra(spectra, 5, method="midpoint")
    out = resample_spectra(spectra, 5, method="linear")
    np.testing.assert_allclose(out, np.linspace(1, -1, 5)[None, :])


def test_equal_lengths_unchanged() -> None:
    spectra = np.sort(np.random.default_rng(0).normal(size=(4, 9)), axis=1)[:, ::-1]
    for method in ("linear", "midpoint"):
        np.testing.assert_allclose(resample_spectra(spectra, 9, method=method), spectra)
    np.testing.assert_allclose(resample_spectra(spectra, None), spectra)
    ragged = spectra.copy()
    ragged[0, -1] = np.nan
    with pytest.raises(ValueError):
        resample_spectra(ragged, None)


def test_all_nan_rows_and_single_exponent() -> None:
    spectra = np.array([[np.nan, np.nan], [0.3, np.nan]])
    out = resample_spectra(spectra, 4, method="linear")
    assert np.isnan(out[0]).all()
    np.testing.assert_allclose(out[1], 0.3)


# ----------------------------------------------------------------- model + fit
def test_model_shapes() -> None:
    model = AeLLE(20, hidden_dim=8, latent_dim=3)
    rec, pred, z = model(torch.zeros(5, 20))
    assert rec.shape == (5, 20) and pred.shape == (5,) and z.shape == (5, 3)
    assert torch.all((pred > 0) & (pred < 1))


def test_split_by_network_disjoint(fit: AelleFit, ds: xr.Dataset) -> None:
    assert set(fit.split.unique()) == {"train", "val", "test"}
    assert fit.split.index.is_unique
    counts = fit.split.value_counts()
    n = ds.sizes["network"]
    assert abs(counts["train"] - 0.7 * n) <= 1 and abs(counts["test"] - 0.2 * n) <= 1
    assert set(fit.split.index) == set(ds["network"].values)
    labels = split_networks(ds["network"].values, seed=1)
    assert not labels.equals(fit.split)


def test_history_and_reconstruction_decreases(fit: AelleFit) -> None:
    h = fit.history
    assert list(h.columns) == ["epoch", "split", "alpha", "total", "reconstruction", "prediction"]
    assert set(h["split"]) == {"train", "val"}
    assert h["epoch"].max() == FAST["epochs"] - 1
    train = h[h["split"] == "train"].set_index("epoch")
    assert train["reconstruction"].iloc[-5:].mean() < 0.5 * train["reconstruction"].iloc[:3].mean()
    assert train["prediction"].iloc[-1] < train["prediction"].iloc[0]
    np.testing.assert_allclose(train["alpha"].unique(), [10.0, 20.0])


def test_determinism(ds: xr.Dataset, fit: AelleFit) -> None:
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    threads = torch.get_num_threads()
    again = train_aelle(ds, seed=0, **FAST)
    assert torch.rand(1) == before  # global RNG untouched by training
    assert torch.get_num_threads() == threads  # thread setting restored
    pd.testing.assert_frame_equal(again.history, fit.history)
    spectra = ds["exponents"].isel(checkpoint=0).values
    np.testing.assert_array_equal(again.encode(spectra), fit.encode(spectra))
    pd.testing.assert_series_equal(again.split, fit.split)


def test_encode_predict_to_dataset(fit: AelleFit, ds: xr.Dataset) -> None:
    spectra = ds["exponents"].isel(checkpoint=-1).values
    latent = fit.encode(spectra)
    assert latent.shape == (ds.sizes["network"], 4)
    valid = valid_spectrum_mask(ds).isel(checkpoint=-1).values
    assert np.isfinite(latent[valid]).all() and np.isnan(latent[~valid]).all()
    predicted = fit.predict(spectra)
    assert np.all(predicted[valid] >= fit.target_min - 1e-9)
    assert np.all(predicted[valid] <= fit.target_max + 1e-9)

    out = fit.to_dataset(ds)
    assert out["latent"].dims == ("network", "checkpoint", "latent_dim")
    assert out["predicted_final_loss"].dims == ("network", "checkpoint")
    assert set(out["split"].values) == {"train", "val", "test"}
    np.testing.assert_allclose(out["latent"].isel(checkpoint=-1).values, latent)
    assert "architecture" in out.coords

    frame = fit.latent_frame(ds)
    assert len(frame) == int(valid_spectrum_mask(ds).sum())
    assert {"final_val_accuracy", "architecture", "init_param", "training_fraction", "z0"} <= set(frame)


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
    assert fit.config["input_dim"] == ds.sizes["exponent"] == 16


# ----------------------------------------------------------------- embeddings
def test_embed_pca_and_nan_rows() -> None:
    latent = np.random.default_rng(0).normal(size=(30, 5))
    latent[3] = np.nan
    out = embed(latent, "pca")
    assert out.shape == (30, 2) and np.isnan(out[3]).all() and np.isfinite(np.delete(out, 3, 0)).all()
    with pytest.raises(ValueError):
        embed(latent, "tsne")


def test_embed_umap_small() -> None:
    """Single UMAP call in the suite (first call JIT-compiles, ~30 s)."""
    latent = np.random.default_rng(0).normal(size=(25, 4))
    out = embed(latent, "umap", seed=0)
    assert out.shape == (25, 2) and np.isfinite(out).all()
