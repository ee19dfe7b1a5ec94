"""How the networks trained: final performance against the initialisation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr
from matplotlib.figure import Figure

from lyapunov_rnn.plots.base import P_LABEL, architecture_palette, log_if_positive, new_figure

__all__ = ["plot_accuracy_vs_init"]


def plot_accuracy_vs_init(ds: xr.Dataset) -> Figure:
    """Final validation accuracy vs the init parameter p, hue architecture.

    Diverged networks (NaN accuracy) are drawn at accuracy 0 with an ``x``
    marker. The x axis is logarithmic when all init parameters are positive.
    """
    final = ds["val_accuracy"].isel(checkpoint=-1).values
    diverged = ~np.isfinite(final)
    data = pd.DataFrame(
        {
            "init_param": ds["init_param"].values,
            "accuracy": np.where(diverged, 0.0, final),
            "architecture": ds["architecture"].values.astype(str),
        }
    )
    fig, axes = new_figure(1, width=6.0, height=4.0)
    ax = axes[0]
    palette = architecture_palette(data["architecture"])
    for architecture, color in palette.items():
        members = data[(data["architecture"] == architecture) & ~diverged]
        ax.scatter(members["init_param"], members["accuracy"], color=color, alpha=0.8, label=architecture)
    if diverged.any():
        ax.scatter(
            data["init_param"][diverged], data["accuracy"][diverged], marker="x", color="0.3",
            label="diverged (drawn at 0)",
        )
    log_if_positive(ax, data["init_param"], "x")
    ax.set(
        xlabel=P_LABEL, ylabel="final validation accuracy (fraction)", ylim=(-0.05, 1.05),
        title="Final accuracy vs initialisation",
    )
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize="small")
    return fig
