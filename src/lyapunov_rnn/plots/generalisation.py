"""Generalisation to novel inputs: the AeLLE latent space and early prediction on spectra from unseen sequences."""

from __future__ import annotations

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

from lyapunov_rnn.analysis.generalisation import INPUT_SETS
from lyapunov_rnn.plots.base import architecture_order, new_figure

__all__ = ["plot_novel_inputs"]

#: Colour of the networks that end with a below-median (high) and an above-median (low) final loss.
LABEL_COLOURS = {True: "#1b9e77", False: "#d95f02"}
INPUT_NAMES = {"fitted": "fitted inputs", "novel": "novel inputs"}
MARKER_SIZES = (8, 40)


def _embedding_panel(ax, points: pd.DataFrame, inputs: str, method: str) -> None:
    """The latent codes of one input set, coloured by the high/low label; marker size grows with training."""
    data = points[(points["inputs"] == inputs) & np.isfinite(points[["dim1", "dim2"]]).all(axis=1)]
    for high, label in ((True, "high: final loss < median"), (False, "low: final loss ≥ median")):
        group = data[data["high"].astype(bool) == high]
        ax.scatter(
            group["dim1"], group["dim2"], s=np.interp(group["training_fraction"], (0, 1), MARKER_SIZES),
            color=LABEL_COLOURS[high], alpha=0.75, linewidths=0, label=label,
        )  # fmt: skip
    where = "fitted on these codes" if inputs == "fitted" else "embedding of the fitted inputs, applied"
    ax.set(
        xlabel=f"{method} 1 (a.u.)", ylabel=f"{method} 2 (a.u.)",
        title=f"AeLLE latent codes, {INPUT_NAMES[inputs]}\n({where})",
    )  # fmt: skip


def _f1_panel(ax, table: pd.DataFrame) -> None:
    """AeLLE's test F1 per stage on both input sets, with the 95 % bootstrap intervals."""
    rows = table[table["method"] == "AeLLE"]
    stages = rows.drop_duplicates("training_fraction").sort_values("training_fraction")
    fractions = stages["training_fraction"].tolist()
    for number, inputs in enumerate(INPUT_SETS):
        part = rows[rows["inputs"] == inputs].drop_duplicates("training_fraction").set_index("training_fraction")
        positions = np.array([fractions.index(fraction) for fraction in part.index]) + (number - 0.5) * 0.2
        errors = np.abs(np.vstack([part["f1"] - part["f1_low"], part["f1_high"] - part["f1"]]))
        ax.errorbar(
            positions, part["f1"], yerr=errors, fmt="o" if inputs == "fitted" else "s", ms=5, capsize=3, lw=1,
            label=INPUT_NAMES[inputs],
        )  # fmt: skip
    n_test, n_high = int(rows["n_test"].iloc[0]), int(rows["n_high"].iloc[0])
    ax.axhline(2 * n_high / (n_test + n_high), color="0.4", ls="--", lw=1, label="all predicted high")
    ax.set_xticks(range(len(fractions)))
    ax.set_xticklabels(
        [f"{fraction:.0%}\n(epoch {epoch})" for fraction, epoch in zip(fractions, stages["epoch"], strict=True)]
    )
    ax.set(
        ylim=(-0.02, 1.05), xlabel="spectrum at (fraction of training, epoch)", ylabel="F1 on the test networks",
        title=f"AeLLE predicting a below-median final loss\n(n_test = {n_test}, {n_high} high; 95 % intervals)",
    )  # fmt: skip
    ax.legend(loc="lower right", fontsize="small")


def _leading_panel(ax, leading: pd.DataFrame, units: str) -> None:
    """lambda_1 from the novel inputs against lambda_1 from the fitted inputs, one point per (network, checkpoint)."""
    sns.scatterplot(
        data=leading, x="fitted", y="novel", hue="architecture", hue_order=architecture_order(leading["architecture"]),
        s=14, alpha=0.7, linewidth=0, ax=ax,
    )  # fmt: skip
    values = leading[["fitted", "novel"]].to_numpy(float)
    low, high = np.nanmin(values), np.nanmax(values)
    ax.plot([low, high], [low, high], color="0.4", ls="--", lw=1, label="equal")
    correlation = np.corrcoef(values[:, 0], values[:, 1])[0, 1] if len(values) > 1 else float("nan")
    ax.set(
        xlabel=rf"$\lambda_1$, fitted inputs ({units})", ylabel=rf"$\lambda_1$, novel inputs ({units})",
        title=f"Largest Lyapunov exponent of each checkpoint\nfrom the two input sets (Pearson r = {correlation:.3f})",
    )  # fmt: skip
    ax.legend(loc="upper left", fontsize="small")


def plot_novel_inputs(
    points: pd.DataFrame, table: pd.DataFrame, leading: pd.DataFrame, *, units: str, method: str = "PCA"
) -> Figure:
    """Does the AeLLE latent space generalise to novel inputs? Four panels.

    Top: the latent codes of every (network, checkpoint) in one 2-D
    embedding fitted on the spectra of the fitted inputs (left), and the
    codes of the same checkpoints' spectra from the novel input sequences
    mapped into it (right, same axes), coloured by the label early
    prediction predicts (final validation loss below the median of the
    training and validation networks); marker size grows with the training
    fraction. Bottom left: AeLLE's F1 on the test networks per stage on both
    input sets, rules fitted on the first; bottom right: lambda_1 of each
    checkpoint from the novel against the fitted inputs.

    Parameters
    ----------
    points : pd.DataFrame
        :func:`lyapunov_rnn.analysis.generalisation.novel_inputs_embedding`.
    table : pd.DataFrame
        :func:`lyapunov_rnn.analysis.generalisation.novel_inputs_table`.
    leading : pd.DataFrame
        :func:`lyapunov_rnn.analysis.generalisation.leading_exponents`.
    units : str
        Units of the exponents as axis labels write them (:func:`lyapunov_rnn.plots.base.units_of`).
    method : str
        Name of the embedding, for axis labels.
    """
    fig, axes = new_figure(2, width=5.2, height=4.4, nrows=2)
    for ax, inputs in zip(axes[0], INPUT_SETS, strict=True):
        _embedding_panel(ax, points, inputs, method)
    finite = points[np.isfinite(points[["dim1", "dim2"]]).all(axis=1)]
    if len(finite):
        for axis in ("dim1", "dim2"):
            low, high = finite[axis].min(), finite[axis].max()
            pad = 0.05 * (high - low or 1.0)
            for ax in axes[0]:
                getattr(ax, "set_xlim" if axis == "dim1" else "set_ylim")(low - pad, high + pad)
    axes[0, 1].legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize="small", title="final loss")
    _f1_panel(axes[1, 0], table)
    _leading_panel(axes[1, 1], leading, units)
    fig.suptitle("Generalisation to novel inputs: rules fitted on the spectra of one set of test sequences, "
                 "applied to spectra from another")
    return fig
