"""Spectrum statistics and their correlation with the final loss."""

from __future__ import annotations

import numpy as np
import xarray as xr

from lyapunov_rnn.analysis.statistics import correlation_table, spectrum_statistics


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
    ]
    assert set(corr["architecture"]) == {"all", "rnn", "gru", "lstm"}
    overall = corr[(corr["architecture"] == "all") & (corr["statistic"] == "le_max")]
    assert (overall["rho"] > 0.8).all() and (overall["p_value"] < 1e-6).all()
    per_arch = corr[(corr["statistic"] == "le_max") & (corr["architecture"] != "all")]
    assert (per_arch["rho"] > 0.5).all()
    last = overall[overall["checkpoint"] == ds.sizes["checkpoint"] - 1]
    assert int(last["n"].iloc[0]) == int((~ds["diverged"].isel(checkpoint=-1)).sum())
