"""How the Lyapunov spectra move during training (Vogt et al. 2022, "On Lyapunov Exponents for RNNs")."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import xarray as xr
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from lyapunov_rnn.analysis.statistics import spectrum_statistics
from lyapunov_rnn.dataset import valid_spectrum_mask
from lyapunov_rnn.plots.base import architecture_order, exponent_label, init_norm, new_figure, p_colorbar

__all__ = ["nearest_checkpoints", "plot_largest_exponent_over_training", "plot_spectra_over_training"]


def nearest_checkpoints(ds: xr.Dataset, epochs: Sequence[float]) -> list[int]:
    """Positional indices of the checkpoints nearest to ``epochs``, without repeats, in training order.

    A requested epoch the dataset lacks falls on its nearest checkpoint (the
    earlier one on a tie); two requests on the same checkpoint give it once.
    """
    available = ds["epoch"].values.astype(float)
    return sorted({int(np.argmin(np.abs(available - float(epoch)))) for epoch in epochs})


def plot_spectra_over_training(
    ds: xr.Dataset, epochs: Sequence[float] = (0, 1, 2, 5, 10), cmap: str = "viridis"
) -> Figure:
    """Lyapunov spectra at several epochs, one row per architecture and one column per epoch.

    Each panel plots exponent index i against λ_i (in the dataset's units),
    one line per network coloured by ``init_param`` (log scale when all
    positive), so a row shows how training moves an architecture's spectra
    and for which p. The y axis is shared along a row; a dotted line marks
    0. Spectra that are not valid (diverged) are not drawn; the panel title
    counts them.

    Parameters
    ----------
    ds : xr.Dataset
        Experiment dataset.
    epochs : sequence of float
        Epochs to show; each falls on the nearest checkpoint the dataset has
        (:func:`nearest_checkpoints`) and its column is titled with that
        checkpoint's epoch.
    cmap : str
        Matplotlib colormap for ``init_param``.
    """
    checkpoints = nearest_checkpoints(ds, epochs)
    names = ds["architecture"].values.astype(str)
    architectures = architecture_order(names)
    fig, axes = new_figure(
        len(checkpoints), width=3.0, height=2.6, nrows=len(architectures), sharex="row", sharey="row"
    )
    axes = np.asarray(axes).reshape(len(architectures), len(checkpoints))
    init_param = ds["init_param"].values
    norm = init_norm(init_param)
    colormap = plt.get_cmap(cmap)
    exponents = ds["exponents"].transpose("network", "checkpoint", "exponent").values
    valid = valid_spectrum_mask(ds).transpose("network", "checkpoint").values
    index = ds["exponent"].values
    epoch_of = ds["epoch"].values
    for row, arch in zip(axes, architectures, strict=True):
        members = np.flatnonzero(names == arch)
        members = members[np.argsort(init_param[members], kind="stable")]  # large p drawn on top
        for ax, checkpoint in zip(row, checkpoints, strict=True):
            drawn = members[valid[members, checkpoint]]
            segments = []
            for network in drawn:
                spectrum = exponents[network, checkpoint]
                finite = np.isfinite(spectrum)  # NaN padding beyond the network's state size
                segments.append(np.column_stack([index[finite], spectrum[finite]]))
            lines = LineCollection(segments, cmap=colormap, norm=norm, linewidths=0.9, alpha=0.8)
            lines.set_array(init_param[drawn])
            ax.add_collection(lines)
            ax.autoscale_view()
            ax.axhline(0.0, color="0.3", lw=0.6, ls=":")
            missing = members.size - drawn.size
            ax.set_title(f"{arch}, epoch {int(epoch_of[checkpoint])}" + (f" ({missing} diverged)" if missing else ""))
            ax.set_xlabel("exponent index $i$")
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        row[0].set_ylabel(exponent_label(ds))
    fig.suptitle("Lyapunov spectra over training, per architecture")
    p_colorbar(fig, norm, colormap, axes.ravel().tolist())
    return fig


def plot_largest_exponent_over_training(ds: xr.Dataset, cmap: str = "viridis") -> Figure:
    """Largest Lyapunov exponent λ_1 against epoch, one panel per architecture.

    One line per network coloured by ``init_param`` (log scale when all
    positive): whether training pulls λ_1 towards 0 (the edge of chaos) and
    from which p. Each panel has its own y scale; a dotted line marks 0.
    Checkpoints whose spectrum is not valid (diverged) leave a gap in their
    network's line (λ_1 as :func:`lyapunov_rnn.analysis.statistics.spectrum_statistics`
    computes it).

    Parameters
    ----------
    ds : xr.Dataset
        Experiment dataset.
    cmap : str
        Matplotlib colormap for ``init_param``.
    """
    largest = spectrum_statistics(ds)["le_max"].transpose("network", "checkpoint").values
    names = ds["architecture"].values.astype(str)
    architectures = architecture_order(names)
    fig, axes = new_figure(len(architectures))  # each its own scale: ASRNN's λ_1 hardly leaves 0
    init_param = ds["init_param"].values
    norm = init_norm(init_param)
    colormap = plt.get_cmap(cmap)
    epochs = ds["epoch"].values
    for ax, arch in zip(axes, architectures, strict=True):
        members = np.flatnonzero(names == arch)
        for network in members[np.argsort(init_param[members], kind="stable")]:
            ax.plot(
                epochs, largest[network], color=colormap(norm(init_param[network])), lw=0.9, alpha=0.8,
                marker="o", markersize=2.5,
            )  # fmt: skip
        ax.axhline(0.0, color="0.3", lw=0.6, ls=":")
        gaps = int(np.isnan(largest[members]).any(axis=1).sum())
        ax.set_title(f"{arch} (n = {members.size}" + (f", {gaps} with diverged checkpoints)" if gaps else ")"))
        ax.set(xlabel="epoch", ylabel=exponent_label(ds, r"$\lambda_1$"))
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    fig.suptitle(r"Largest Lyapunov exponent $\lambda_1$ over training")
    p_colorbar(fig, norm, colormap, list(axes))
    return fig

