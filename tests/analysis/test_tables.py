"""Markdown tables."""

from __future__ import annotations

import numpy as np
import pandas as pd

from lyapunov_rnn.analysis.tables import to_markdown


def test_to_markdown() -> None:
    df = pd.DataFrame({"method": ["a|b", "c"], "f1": [0.12345, np.nan], "n": [3, 4]})
    text = to_markdown(df)
    lines = text.strip().splitlines()
    assert lines[0] == "| method | f1 | n |"
    assert lines[1] == "|---|---|---|"
    assert lines[2] == "| a\\|b | 0.123 | 3 |"
    assert lines[3] == "| c |  | 4 |"
