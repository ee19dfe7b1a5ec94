"""A figure that says why there is nothing to show, in place of a figure the workflow must still write.

When every network of an experiment diverged, AeLLE cannot be trained and
several analyses have no data; the workflow then writes this figure under the
expected name, so that the run finishes and the report says why.
"""

from __future__ import annotations

import textwrap

from matplotlib.figure import Figure

from lyapunov_rnn.plots.base import new_figure

__all__ = ["plot_notice"]


def plot_notice(title: str, reason: str, width: int = 80) -> Figure:
    """A figure with ``title`` and, in its middle, ``reason`` wrapped to ``width`` characters a line.

    Parameters
    ----------
    title : str
        What the figure would have shown, e.g. ``"AeLLE latent space"``.
    reason : str
        Why it is empty, e.g. ``"AeLLE was not trained: every network diverged"``.
    width : int
        Characters per line of the wrapped reason.
    """
    fig, axes = new_figure(1, width=7.0, height=2.6)
    ax = axes[0]
    ax.axis("off")
    ax.text(0.5, 0.5, textwrap.fill(reason, width), ha="center", va="center", fontsize=11, wrap=True)
    fig.suptitle(f"{title}: nothing to show")
    return fig
