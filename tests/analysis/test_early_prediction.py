"""Early prediction: labels, thresholds chosen without test networks, the table."""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from lyapunov_rnn.aelle import AelleFit
from lyapunov_rnn.analysis.early_prediction import (
    TABLE_COLUMNS,
    classify,
    early_prediction_table,
    high_accuracy_labels,
    select_threshold,
    stage_checkpoints,
)


def test_labels_and_stages(ds: xr.Dataset) -> None:
    labels = high_accuracy_labels(ds)
    assert labels.sum() == ds.sizes["network"] // 2
    diverged = ds["diverged"].isel(checkpoint=-1).to_series()
    assert not labels[diverged].any()
    assert stage_checkpoints(ds, (0.0, 0.1, 0.5, 1.0)) == [0, 0, 2, 5]  # 0.5 ties -> first


def test_select_threshold_and_classify() -> None:
    scores = np.array([0.1, 0.2, 0.3, 0.8, 0.9, np.nan])
    labels = np.array([True, True, True, False, False, False])
    direction, threshold = select_threshold(scores, labels)
    assert direction == "below" and 0.3 < threshold < 0.8
    np.testing.assert_array_equal(classify(scores, direction, threshold), labels)
    direction, threshold = select_threshold(-scores, labels)
    assert direction == "above" and -0.8 < threshold < -0.3


def test_table_columns_and_ranges(table: pd.DataFrame, fit: AelleFit) -> None:
    assert tuple(table.columns) == TABLE_COLUMNS
    assert set(table["method"]) == {"AeLLE", "val_loss", "LE max", "LE mean", "LE std"}
    assert len(table) == 4 * 5
    for column in ("recall", "precision", "f1"):
        assert table[column].between(0, 1).all()
    assert (table["n_test"] == (fit.split == "test").sum()).all()
    assert set(table["training_fraction"]) == {0.0, 0.4, 1.0}
    assert set(table["direction"]) <= {"below", "above"}


def test_aelle_and_le_max_beat_chance(table: pd.DataFrame) -> None:
    """Spectra carry the signal: F1 well above the ~0.5 of a coin flip."""
    f1 = table.set_index(["stage", "method"])["f1"]
    for stage in (0.0, 0.5):
        assert f1[(stage, "LE max")] > 0.7
        assert f1[(stage, "AeLLE")] > 0.7


def test_test_split_untouched(ds: xr.Dataset, fit: AelleFit, table: pd.DataFrame) -> None:
    """Permuting the test networks' outcomes changes metrics, never the chosen rules."""
    test = np.flatnonzero((fit.split.reindex(ds["network"].values) == "test").to_numpy())
    permuted = ds.copy(deep=True)
    order = np.random.default_rng(0).permutation(test)
    for variable in ("val_loss", "val_accuracy"):
        values = permuted[variable].values
        values[test, -1] = values[order, -1]
    # the median over all networks is unchanged by a permutation among test networks
    other = early_prediction_table(permuted, fit, stages=(0.0, 0.1, 0.5, 1.0))
    rules = ["stage", "method", "direction", "threshold"]
    pd.testing.assert_frame_equal(other[rules], table[rules])
    assert not np.allclose(other["f1"], table["f1"])
