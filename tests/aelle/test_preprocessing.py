"""Resampling spectra to a common length, and the split by network."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from lyapunov_rnn.aelle import AelleFit, resample_spectra, split_networks


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


def test_split_by_network_disjoint(fit: AelleFit, ds: xr.Dataset) -> None:
    assert set(fit.split.unique()) == {"train", "val", "test"}
    assert fit.split.index.is_unique
    counts = fit.split.value_counts()
    n = ds.sizes["network"]
    assert abs(counts["train"] - 0.7 * n) <= 1 and abs(counts["test"] - 0.2 * n) <= 1
    assert set(fit.split.index) == set(ds["network"].values)
    labels = split_networks(ds["network"].values, seed=1)
    assert not labels.equals(fit.split)
