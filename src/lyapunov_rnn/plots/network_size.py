"""Experiments with several hidden sizes: the latent space, AeLLE's predictions and the final loss by size."""

from __future__ import annotations

import numpy as np
import pandas as pd
import seaborn as sns
import xarray as xr
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import NullFormatter
from scipy.stats import spearmanr

from lyapunov_rnn.dataset import final_values
from lyapunov_rnn.plots.base import P_LABEL, architecture_order, log_if_positive, new_figure

__all__ = ["plot_network_size", "size_palette"]

SIZE_TITLE = "hidden size $N$"


def size_palette(sizes: np.ndarray, cmap: str = "viridis") -> dict[int, tuple[float, float, float]]:
    """One colour per distinct hidden size, ordered from small (dark) to large (light)."""
    distinct = sorted({int(size) for size in np.asarray(sizes)})
    return dict(zip(distinct, sns.color_palette(cmap, n_colors=len(distinct)), strict=True))


def _scatter_by_size(ax, data: pd.DataFrame, x: str, y: str, palette: dict, **style) -> None:
    """Scatter ``data`` coloured by its ``hidden_size`` column."""
    ax.scatter(data[x], data[y], c=[palette[int(size)] for size in data["hidden_size"]], **style)


def _share_init_axis(axes: np.ndarray, init_param: np.ndarray) -> None:
    """The same p axis on every panel: log when positive, and only the decades labelled when it spans one."""
    low, high = float(np.nanmin(init_param)), float(np.nanmax(init_param))
    for ax in axes:
        log_if_positive(ax, init_param, "x")
        if ax.get_xscale() == "log":
            ax.set_xlim(low / 1.25, high * 1.25)
            if high / low >= 10:
                ax.xaxis.set_minor_formatter(NullFormatter())
        else:
            pad = 0.05 * (high - low) or 1.0
            ax.set_xlim(low - pad, high + pad)


def plot_network_size(
    ds: xr.Dataset, frame: pd.DataFrame, embedding: np.ndarray, *, method: str = "PCA", cmap: str = "viridis"
) -> Figure:
    """Latent space, predicted vs actual final loss and final loss vs p, coloured by hidden size.

    Top row: the 2-D embedding of the AeLLE latent codes, and AeLLE's
    predicted against the actual final validation loss of the same samples
    with the identity line; test networks are drawn solid with a black edge
    (their Spearman ρ in the title), training and validation networks faded.
    Networks whose training diverged have no actual final loss and are
    counted in the title. Bottom row, one panel per architecture on one p
    axis: final validation loss against p (log x when positive); diverged
    networks are marked ``x`` on a dotted line above the largest finite loss.

    Parameters
    ----------
    ds : xr.Dataset
        Experiment dataset.
    frame : pd.DataFrame
        Samples to show in the top row (e.g. :func:`lyapunov_rnn.aelle.latent_frame`
        at the AeLLE's training checkpoints), with columns ``hidden_size``,
        ``split``, ``predicted_final_loss`` and ``final_val_loss``.
    embedding : np.ndarray, shape (len(frame), 2)
        2-D embedding of the samples' latent codes.
    method : str
        Name of the embedding, for the axis labels.
    cmap : str
        Colormap the hidden sizes are drawn from.
    """
    palette = size_palette(ds["hidden_size"].values, cmap)
    architectures = architecture_order(ds["architecture"].values.astype(str))
    # At least three columns: the top row's third panel holds the legend.
    fig, axes = new_figure(max(3, len(architectures)), width=4.4, height=4.0, nrows=2)
    for ax in [*axes[0, 3:], *axes[1, len(architectures):]]:
        fig.delaxes(ax)
    data = frame.reset_index(drop=True).assign(dim1=embedding[:, 0], dim2=embedding[:, 1])
    test = data["split"].eq("test").to_numpy()
    faded = {"s": 12, "alpha": 0.3, "linewidths": 0}
    solid = {"s": 28, "alpha": 0.9, "edgecolors": "black", "linewidths": 0.5}

    ax = axes[0, 0]
    _scatter_by_size(ax, data[~test], "dim1", "dim2", palette, **faded)
    _scatter_by_size(ax, data[test], "dim1", "dim2", palette, **solid)
    ax.set(xlabel=f"{method} 1 (a.u.)", ylabel=f"{method} 2 (a.u.)", title="AeLLE latent space by hidden size")

    ax = axes[0, 1]
    known = data[np.isfinite(data["final_val_loss"]) & np.isfinite(data["predicted_final_loss"])]
    known_test = known["split"].eq("test").to_numpy()
    _scatter_by_size(ax, known[~known_test], "final_val_loss", "predicted_final_loss", palette, **faded)
    _scatter_by_size(ax, known[known_test], "final_val_loss", "predicted_final_loss", palette, **solid)
    values = known[["final_val_loss", "predicted_final_loss"]].to_numpy()
    if values.size:
        ax.plot([values.min(), values.max()], [values.min(), values.max()], color="0.3", lw=1, ls="--")
    test_values = values[known_test]
    rankable = len(test_values) >= 3 and np.ptp(test_values, axis=0).all()  # ρ needs variation in both
    rho = (
        f"Spearman $\\rho$ = {spearmanr(test_values[:, 0], test_values[:, 1]).statistic:.2f}"
        if rankable else "Spearman $\\rho$ undefined"
    )
    unknown = len(data) - len(known)
    ax.set(
        xlabel="actual final validation loss", ylabel="predicted final validation loss",
        title=f"AeLLE prediction; test ({int(known_test.sum())} samples): {rho}"
        + (f"\n{unknown} samples of diverged networks not shown" if unknown else ""),
    )

    final = pd.DataFrame(
        {
            "architecture": ds["architecture"].values.astype(str),
            "hidden_size": ds["hidden_size"].values.astype(int),
            "init_param": ds["init_param"].values.astype(float),
            "final_loss": final_values(ds, "val_loss").values,
        }
    )
    diverged = ~np.isfinite(final["final_loss"])
    # Diverged networks have no loss: drawn as x on a line just above the largest finite one, every panel alike.
    top = 1.08 * np.nanmax(np.where(diverged, np.nan, final["final_loss"])) if (~diverged).any() else 1.0
    final = final.assign(shown_loss=final["final_loss"].where(~diverged, top))
    for ax, arch in zip(axes[1], architectures, strict=False):
        members = final["architecture"] == arch
        n_diverged = int((members & diverged).sum())
        _scatter_by_size(ax, final[members & ~diverged], "init_param", "shown_loss", palette, s=22, alpha=0.85,
                         linewidths=0)
        _scatter_by_size(ax, final[members & diverged], "init_param", "shown_loss", palette, marker="x", s=30,
                         linewidths=1.2)
        if diverged.any():
            ax.axhline(top, color="0.6", lw=0.6, ls=":")
        ax.set(
            xlabel=P_LABEL, ylabel="final validation loss",
            title=f"{arch} (n = {int(members.sum())}" + (f", {n_diverged} diverged: x at top)" if n_diverged else ")"),
        )
    _share_init_axis(axes[1, : len(architectures)], final["init_param"].to_numpy())
    handles = [Line2D([], [], ls="", marker="o", color=colour, label=str(size)) for size, colour in palette.items()]
    handles += [
        Line2D([], [], ls="", marker="o", color="0.5", markeredgecolor="black", label="test network"),
        Line2D([], [], ls="", marker="o", color="0.5", alpha=0.3, label="training/validation"),
        Line2D([], [], ls="", marker="x", color="0.3", label="diverged"),
    ]
    axes[0, 2].set_axis_off()
    axes[0, 2].legend(handles=handles, title=SIZE_TITLE, loc="upper left")
    fig.suptitle("Network size: AeLLE's latent space and predictions, and the final loss vs $p$, by hidden size")
    return fig
