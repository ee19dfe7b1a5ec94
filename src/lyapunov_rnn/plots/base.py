"""What every figure shares: the figure factory, labels read from the data, colour scales, saving.

Every ``plot_*`` function of :mod:`lyapunov_rnn.plots` builds a fresh
:class:`matplotlib.figure.Figure` (not registered with pyplot, so there is no
global figure state and any backend works) and returns it; :func:`save_figure`
writes PNG + PDF atomically. Seaborn's style is applied through a context
manager, never globally. Axis units come from the dataset's ``units``
attribute (:func:`units_of`): an experiment run with ``convention:
reference`` is in bits per step, the default in nats per step.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns
import xarray as xr
from matplotlib.axes import Axes
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Colormap, LogNorm, Normalize
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from lyapunov_rnn.io import atomic_path

__all__ = [
    "ARCHITECTURE_ORDER",
    "P_LABEL",
    "STATISTIC_SYMBOLS",
    "architecture_order",
    "architecture_palette",
    "exponent_label",
    "init_norm",
    "log_if_positive",
    "new_figure",
    "p_colorbar",
    "save_figure",
    "statistic_label",
    "units_of",
]

STYLE = "whitegrid"
#: One name for the initialisation parameter in every figure.
P_LABEL = r"$p$ (weights $\sim U(-p,\ p)$)"
#: The order architectures appear in, in every figure (others follow alphabetically).
ARCHITECTURE_ORDER = ("rnn", "lstm", "gru", "asrnn", "cornn")
#: Typeset symbol of each spectrum statistic (:func:`lyapunov_rnn.analysis.statistics.spectrum_statistics`).
STATISTIC_SYMBOLS = {
    "le_max": r"largest exponent $\lambda_1$",
    "le_mean": r"mean exponent $\bar\lambda$",
    "le_std": r"spread of exponents $\sigma_\lambda$",
    "le_sum": r"sum of exponents $\sum_i \lambda_i$",
}
_SHORT_UNITS = {"nats per step": "nats/step", "bits per step": "bits/step"}


def units_of(ds: xr.Dataset | xr.DataArray, default: str = "nats per step") -> str:
    """Units of the exponents of ``ds`` as an axis label writes them (``"nats/step"``, ``"bits/step"``).

    Read from the ``units`` attribute of the dataset (or of its ``exponents``
    variable); ``default`` only for data that carries none.
    """
    unit = ds.attrs.get("units")
    if unit is None and isinstance(ds, xr.Dataset) and "exponents" in ds:
        unit = ds["exponents"].attrs.get("units")
    unit = str(unit or default)
    return _SHORT_UNITS.get(unit, unit)


def exponent_label(ds: xr.Dataset | xr.DataArray, symbol: str = r"$\lambda_i$") -> str:
    """Axis label of Lyapunov exponents, e.g. ``"Lyapunov exponent $\\lambda_i$ (nats/step)"``."""
    return f"Lyapunov exponent {symbol} ({units_of(ds)})"


def statistic_label(statistic: str, ds: xr.Dataset | xr.DataArray) -> str:
    """Axis label of a spectrum statistic with its symbol and the units of ``ds``."""
    return f"{STATISTIC_SYMBOLS.get(statistic, statistic)} ({units_of(ds)})"


def architecture_order(values: Iterable[str]) -> list[str]:
    """The distinct architectures of ``values`` in :data:`ARCHITECTURE_ORDER` (unknown ones last, sorted)."""
    present = {str(value) for value in values}
    known = [arch for arch in ARCHITECTURE_ORDER if arch in present]
    return known + sorted(present - set(known))


def architecture_palette(values: Iterable[str]) -> dict[str, tuple[float, float, float]]:
    """One seaborn colour per architecture of ``values``, in :func:`architecture_order`."""
    return dict(zip(architecture_order(values), sns.color_palette(), strict=False))


def init_norm(values: np.ndarray) -> Normalize:
    """Log colour scale for positive init parameters, linear otherwise."""
    values = np.asarray(values, dtype=float)
    low, high = float(np.nanmin(values)), float(np.nanmax(values))
    if low > 0 and high > low:
        return LogNorm(low, high)
    return Normalize(low, high if high > low else low + 1.0)


def p_colorbar(fig: Figure, norm: Normalize, colormap: Colormap, axes: Axes | list[Axes]) -> None:
    """The colour bar of ``init_param`` beside ``axes``, labelled :data:`P_LABEL`, ticks as plain numbers.

    On a log scale the ticks read 0.2, 0.5, 1, 2, 5 rather than 2x10^-1 ...;
    over a decade or more only the minor ticks at 2 and 5 times a power of
    ten are labelled, because all eight would overlap.
    """
    colorbar = fig.colorbar(ScalarMappable(norm=norm, cmap=colormap), ax=axes, label=P_LABEL)
    colorbar.ax.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    every_minor = isinstance(norm, LogNorm) and norm.vmax < 10 * norm.vmin
    colorbar.ax.yaxis.set_minor_formatter(
        FuncFormatter(lambda value, _: f"{value:g}" if every_minor or f"{value:.0e}"[0] in "25" else "")
    )


def new_figure(
    ncols: int, width: float = 4.2, height: float = 3.6, nrows: int = 1, **subplots
) -> tuple[Figure, np.ndarray]:
    """A constrained-layout figure with ``nrows`` x ``ncols`` seaborn-styled axes.

    Returns the figure and its axes: a 1-D array for one row, else 2-D
    (``nrows``, ``ncols``). ``subplots`` go to :meth:`Figure.subplots` (e.g. ``sharey``).
    """
    with sns.axes_style(STYLE):
        fig = Figure(figsize=(width * ncols, height * nrows), layout="constrained")
        axes = fig.subplots(nrows, ncols, squeeze=False, **subplots)
    return fig, axes[0] if nrows == 1 else axes


def log_if_positive(ax: plt.Axes, values: np.ndarray, axis: str) -> None:
    """Log scale on ``axis`` ("x"/"y") when all finite values are positive, ticks as plain numbers (0.1, 1, 10)."""
    finite = np.asarray(values, dtype=float)
    finite = finite[np.isfinite(finite)]
    if finite.size and finite.min() > 0:
        getattr(ax, f"set_{axis}scale")("log")
        getattr(ax, f"{axis}axis").set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))


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
