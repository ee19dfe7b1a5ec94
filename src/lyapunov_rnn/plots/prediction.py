"""Early prediction of the final performance: F1 per stage and method with intervals."""

from __future__ import annotations

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

from lyapunov_rnn.analysis.early_prediction import method_order
from lyapunov_rnn.plots.base import new_figure

__all__ = ["plot_early_prediction"]


def plot_early_prediction(table: pd.DataFrame) -> Figure:
    """Test F1 per training stage and method, with the 95 % bootstrap intervals.

    One marker per (stage, method), methods side by side within a stage, the
    interval as an error bar. The dashed line is the F1 of predicting every
    test network high accuracy (the chance level of a classifier that always
    says yes).

    Parameters
    ----------
    table : pd.DataFrame
        Output of :func:`lyapunov_rnn.analysis.early_prediction.early_prediction_table`.
    """
    stages = table.drop_duplicates("training_fraction").sort_values("training_fraction")
    methods = method_order(table)
    colors = sns.color_palette(n_colors=len(methods))
    fig, axes = new_figure(1, width=8.0, height=4.2)
    ax = axes[0]
    width = 0.8 / len(methods)
    for number, (method, color) in enumerate(zip(methods, colors, strict=True)):
        rows = table[table["method"] == method].drop_duplicates("training_fraction").set_index("training_fraction")
        positions = [stages["training_fraction"].tolist().index(f) for f in rows.index]
        offset = (number - (len(methods) - 1) / 2) * width
        errors = np.abs(np.vstack([rows["f1"] - rows["f1_low"], rows["f1_high"] - rows["f1"]]))
        ax.errorbar(
            np.asarray(positions) + offset, rows["f1"], yerr=errors, fmt="o", ms=4, capsize=2, lw=1,
            color=color, label=method,
        )
    n_test, n_high = int(table["n_test"].iloc[0]), int(table["n_high"].iloc[0])
    ax.axhline(2 * n_high / (n_test + n_high), color="0.4", ls="--", lw=1, label="all predicted high")
    ax.set_xticks(range(len(stages)))
    ax.set_xticklabels([f"{fraction:.0%}\n(epoch {epoch})" for fraction, epoch in zip(
        stages["training_fraction"], stages["epoch"], strict=True)])
    ax.set(
        ylim=(-0.02, 1.05), xlabel="information available at (fraction of training, epoch)",
        ylabel="F1 on the test networks",
        title=f"Predicting a below-median final loss\n(n_test = {n_test}, {n_high} high; 95 % bootstrap intervals)",
    )
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), title="method", fontsize="small")
    return fig
