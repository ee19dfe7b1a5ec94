"""Spectrum statistics and their correlation with the final loss."""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr
from helpers.synthetic import make_dataset
from scipy.stats import spearmanr

from lyapunov_rnn.analysis.statistics import _rank_correlation, correlation_table, spectrum_statistics


def test_spectrum_statistics(ds: xr.Dataset) -> None:
    stats = spectrum_statistics(ds)
    assert set(stats.data_vars) == {"le_max", "le_mean", "le_std", "le_sum"}
    assert stats["le_max"].dims == ("network", "checkpoint")
    x = ds["exponents"].isel(network=0, checkpoint=2).values
    x = x[np.isfinite(x)]
    np.testing.assert_allclose(
        [float(stats[v].isel(network=0, checkpoint=2)) for v in ("le_max", "le_mean", "le_std", "le_sum")],
        [x.max(), x.mean(), x.std(), x.sum()],
    )
    diverged = ds["diverged"].values
    assert np.isnan(stats["le_max"].values[diverged]).all()
    assert np.isfinite(stats["le_max"].values[~diverged]).all()
    assert stats["le_max"].attrs["units"] == "nats per step"


def test_correlation_sign(ds: xr.Dataset) -> None:
    corr = correlation_table(ds)
    assert list(corr.columns) == [
        "architecture", "checkpoint", "epoch", "training_fraction", "statistic", "rho", "p_value", "n",
        "rho_low", "rho_high", "note",
    ]
    assert set(corr["architecture"]) == {"all", "rnn", "gru", "lstm"}
    overall = corr[(corr["architecture"] == "all") & (corr["statistic"] == "le_max")]
    assert (overall["rho"] > 0.8).all() and (overall["p_value"] < 1e-6).all()
    per_arch = corr[(corr["statistic"] == "le_max") & (corr["architecture"] != "all")]
    assert (per_arch["rho"] > 0.5).all()
    last = overall[overall["checkpoint"] == ds.sizes["checkpoint"] - 1]
    assert int(last["n"].iloc[0]) == int((~ds["diverged"].isel(checkpoint=-1)).sum())


def test_correlation_intervals_contain_the_estimate_and_exclude_zero(ds: xr.Dataset) -> None:
    corr = correlation_table(ds)
    finite = corr.dropna(subset=["rho"])
    assert finite[["rho_low", "rho_high"]].notna().all().all()
    assert (finite["rho_low"] <= finite["rho"]).all() and (finite["rho"] <= finite["rho_high"]).all()
    assert (finite["rho_low"] >= -1).all() and (finite["rho_high"] <= 1).all()
    # the synthetic final loss grows with the largest exponent: positive at every checkpoint, interval above 0
    overall = corr.query("architecture == 'all' and statistic == 'le_max'")
    assert len(overall) == ds.sizes["checkpoint"]
    assert (overall["rho_low"] > 0).all()


def test_correlation_intervals_nan_where_rho_undefined(ds: xr.Dataset) -> None:
    constant = ds.copy(deep=True)
    state = constant["state_size"].values
    at_init = constant["exponents"].values[:, 0, :]
    at_init[np.arange(at_init.shape[1])[None, :] < state[:, None]] = -1.0  # the same spectrum for every network
    corr = correlation_table(constant).query("checkpoint == 0 and statistic == 'le_max'")
    assert corr[["rho", "p_value", "rho_low", "rho_high"]].isna().all().all()
    assert (correlation_table(constant).query("checkpoint == 1")["rho_low"].notna()).all()
    two = correlation_table(ds.isel(network=[0, 1]), ("le_max",))
    assert two[["rho", "rho_low", "rho_high"]].isna().all().all() and (two["n"] <= 2).all()


def test_correlation_intervals_shrink_with_more_networks() -> None:
    def widths(n_per_arch: int) -> pd.Series:
        corr = correlation_table(make_dataset(n_per_arch=n_per_arch, seed=3), ("le_mean",))
        overall = corr.query("architecture == 'all'")
        return overall["rho_high"] - overall["rho_low"]

    few, many = widths(8), widths(80)
    assert (many.to_numpy() < few.to_numpy()).all()
    assert many.median() < 0.6 * few.median()  # roughly 1/sqrt(n): sqrt(10) more networks


def test_correlation_intervals_reproducible_per_cell(ds: xr.Dataset) -> None:
    full = correlation_table(ds, resamples=500, seed=4)
    only_max = correlation_table(ds, ("le_max",), resamples=500, seed=4)
    pd.testing.assert_frame_equal(
        full.query("statistic == 'le_max'").reset_index(drop=True), only_max.reset_index(drop=True)
    )
    other_seed = correlation_table(ds, ("le_max",), resamples=500, seed=5)
    assert not np.allclose(other_seed["rho_low"], only_max["rho_low"])
    np.testing.assert_array_equal(other_seed["rho"], only_max["rho"])


def test_rank_correlation_matches_spearman_with_ties_and_diverged() -> None:
    rng = np.random.default_rng(0)
    x = rng.integers(0, 5, size=(6, 20)).astype(float)  # ties
    y = rng.normal(size=(6, 20))
    y[:, :4] = np.inf  # diverged networks, tied at the worst rank
    expected = [spearmanr(row_x, row_y).statistic for row_x, row_y in zip(x, y, strict=True)]
    np.testing.assert_allclose(_rank_correlation(x, y), expected)
    np.testing.assert_allclose(_rank_correlation(x.T, y.T, axis=0), expected)
    assert np.isnan(_rank_correlation(np.ones(5), np.arange(5.0)))


def test_undefined_correlations_say_why():
    """Every network diverged: the final losses tie at +inf, no rank correlation exists, and the table says so."""
    ds = make_dataset(n_per_arch=4, epochs=2)
    diverged = ds["checkpoint"] >= 1
    ds["diverged"] = ds["diverged"] | diverged
    ds["val_loss"] = ds["val_loss"].where(~diverged)
    ds["exponents"] = ds["exponents"].where(~diverged)
    table = correlation_table(ds, ("le_max",), resamples=50)
    assert table["rho"].isna().all()
    at_start, later = table[table["checkpoint"] == 0], table[table["checkpoint"] > 0]
    assert (at_start["note"] == "every network diverged: their final losses (+inf) are all equal").all()
    assert (later["note"] == "0 of the 4 networks have a valid spectrum here, fewer than 3 (the others diverged)")[
        later["architecture"] != "all"
    ].all()
    assert (correlation_table(make_dataset(n_per_arch=4), ("le_max",), resamples=50)["note"] == "").all()
    small = correlation_table(make_dataset(n_per_arch=2), ("le_max",), resamples=50)
    assert (small.loc[small["architecture"] != "all", "note"] == "2 networks, fewer than 3").all()
