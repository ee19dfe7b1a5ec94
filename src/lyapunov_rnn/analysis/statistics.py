"""Statistics of the spectra and their rank correlation with the final loss (Vogt et al. 2022).

"On Lyapunov Exponents for RNNs" relates simple statistics of a network's
spectrum (largest exponent, mean, spread, sum) to how well it trains. A
network whose training diverged (NaN/Inf final loss) is ranked worst (final
loss ``+inf``) in the Spearman correlations, which carry percentile bootstrap
intervals over networks. No torch here.
"""

from __future__ import annotations

import warnings
import zlib
from collections.abc import Sequence

import numpy as np
import pandas as pd
import xarray as xr
from scipy.stats import ConstantInputWarning, DegenerateDataWarning, bootstrap, rankdata, spearmanr

from lyapunov_rnn.dataset import final_loss_for_ranking, valid_spectrum_mask

__all__ = ["correlation_table", "spectrum_statistics"]


def spectrum_statistics(ds: xr.Dataset) -> xr.Dataset:
    """Summary statistics of each (network, checkpoint) spectrum.

    Parameters
    ----------
    ds : xr.Dataset
        Experiment dataset with ``exponents`` (network, checkpoint, exponent).

    Returns
    -------
    xr.Dataset
        ``le_max``, ``le_mean``, ``le_std`` (population std, ddof=0) and
        ``le_sum`` over the finite exponents, in the units of ``ds`` (its ``units``
        attribute; nats per step if it has none), with the
        network/checkpoint coordinates of ``ds``; NaN where the spectrum is
        not valid (see :func:`lyapunov_rnn.dataset.valid_spectrum_mask`).
    """
    exponents = ds["exponents"].where(valid_spectrum_mask(ds))
    stats = xr.Dataset(
        {
            "le_max": exponents.max("exponent"),
            "le_mean": exponents.mean("exponent"),
            "le_std": exponents.std("exponent", ddof=0),
            "le_sum": exponents.sum("exponent", min_count=1),
        }
    )
    unit = ds.attrs.get("units", ds["exponents"].attrs.get("units", "nats per step"))
    for name, label in (("le_max", "largest"), ("le_mean", "mean"), ("le_std", "std"), ("le_sum", "sum")):
        stats[name].attrs = {"units": unit, "long_name": f"{label} Lyapunov exponent"}
    return stats


def _spearman(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Spearman (rho, p) of usable pairs (:func:`_usable_pairs`); NaN where undefined."""
    if _undefined(x, y):
        return float("nan"), float("nan")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConstantInputWarning)
        result = spearmanr(x, y)
    return float(result.statistic), float(result.pvalue)


def _usable_pairs(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The pairs with a finite statistic ``x`` and a non-NaN final loss ``y`` (``+inf``: diverged, ranked worst)."""
    keep = np.isfinite(x) & ~np.isnan(y)
    return x[keep], y[keep]


def _undefined(x: np.ndarray, y: np.ndarray) -> bool:
    """True when a rank correlation of the pairs is undefined: fewer than 3, or a constant variable."""
    return bool(_undefined_reason(x, y, x.size))


def _undefined_reason(x: np.ndarray, y: np.ndarray, networks: int) -> str:
    """Why a rank correlation of the usable pairs of a group of ``networks`` is undefined; ``""`` when it is defined."""
    if networks < 3:
        return f"{networks} networks, fewer than 3"
    if x.size < 3:
        return f"{x.size} of the {networks} networks have a valid spectrum here, fewer than 3 (the others diverged)"
    if np.unique(y).size < 2:
        if np.isinf(y).all():
            return "every network diverged: their final losses (+inf) are all equal"
        return "every network has the same final loss"
    if np.ptp(x) == 0:
        return "every network has the same value of the statistic"
    return ""


def _rank_correlation(x: np.ndarray, y: np.ndarray, axis: int = -1) -> np.ndarray:
    """Spearman rho along ``axis`` of many samples at once, for :func:`scipy.stats.bootstrap`.

    Pearson correlation of the average ranks (as :func:`scipy.stats.spearmanr`
    ties them; ``+inf`` ranks last); NaN for a sample in which either variable
    is constant.
    """
    ranks_x = np.moveaxis(rankdata(x, axis=axis), axis, -1)
    ranks_y = np.moveaxis(rankdata(y, axis=axis), axis, -1)
    ranks_x = ranks_x - ranks_x.mean(axis=-1, keepdims=True)
    ranks_y = ranks_y - ranks_y.mean(axis=-1, keepdims=True)
    covariance = (ranks_x * ranks_y).sum(axis=-1)
    scale = np.sqrt((ranks_x**2).sum(axis=-1) * (ranks_y**2).sum(axis=-1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(scale > 0, covariance / scale, np.nan)


def _spearman_interval(
    x: np.ndarray, y: np.ndarray, *, resamples: int, confidence: float, rng: np.random.Generator
) -> tuple[float, float]:
    """Percentile bootstrap interval of Spearman rho over usable pairs (:func:`_usable_pairs`) resampled together.

    Resamples in which rho is undefined (every drawn network has the same
    statistic or the same final loss, likely only for a handful of networks)
    are left out of the percentiles; NaN where rho itself is undefined.
    """
    if _undefined(x, y):
        return float("nan"), float("nan")
    with warnings.catch_warnings():
        # scipy's own interval is NaN when a replicate is; the percentiles below leave those out.
        warnings.simplefilter("ignore", DegenerateDataWarning)
        result = bootstrap(
            (x, y), _rank_correlation, paired=True, vectorized=True, n_resamples=resamples,
            confidence_level=confidence, method="percentile", rng=rng,
        )  # fmt: skip
    alpha = (1.0 - confidence) / 2.0
    low, high = np.nanquantile(result.bootstrap_distribution, [alpha, 1.0 - alpha])
    return float(low), float(high)


def correlation_table(
    ds: xr.Dataset,
    statistics: Sequence[str] = ("le_max", "le_mean", "le_std", "le_sum"),
    *,
    resamples: int = 2000,
    seed: int = 0,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Spearman correlation of spectrum statistics with the final validation loss, with bootstrap intervals.

    For every checkpoint and statistic of :func:`spectrum_statistics`, the
    rank correlation across networks between the statistic at that checkpoint
    and the final validation loss (diverged networks ranked worst, ``+inf``),
    per architecture and over all networks (``architecture == "all"``). Its
    interval is the ``confidence`` percentile bootstrap over networks, a
    network's statistic and final loss resampled together.

    Parameters
    ----------
    ds : xr.Dataset
        Experiment dataset.
    statistics : sequence of str
        Variables of :func:`spectrum_statistics`.
    resamples : int
        Bootstrap resamples per interval.
    seed : int
        Seed of the resampling; each (checkpoint, statistic, group) draws
        from its own generator (seeded with ``seed``, the checkpoint and the
        names), so a cell does not change when others are added or removed.
    confidence : float
        Confidence level of the intervals, in (0, 1).

    Returns
    -------
    pd.DataFrame
        Columns ``architecture, checkpoint, epoch, training_fraction,
        statistic, rho, p_value, n, rho_low, rho_high, note`` (``n``:
        networks used; rho, p and the interval NaN when fewer than 3 or a
        constant input, and ``note`` then says which, e.g. that every
        network diverged; empty otherwise).
    """
    stats = spectrum_statistics(ds)
    final = final_loss_for_ranking(ds).to_numpy()
    architecture = ds["architecture"].values.astype(str)
    groups = {"all": np.ones(architecture.size, bool)}
    groups.update({name: architecture == name for name in np.unique(architecture)})
    rows = []
    for checkpoint in range(ds.sizes["checkpoint"]):
        for statistic in statistics:
            values = stats[statistic].isel(checkpoint=checkpoint).values
            for group, members in groups.items():
                x, y = _usable_pairs(values[members], final[members])
                rho, p_value = _spearman(x, y)
                low, high = _spearman_interval(
                    x, y, resamples=resamples, confidence=confidence,
                    rng=np.random.default_rng([seed, checkpoint, zlib.crc32(f"{group}/{statistic}".encode())]),
                )  # fmt: skip
                rows.append(
                    {
                        "architecture": group,
                        "checkpoint": checkpoint,
                        "epoch": int(ds["epoch"].values[checkpoint]),
                        "training_fraction": float(ds["training_fraction"].values[checkpoint]),
                        "statistic": statistic,
                        "rho": rho,
                        "p_value": p_value,
                        "n": x.size,
                        "rho_low": low,
                        "rho_high": high,
                        "note": _undefined_reason(x, y, int(members.sum())),
                    }
                )
    return pd.DataFrame(rows)
