"""Tables for reports: GitHub markdown from data frames, and the table that says why there is none."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from lyapunov_rnn.io import atomic_path

__all__ = ["to_markdown", "unavailable_table", "write_table"]


def _cell(value: object, floatfmt: str) -> str:
    """One markdown table cell."""
    if isinstance(value, (float, np.floating)):
        return "" if np.isnan(value) else format(value, floatfmt)
    return str(value).replace("|", "\\|")


def to_markdown(df: pd.DataFrame, floatfmt: str = ".3g") -> str:
    """Render ``df`` (columns only, not the index) as a GitHub markdown table.

    Floats are formatted with ``floatfmt``; NaN gives an empty cell; ``|`` in
    text is escaped. Call ``df.reset_index()`` first to include the index.
    """
    header = [_cell(str(c), floatfmt) for c in df.columns]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    for row in df.itertuples(index=False):
        lines.append("| " + " | ".join(_cell(v, floatfmt) for v in row) + " |")
    return "\n".join(lines) + "\n"


def unavailable_table(reason: str) -> pd.DataFrame:
    """The table written in place of one that cannot be computed: one column ``reason``, one row saying why.

    The workflow writes it, e.g. when every network diverged and AeLLE was
    not trained, so that the run finishes and the table explains itself.
    """
    return pd.DataFrame({"reason": [str(reason)]})


def write_table(table: pd.DataFrame, summary: str, csv: str | Path, markdown: str | Path) -> None:
    """Write a result table as CSV (every column) and its markdown ``summary``, each file atomically."""
    with atomic_path(csv) as temporary:
        table.to_csv(temporary, index=False)
    with atomic_path(markdown) as temporary:
        temporary.write_text(summary)
