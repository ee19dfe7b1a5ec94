"""Lyapunov spectra of the networks at one checkpoint."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import xarray as xr
from matplotlib.figure import Figure

from lyapunov_rnn.plots.base import architecture_order, exponent_label, init_norm, new_figure, p_colorbar

__all__ = ["plot_spectra"]


def plot_spectra(ds: xr.Dataset, checkpoint: int = -1, cmap: str = "viridis") -> Figure:
    """Lyapunov spectra per architecture at one checkpoint.

    One panel per architecture: exponent index i vs λ_i (in the dataset's
    units), one line per network coloured by ``init_param`` (log scale when
    all positive), so the effect of p reads directly off the colours.
    Diverged (NaN) spectra are not drawn; the title counts them.

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
    names = at["architecture"].values.astype(str)
    architectures = architecture_order(names)
    fig, axes = new_figure(len(architectures))  # own y scales: a saturated RNN reaches -80, an LSTM -30
    norm = init_norm(at["init_param"].values)
    colormap = plt.get_cmap(cmap)
    index = at["exponent"].values
    for ax, arch in zip(axes, architectures, strict=True):
        members = names == arch
        spectra = at["exponents"].transpose("network", "exponent").values[members]
        order = np.argsort(at["init_param"].values[members])
        drawn = 0
        for spectrum, p in zip(spectra[order], at["init_param"].values[members][order], strict=True):
            if np.isfinite(spectrum).any():
                ax.plot(index, spectrum, color=colormap(norm(p)), lw=0.9, alpha=0.8)
                drawn += 1
        ax.axhline(0.0, color="0.3", lw=0.6, ls=":")
        missing = int(members.sum()) - drawn
        title = f"{arch} (n = {drawn}" + (f", {missing} diverged)" if missing else ")")
        ax.set(title=title, xlabel="exponent index $i$", ylabel=exponent_label(ds))
    fig.suptitle(f"Lyapunov spectra at epoch {int(at['epoch'])}")
    p_colorbar(fig, norm, colormap, list(axes))
    return fig
