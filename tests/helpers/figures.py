"""Reading figures back in tests."""

from __future__ import annotations

from matplotlib.axes import Axes
from matplotlib.figure import Figure


def panels(fig: Figure) -> list[Axes]:
    """The axes of ``fig`` that are plots: not colour bars, not axes switched off (a legend's panel)."""
    return [ax for ax in fig.axes if ax.get_label() != "<colorbar>" and ax.axison]
