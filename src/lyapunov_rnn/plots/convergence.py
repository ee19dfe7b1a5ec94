"""Convergence of the exponent estimate in the sequence length and the number of driving sequences."""

from __future__ import annotations

import numpy as np
import seaborn as sns
import xarray as xr
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from lyapunov_rnn.plots.base import architecture_order, exponent_label, new_figure

__all__ = ["plot_convergence", "shown_exponents"]


def shown_exponents(count: int) -> list[int]:
    """The exponent indices drawn for a spectrum of ``count`` exponents: the first, a middle and the last one."""
    return sorted({1, (count + 1) // 2, count})


def _curves_with_bands(ax: Axes, mean: xr.DataArray, sem: xr.DataArray, dim: str, indices: list[int]) -> None:
    """One line per exponent index against ``dim``, with a +-1 standard-error band where it is defined."""
    x = mean[dim].values
    for index, color in zip(indices, sns.color_palette("colorblind", len(indices)), strict=True):
        centre = mean.sel(exponent=index).values
        spread = sem.sel(exponent=index).values
        ax.plot(x, centre, color=color, lw=1.4, label=rf"$\lambda_{{{index}}}$")
        ax.fill_between(x, centre - spread, centre + spread, color=color, alpha=0.25, lw=0)


def plot_convergence(ds: xr.Dataset) -> Figure:
    """Exponents of one network per architecture against the sequence length T and the sequences averaged n.

    One row per architecture (:func:`~lyapunov_rnn.plots.base.architecture_order`).
    Left: λ_1, a middle exponent and the last computed one
    (:func:`shown_exponents`) from the first T measured steps, mean over the
    driving sequences with a ±1 standard-error band. Right: the same
    exponents over all T, averaged over the first n sequences, with a ±1
    standard-error band, and a dashed line at the configured
    ``lyapunov.sequences`` (the ``sequences`` attribute). Flat curves with
    narrow bands at the task's T and at the configured n mean both are
    enough. Units are read from the data.

    Parameters
    ----------
    ds : xarray.Dataset
        :func:`lyapunov_rnn.convergence.experiment_convergence`'s result
        (``results/<experiment>/convergence.nc``).
    """
    architectures = architecture_order(ds["architecture"].values)
    fig, axes = new_figure(2, width=5.0, height=3.3, nrows=len(architectures))
    axes = np.asarray(axes).reshape(len(architectures), 2)
    configured = int(ds.attrs["sequences"])
    ylabel = exponent_label(ds)
    for (by_length, by_sequences), architecture in zip(axes, architectures, strict=True):
        at = ds.sel(architecture=architecture)
        indices = shown_exponents(int(at["exponent_count"]))
        network = f"{architecture}, N = {int(at['hidden_size'])}, $p$ = {float(at['init_param']):g}"
        _curves_with_bands(by_length, at["exponents_by_length"], at["exponents_by_length_sem"], "steps", indices)
        by_length.set(
            title=f"{network}: by sequence length",
            xlabel=r"measured time steps $T$",
            ylabel=ylabel,
        )
        _curves_with_bands(
            by_sequences, at["exponents_by_sequences"], at["exponents_by_sequences_sem"], "sequences", indices
        )
        by_sequences.axvline(configured, color="0.3", ls="--", lw=1.0, label=f"lyapunov.sequences = {configured}")
        by_sequences.set(
            title=f"{network}: by sequences averaged",
            xlabel=r"driving sequences averaged $n$",
            ylabel=ylabel,
        )
        for ax in (by_length, by_sequences):
            ax.legend(fontsize="small", loc="best")
    warmup = int(ds.attrs.get("warmup", 0))
    after = f" after {warmup} warm-up steps" if warmup else ""
    fig.suptitle(
        "Convergence of the Lyapunov exponents of the median network of each architecture\n"
        f"mean ± 1 SE over {int(ds.sizes['sequences'])} test sequences{after}"
    )
    return fig
