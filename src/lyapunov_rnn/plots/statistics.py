"""Statistics of the spectrum against the final loss: at one checkpoint, and their rank correlation over training."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import seaborn as sns
import xarray as xr
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from lyapunov_rnn.analysis.statistics import correlation_table, spectrum_statistics
from lyapunov_rnn.dataset import final_loss_for_ranking
from lyapunov_rnn.plots.base import (
    STATISTIC_SYMBOLS,
    architecture_order,
    log_if_positive,
    new_figure,
    statistic_label,
)

__all__ = ["plot_correlations_over_training", "plot_statistic_correlations"]


def plot_statistic_correlations(
    ds: xr.Dataset,
    checkpoint: int = 0,
    statistics: Sequence[str] = ("le_max", "le_mean"),
    table: pd.DataFrame | None = None,
) -> Figure:
    """Spectrum statistics at one checkpoint vs final validation loss.

    One scatter panel per statistic, hue architecture; the title gives the
    Spearman rho over all networks (diverged networks ranked worst, see
    :func:`lyapunov_rnn.analysis.statistics.correlation_table`; they cannot be drawn and
    are counted in the title). The loss axis is logarithmic when positive.

    Parameters
    ----------
    ds : xr.Dataset
        Experiment dataset.
    checkpoint : int
        Positional checkpoint index (default 0: at initialisation).
    statistics : sequence of str
        Variables of :func:`lyapunov_rnn.analysis.statistics.spectrum_statistics`.
    table : pd.DataFrame, optional
        :func:`lyapunov_rnn.analysis.statistics.correlation_table` of ``ds``
        when already computed (it is computed otherwise).
    """
    stats = spectrum_statistics(ds).isel(checkpoint=checkpoint)
    checkpoint = range(ds.sizes["checkpoint"])[checkpoint]
    rho = (
        (correlation_table(ds, statistics) if table is None else table)
        .query("architecture == 'all' and checkpoint == @checkpoint")
        .set_index("statistic")["rho"]
    )
    final = final_loss_for_ranking(ds)
    data = pd.DataFrame(
        {"architecture": ds["architecture"].values.astype(str), "final_loss": final.to_numpy()}
    )
    fig, axes = new_figure(len(statistics))
    for ax, statistic in zip(axes, statistics, strict=True):
        x = stats[statistic].values
        keep = np.isfinite(x)
        shown = data.assign(x=x)[keep & np.isfinite(data["final_loss"])]
        sns.scatterplot(
            data=shown, x="x", y="final_loss", hue="architecture",
            hue_order=architecture_order(data["architecture"]), ax=ax, alpha=0.8,
        )
        log_if_positive(ax, shown["final_loss"], "y")
        n_diverged = int((keep & ~np.isfinite(data["final_loss"])).sum())
        ax.set(
            xlabel=statistic_label(statistic, ds), ylabel="final validation loss",
            title=rf"Spearman $\rho$ = {rho[statistic]:.2f} (n={int(keep.sum())}, {n_diverged} diverged)",
        )
    fig.suptitle(f"Spectrum statistics at epoch {int(ds['epoch'].values[checkpoint])} vs final loss")
    return fig


def plot_correlations_over_training(table: pd.DataFrame, ds: xr.Dataset, confidence: float = 0.95) -> Figure:
    """Spearman rho of each spectrum statistic with the final loss, at every checkpoint.

    One panel for all networks and one per architecture: epoch against rho,
    one line per statistic with its bootstrap interval shaded, and a line at
    0. It shows from how early in training a statistic of the spectrum ranks
    the networks by how well they end up (positive rho: a larger statistic,
    a worse final loss). Titles give the networks per panel (fewer at
    checkpoints where some diverged).

    Parameters
    ----------
    table : pd.DataFrame
        :func:`lyapunov_rnn.analysis.statistics.correlation_table` of ``ds``.
    ds : xr.Dataset
        The experiment dataset the table was computed from.
    confidence : float
        Confidence level of the table's intervals, for the title.
    """
    groups = ["all", *architecture_order(table.loc[table["architecture"] != "all", "architecture"])]
    ncols = len(groups) if len(groups) <= 3 else 2 if len(groups) == 4 else 3
    nrows = -(-len(groups) // ncols)
    fig, axes = new_figure(ncols, width=4.2, height=3.4, nrows=nrows, sharey=True)
    axes = np.ravel(axes)
    statistics = list(dict.fromkeys(table["statistic"]))
    colours = sns.color_palette("colorblind", len(statistics))
    # Markers and dashes too: the mean and the sum coincide where all state sizes are equal.
    styles = {
        statistic: {"color": colour, "marker": "osD^"[number % 4], "ls": ("-", "--", "-.", ":")[number % 4]}
        for number, (statistic, colour) in enumerate(zip(statistics, colours, strict=True))
    }
    for ax, group in zip(axes, groups, strict=False):
        rows = table[table["architecture"] == group]
        for statistic in statistics:
            line = rows[rows["statistic"] == statistic].sort_values("epoch")
            style = styles[statistic]
            ax.fill_between(line["epoch"], line["rho_low"], line["rho_high"], color=style["color"], alpha=0.2, lw=0)
            ax.plot(
                line["epoch"], line["rho"], **style, markersize=3.5, lw=1.3,
                label=STATISTIC_SYMBOLS.get(statistic, statistic),
            )  # fmt: skip
        ax.axhline(0.0, color="0.3", lw=0.8)
        low, high = int(rows["n"].min()), int(rows["n"].max())
        name = "all networks" if group == "all" else group
        ax.set(
            title=f"{name} (n = {high})" if low == high else f"{name} (n = {low}–{high})",
            xlabel="epoch", ylabel=r"Spearman $\rho$ with final loss", ylim=(-1.05, 1.05),
        )  # fmt: skip
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    for ax in axes[len(groups) :]:
        fig.delaxes(ax)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=len(statistics), frameon=False)
    experiment = ds.attrs.get("experiment")
    fig.suptitle(
        "Rank correlation of spectrum statistics with the final validation loss over training"
        + (f" ({experiment})" if experiment else "")
        + f"\n{confidence:.0%} bootstrap intervals over networks; diverged networks ranked worst"
    )
    return fig
