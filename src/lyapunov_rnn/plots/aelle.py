"""The AeLLE model's figures: its latent space and its training curves."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from lyapunov_rnn.plots.base import architecture_palette, init_norm, new_figure, p_colorbar

__all__ = ["plot_latent_embedding", "plot_training_curves"]

LOSS_COMPONENTS = ("total", "reconstruction", "prediction")
#: Marker areas (points^2) of the first and the last checkpoint.
MARKER_SIZES = (8.0, 40.0)


def plot_latent_embedding(
    embedding: np.ndarray, frame: pd.DataFrame, *, method: str = "PCA", cmap: str = "viridis"
) -> Figure:
    """AeLLE latent space in 2-D, coloured three ways.

    Panels: coloured by final validation accuracy, by architecture and by init
    parameter (log colour scale when positive). Marker size grows with
    ``training_fraction`` (small = early checkpoints); missing values (e.g.
    the final accuracy of a diverged network) are grey.

    Parameters
    ----------
    embedding : np.ndarray, shape (n, 2)
        2-D embedding of the latent codes (e.g. :func:`lyapunov_rnn.analysis.embedding.embed`).
    frame : pd.DataFrame
        n rows aligned with ``embedding``, with columns ``final_val_accuracy``
        (fraction in [0, 1]), ``architecture``, ``init_param`` and
        ``training_fraction`` (e.g. :func:`lyapunov_rnn.aelle.latent_frame`).
    method : str
        Name of the embedding, used in axis labels.
    cmap : str
        Colormap of the continuous panels.
    """
    data = frame.reset_index(drop=True).assign(dim1=embedding[:, 0], dim2=embedding[:, 1])
    data = data[np.isfinite(data[["dim1", "dim2"]]).all(axis=1)]
    sizes = np.interp(data["training_fraction"], (0, 1), MARKER_SIZES)
    fig, axes = new_figure(3, width=4.6, height=4.0)
    colormap = plt.get_cmap(cmap).with_extremes(bad="0.7")
    accuracy, by_architecture, by_p = axes
    accuracy_norm = Normalize(0.0, 1.0)
    accuracy.scatter(
        data["dim1"], data["dim2"], c=colormap(accuracy_norm(data["final_val_accuracy"].to_numpy(float))),
        s=sizes, alpha=0.8, linewidths=0,
    )
    fig.colorbar(
        ScalarMappable(norm=accuracy_norm, cmap=colormap), ax=accuracy, label="final validation accuracy (fraction)"
    )
    accuracy.set_title("coloured by final validation accuracy")
    p_norm = init_norm(data["init_param"])
    by_p.scatter(
        data["dim1"], data["dim2"], c=colormap(p_norm(data["init_param"].to_numpy(float))), s=sizes, alpha=0.8,
        linewidths=0,
    )
    p_colorbar(fig, p_norm, colormap, by_p)
    by_p.set_title("coloured by $p$")
    palette = architecture_palette(data["architecture"])
    for architecture, color in palette.items():
        members = (data["architecture"] == architecture).to_numpy()
        by_architecture.scatter(
            data["dim1"][members], data["dim2"][members], color=color, s=sizes[members], alpha=0.8, linewidths=0,
            label=architecture,
        )
    by_architecture.set_title("coloured by architecture")
    architectures = by_architecture.legend(
        loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize="small", title="architecture"
    )
    by_architecture.add_artist(architectures)
    marker_sizes = [
        Line2D([], [], ls="", marker="o", color="0.4", markersize=np.sqrt(np.interp(f, (0, 1), MARKER_SIZES)),
               label=f"{f:.0%}")
        for f in (0.0, 0.5, 1.0)
    ]
    by_architecture.legend(
        handles=marker_sizes, loc="lower left", bbox_to_anchor=(1.0, 0.0), fontsize="small",
        title="fraction of\ntraining",
    )
    for ax in axes:
        ax.set(xlabel=f"{method} 1 (a.u.)", ylabel=f"{method} 2 (a.u.)")
    fig.suptitle("AeLLE latent space (marker size: fraction of training; grey: no value, e.g. diverged)")
    return fig


def plot_training_curves(history: pd.DataFrame) -> Figure:
    """AeLLE losses vs epoch for the train and val splits (log y).

    Epochs where the prediction weight α of a schedule changes are marked with
    dotted lines (the total loss jumps there by construction).

    Parameters
    ----------
    history : pd.DataFrame
        :attr:`lyapunov_rnn.aelle.AelleFit.history` (columns ``epoch, split,
        alpha, total, reconstruction, prediction``).
    """
    fig, axes = new_figure(len(LOSS_COMPONENTS))
    ylabels = {
        "total": "L1 + α·MSE (standardised units)",
        "reconstruction": "L1 reconstruction (standardised units)",
        "prediction": "MSE of scaled final loss",
    }
    alpha = history.drop_duplicates("epoch").set_index("epoch")["alpha"].sort_index()
    alpha_steps = alpha[alpha.ne(alpha.shift()) & alpha.index.to_series().gt(alpha.index.min())]
    for ax, component in zip(axes, LOSS_COMPONENTS, strict=True):
        sns.lineplot(data=history, x="epoch", y=component, hue="split", ax=ax)
        ax.set(yscale="log", xlabel="epoch", ylabel=ylabels[component], title=f"{component} loss")
        for epoch, value in alpha_steps.items():
            ax.axvline(epoch, color="grey", linestyle=":", linewidth=1)
            if component == "total":
                ax.annotate(f"α={value:g}", (epoch, 1), xycoords=("data", "axes fraction"), xytext=(2, -12),
                            textcoords="offset points", fontsize="x-small", color="grey")
    fig.suptitle("AeLLE training")
    return fig
