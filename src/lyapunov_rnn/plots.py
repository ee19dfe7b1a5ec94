"""Figures of the Lyapunov-spectrum analysis (seaborn on matplotlib).

Every ``plot_*`` function builds a fresh :class:`matplotlib.figure.Figure`
(not registered with pyplot, so there is no global figure state and any
backend works) and returns it; :func:`save_figure` writes PNG + PDF
atomically. Seaborn's style is applied through a context manager, never
globally.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
import xarray as xr
from matplotlib.cm import ScalarMappable
from matplotlib.colors import LogNorm, Normalize
from matplotlib.figure import Figure

from lyapunov_rnn.analysis.early_prediction import method_order
from lyapunov_rnn.analysis.statistics import correlation_table, spectrum_statistics
from lyapunov_rnn.dataset import final_loss_for_ranking
from lyapunov_rnn.io import atomic_path

LE_LABEL = "Lyapunov exponent λ_i (nats/step)"
STAT_LABELS = {
    "le_max": "largest exponent λ_1 (nats/step)",
    "le_mean": "mean exponent (nats/step)",
    "le_std": "std of exponents (nats/step)",
    "le_sum": "sum of exponents (nats/step)",
}
LOSS_COMPONENTS = ("total", "reconstruction", "prediction")
STYLE = "whitegrid"


def _init_norm(values: np.ndarray) -> Normalize:
    """Log colour scale for positive init parameters, linear otherwise."""
    values = np.asarray(values, dtype=float)
    low, high = float(np.nanmin(values)), float(np.nanmax(values))
    if low > 0 and high > low:
        return LogNorm(low, high)
    return Normalize(low, high if high > low else low + 1.0)


def _figure(ncols: int, width: float = 4.2, height: float = 3.6) -> tuple[Figure, np.ndarray]:
    """A constrained-layout figure with one row of ``ncols`` seaborn-styled axes."""
    with sns.axes_style(STYLE):
        fig = Figure(figsize=(width * ncols, height), layout="constrained")
        axes = fig.subplots(1, ncols, squeeze=False)[0]
    return fig, axes


def _log_if_positive(ax: plt.Axes, values: np.ndarray, axis: str) -> None:
    """Use a log scale on ``axis`` ("x"/"y") when all finite values are positive."""
    finite = np.asarray(values, dtype=float)
    finite = finite[np.isfinite(finite)]
    if finite.size and finite.min() > 0:
        getattr(ax, f"set_{axis}scale")("log")


# --------------------------------------------------------------------------- #
# 1. Spectra
# --------------------------------------------------------------------------- #
def plot_spectra(ds: xr.Dataset, checkpoint: int = -1, cmap: str = "viridis") -> Figure:
    """Lyapunov spectra per architecture at one checkpoint.

    One panel per architecture: exponent index i vs λ_i (nats/step), one line
    per network coloured by ``init_param`` (log scale when all positive), and
    the mean ± std over that architecture's networks as a black line and grey
    band. Diverged (NaN) spectra are not drawn.

    Parameters
    ----------
    ds : xr.Dataset
        Experiment dataset.
    checkpoint : int
        Positional checkpoint index (``-1``: the last one).
    cmap : str
        Matplotlib colormap for ``init_param``.
    """
    at = ds.isel(checkpoint=checkpoint)
    architectures = np.unique(at["architecture"].values.astype(str))
    fig, axes = _figure(len(architectures))
    norm = _init_norm(at["init_param"].values)
    colormap = plt.get_cmap(cmap)
    index = at["exponent"].values
    for ax, arch in zip(axes, architectures, strict=True):
        members = at["architecture"].values.astype(str) == arch
        spectra = at["exponents"].transpose("network", "exponent").values[members]
        for spectrum, g in zip(spectra, at["init_param"].values[members], strict=True):
            ax.plot(index, spectrum, color=colormap(norm(g)), lw=0.8, alpha=0.7)
        finite = np.isfinite(spectra).any(axis=0)
        if finite.any():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                mean = np.nanmean(spectra[:, finite], axis=0)
                std = np.nanstd(spectra[:, finite], axis=0)
            ax.fill_between(index[finite], mean - std, mean + std, color="0.5", alpha=0.3, label="mean ± std")
            ax.plot(index[finite], mean, color="k", lw=1.5, label="mean")
            ax.legend(loc="lower left", fontsize="small")
        ax.axhline(0.0, color="0.3", lw=0.6, ls=":")
        ax.set(title=f"{arch} (n={int(members.sum())})", xlabel="exponent index i", ylabel=LE_LABEL)
    fig.suptitle(f"Lyapunov spectra at epoch {int(at['epoch'])}")
    fig.colorbar(ScalarMappable(norm=norm, cmap=colormap), ax=list(axes), label="init parameter")
    return fig


# --------------------------------------------------------------------------- #
# 2. Latent embedding
# --------------------------------------------------------------------------- #
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
    sizes = (8, 40)
    fig, axes = _figure(3, width=4.6, height=4.0)
    colormap = plt.get_cmap(cmap).with_extremes(bad="0.7")
    panels = (
        ("final_val_accuracy", Normalize(0.0, 1.0), "final validation accuracy (fraction)"),
        ("init_param", _init_norm(data["init_param"]), "init parameter"),
    )
    for ax, (column, norm, label) in zip(axes[[0, 2]], panels, strict=True):
        ax.scatter(
            data["dim1"], data["dim2"], c=colormap(norm(data[column].to_numpy(float))),
            s=np.interp(data["training_fraction"], (0, 1), sizes), alpha=0.8, linewidths=0,
        )
        fig.colorbar(ScalarMappable(norm=norm, cmap=colormap), ax=ax, label=label)
        ax.set_title(f"coloured by {label.split(' (')[0]}")
    sns.scatterplot(
        data=data, x="dim1", y="dim2", hue="architecture", size="training_fraction",
        sizes=sizes, size_norm=(0, 1), alpha=0.8, linewidth=0, ax=axes[1],
    )
    axes[1].set_title("coloured by architecture")
    sns.move_legend(axes[1], "upper left", bbox_to_anchor=(1.0, 1.0), fontsize="small")
    for ax in axes:
        ax.set(xlabel=f"{method} 1 (a.u.)", ylabel=f"{method} 2 (a.u.)")
    fig.suptitle("AeLLE latent space (marker size: training fraction; grey: no value, e.g. diverged)")
    return fig


# --------------------------------------------------------------------------- #
# 3. Early prediction
# --------------------------------------------------------------------------- #
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
    fig, axes = _figure(1, width=8.0, height=4.2)
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


# --------------------------------------------------------------------------- #
# 4. Statistic correlations
# --------------------------------------------------------------------------- #
def plot_statistic_correlations(
    ds: xr.Dataset, checkpoint: int = 0, statistics: Sequence[str] = ("le_max", "le_mean")
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
    """
    stats = spectrum_statistics(ds).isel(checkpoint=checkpoint)
    checkpoint = range(ds.sizes["checkpoint"])[checkpoint]
    rho = (
        correlation_table(ds, statistics)
        .query("architecture == 'all' and checkpoint == @checkpoint")
        .set_index("statistic")["rho"]
    )
    final = final_loss_for_ranking(ds)
    data = pd.DataFrame(
        {"architecture": ds["architecture"].values.astype(str), "final_loss": final.to_numpy()}
    )
    fig, axes = _figure(len(statistics))
    for ax, statistic in zip(axes, statistics, strict=True):
        x = stats[statistic].values
        keep = np.isfinite(x)
        shown = data.assign(x=x)[keep & np.isfinite(data["final_loss"])]
        sns.scatterplot(data=shown, x="x", y="final_loss", hue="architecture", ax=ax, alpha=0.8)
        _log_if_positive(ax, shown["final_loss"], "y")
        n_diverged = int((keep & ~np.isfinite(data["final_loss"])).sum())
        ax.set(
            xlabel=STAT_LABELS.get(statistic, statistic), ylabel="final validation loss",
            title=f"Spearman ρ = {rho[statistic]:.2f} (n={int(keep.sum())}, {n_diverged} diverged)",
        )
    fig.suptitle(f"Spectrum statistics at epoch {int(ds['epoch'].values[checkpoint])} vs final loss")
    return fig


# --------------------------------------------------------------------------- #
# 5. AeLLE training curves
# --------------------------------------------------------------------------- #
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
    fig, axes = _figure(len(LOSS_COMPONENTS))
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


# --------------------------------------------------------------------------- #
# 6. Accuracy vs initialisation
# --------------------------------------------------------------------------- #
def plot_accuracy_vs_init(ds: xr.Dataset) -> Figure:
    """Final validation accuracy vs the init parameter, hue architecture.

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
            "outcome": np.where(diverged, "diverged", "trained"),
        }
    )
    fig, axes = _figure(1, width=6.0, height=4.0)
    ax = axes[0]
    sns.scatterplot(
        data=data, x="init_param", y="accuracy", hue="architecture", style="outcome",
        markers={"trained": "o", "diverged": "X"}, alpha=0.8, ax=ax,
    )
    _log_if_positive(ax, data["init_param"], "x")
    ax.set(
        xlabel="init parameter", ylabel="final validation accuracy (fraction)", ylim=(-0.05, 1.05),
        title="Final accuracy vs initialisation",
    )
    return fig


# --------------------------------------------------------------------------- #
# Saving
# --------------------------------------------------------------------------- #
def save_figure(fig: Figure, path_stem: str | Path, dpi: int = 150) -> list[Path]:
    """Write ``fig`` as ``<stem>.png`` (``dpi``) and ``<stem>.pdf``, then close it.

    Each file is written to a temporary file in the same directory and moved
    into place with ``os.replace`` (:func:`lyapunov_rnn.io.atomic_path`).

    Returns
    -------
    list of Path
        The PNG and PDF paths.
    """
    stem = Path(path_stem)
    paths = [stem.with_name(f"{stem.name}.{fmt}") for fmt in ("png", "pdf")]
    try:
        for path in paths:
            with atomic_path(path) as temporary:
                fig.savefig(temporary, format=path.suffix[1:], dpi=dpi)
    finally:
        plt.close(fig)
    return paths
