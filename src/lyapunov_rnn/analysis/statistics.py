"""Statistics of the spectra and their rank correlation with the final loss (Vogt et al. 2022).

"On Lyapunov Exponents for RNNs" relates simple statistics of a network's
spectrum (largest exponent, mean, spread, sum) to how well it trains. A
network whose training diverged (NaN/Inf final loss) is ranked worst (final
loss ``+inf``) in the Spearman correlations. No torch here.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd
import xarray as xr
from scipy.stats import ConstantInputWarning, spearmanr

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
        ``le_sum`` over the finite exponents, in nats per step, with the
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
    for name, label in (("le_max", "largest"), ("le_mean", "mean"), ("le_std", "std"), ("le_sum", "sum")):
        stats[name].attrs = {"units": "nats per step", "long_name": f"{label} Lyapunov exponent"}
    return stats


def _spearman(x: np.ndarray, y: np.ndarray) -> tuple[float, float, int]:
    """Spearman (rho, p, n) over pairs with finite ``x`` and non-NaN ``y``."""
    keep = np.isfinite(x) & ~np.isnan(y)
    x, y = x[keep], y[keep]
    if keep.sum() < 3 or np.ptp(x) == 0 or np.unique(y).size < 2:
        return float("nan"), float("nan"), int(keep.sum())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConstantInputWarning)
        result = spearmanr(x, y)
    return float(result.statistic), float(result.pvalue), int(keep.sum())


def correlation_table(
    ds: xr.Dataset, statistics: Sequence[str] = ("le_max", "le_mean", "le_std", "le_sum")
) -> pd.DataFrame:
    """Spearman correlation of spectrum statistics with the final validation loss.

    For every checkpoint and statistic of :func:`spectrum_statistics`, the
    rank correlation across networks between the statistic at that checkpoint
    and the final validation loss (diverged networks ranked worst, ``+inf``),
    per architecture and over all networks (``architecture == "all"``).

    Returns
    -------
    pd.DataFrame
        Columns ``architecture, checkpoint, epoch, training_fraction,
        statistic, rho, p_value, n`` (``n``: networks used; rho/p NaN when
        fewer than 3 or a constant input).
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
                rho, p_value, n = _spearman(values[members], final[members])
                rows.append(
                    {
                        "architecture": group,
                        "checkpoint": checkpoint,
                        "epoch": int(ds["epoch"].values[checkpoint]),
                        "training_fraction": float(ds["training_fraction"].values[checkpoint]),
                        "statistic": statistic,
                        "rho": rho,
                        "p_value": p_value,
                        "n": n,
                    }
                )
    return pd.DataFrame(rows)
