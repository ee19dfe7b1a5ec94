"""Early prediction: labels and thresholds set without test networks, frozen rules, intervals, the table."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from lyapunov_rnn.aelle import AelleFit
from lyapunov_rnn.analysis.early_prediction import (
    FROZEN_METHODS,
    REFIT_METHOD,
    TABLE_COLUMNS,
    bootstrap_intervals,
    classify,
    early_prediction_table,
    high_accuracy_labels,
    select_threshold,
    stage_checkpoints,
    summary_markdown,
)

STAGES = (0.0, 0.1, 0.5, 1.0)  # checkpoints 0, 0, 2, 5 of the synthetic experiment


def test_labels_and_stages(ds: xr.Dataset, fit: AelleFit) -> None:
    split = fit.split.reindex(ds["network"].values)
    labels = high_accuracy_labels(ds, split)
    known = split.isin(["train", "val"]).to_numpy()
    assert labels[known].sum() == known.sum() // 2  # the median of the training and validation networks
    diverged = ds["diverged"].isel(checkpoint=-1).to_series()
    assert not labels[diverged].any()
    assert stage_checkpoints(ds, STAGES) == [0, 0, 2, 5]  # 0.5 ties -> first
    with pytest.raises(ValueError, match="median"):
        high_accuracy_labels(ds, split.where(~known, "test"))


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
    assert set(table["method"]) == {*FROZEN_METHODS, REFIT_METHOD}
    # 8 methods at 4 stages, but no validation loss at 0 % (stages 0.0 and 0.1 are both epoch 0 here)
    assert len(table) == 4 * 8 - 2
    assert not ((table["training_fraction"] == 0) & (table["method"] == "validation loss")).any()
    for metric in ("recall", "precision", "f1"):
        assert table[metric].between(0, 1).all()
        assert (table[f"{metric}_low"] <= table[metric] + 1e-12).all()
        assert (table[f"{metric}_high"] >= table[metric] - 1e-12).all()
        assert table[[f"{metric}_low", f"{metric}_high"]].stack().between(0, 1).all()
    n_test = (fit.split == "test").sum()
    assert (table["n_test"] == n_test).all() and table["n_high"].between(1, n_test - 1).all()
    assert set(table["training_fraction"]) == {0.0, 0.4, 1.0}
    assert set(table["direction"]) <= {"below", "above"}


def test_frozen_rules_are_the_same_at_every_stage(table: pd.DataFrame) -> None:
    """The published protocol: one classifier, fitted once, applied unchanged to every stage."""
    frozen = table[table["method"].isin(FROZEN_METHODS)]
    rules = frozen.groupby("method")[["direction", "threshold"]].nunique()
    assert (rules == 1).all().all()
    refit = table[table["method"] == REFIT_METHOD].drop_duplicates("training_fraction")
    assert refit["threshold"].nunique() > 1  # the per-stage refit does change


def test_aelle_and_le_max_beat_chance(table: pd.DataFrame) -> None:
    """Spectra carry the signal: F1 well above the ~0.5 of a coin flip."""
    f1 = table.set_index(["stage", "method"])["f1"]
    for stage in (0.0, 0.5):
        assert f1[(stage, "LE max")] > 0.7
        assert f1[(stage, "AeLLE")] > 0.7
        assert f1[(stage, "logistic regression (spectrum)")] > 0.7


def test_loss_baseline_has_a_fixed_threshold_and_high_precision(ds: xr.Dataset, table: pd.DataFrame) -> None:
    """Losses fall during training: under a threshold fixed at the end, early positives are right ones."""
    loss = table[table["method"] == "validation loss"].set_index("training_fraction")
    assert loss.loc[1.0, "f1"] > 0.7
    assert loss.loc[0.4, "precision"] >= loss.loc[1.0, "precision"] - 1e-12
    assert loss.loc[0.4, "recall"] <= loss.loc[1.0, "recall"] + 1e-12


def test_test_split_untouched(ds: xr.Dataset, fit: AelleFit, table: pd.DataFrame) -> None:
    """Permuting the test networks' outcomes changes metrics, never the chosen rules."""
    test = np.flatnonzero((fit.split.reindex(ds["network"].values) == "test").to_numpy())
    permuted = ds.copy(deep=True)
    order = np.random.default_rng(0).permutation(test)
    for variable in ("val_loss", "val_accuracy"):
        values = permuted[variable].values
        values[test, -1] = values[order, -1]
    # neither the label's median (training and validation networks) nor any fitted score sees test outcomes
    other = early_prediction_table(permuted, fit, stages=STAGES)
    rules = ["stage", "method", "direction", "threshold"]
    pd.testing.assert_frame_equal(other[rules], table[rules])
    assert not np.allclose(other["f1"], table["f1"])


def test_bootstrap_intervals_cover_the_estimate_and_shrink_with_more_networks() -> None:
    rng = np.random.default_rng(3)
    labels = rng.random(40) < 0.5
    predicted = np.where(rng.random(40) < 0.8, labels, ~labels)  # 80 % right
    small = bootstrap_intervals(labels, predicted, resamples=1000, seed=1)
    large = bootstrap_intervals(np.tile(labels, 9), np.tile(predicted, 9), resamples=1000, seed=1)
    for metric, (low, high) in small.items():
        assert 0 <= low < high <= 1, metric
        large_low, large_high = large[metric]
        assert large_high - large_low < 0.6 * (high - low), metric  # ~1/3 for 9x the networks
    true_positive = (labels & predicted).sum()
    f1 = 2 * true_positive / (labels.sum() + predicted.sum())
    assert small["f1"][0] < f1 < small["f1"][1]
    assert bootstrap_intervals(labels, predicted, resamples=1000, seed=1) == small  # reproducible
    assert all(np.isnan(bound) for interval in bootstrap_intervals([True], [True]).values() for bound in interval)


def test_summary_markdown_has_a_row_per_method_and_a_dash_before_training(table: pd.DataFrame) -> None:
    text = summary_markdown(table)
    lines = text.strip().splitlines()
    assert lines[0].startswith(f"n_test = {int(table['n_test'].iloc[0])} test networks")
    assert lines[2].count("|") == 2 + table["training_fraction"].nunique()
    rows = {line.split("|")[1].strip(): line for line in lines[4:]}
    assert set(rows) == set(table["method"])
    assert rows["validation loss"].split("|")[2].strip() == "–"
    aelle = table[(table["method"] == "AeLLE") & (table["training_fraction"] == 1.0)].iloc[0]
    assert f"{aelle['f1']:.2f} [{aelle['f1_low']:.2f}, {aelle['f1_high']:.2f}]" in rows["AeLLE"]


def test_evaluating_on_the_fitted_spectra_reproduces_the_table(ds: xr.Dataset, fit: AelleFit, table: pd.DataFrame):
    pd.testing.assert_frame_equal(early_prediction_table(ds, fit, stages=STAGES, evaluate_on=ds.copy()), table)


@pytest.mark.parametrize("option, values", [("learning_rate", (0.001, 0.1)), ("dropout", (0.0, 0.5))])
def test_configuration_baseline_uses_learning_rate_and_dropout_where_they_vary(
    ds: xr.Dataset, fit: AelleFit, option: str, values: tuple[float, float]
) -> None:
    """With p shuffled across networks, only a varying training option can tell the configuration baseline the label."""
    labels = high_accuracy_labels(ds, fit.split.reindex(ds["network"].values)).to_numpy()
    shuffled_p = np.random.default_rng(0).permutation(ds["init_param"].values)
    uninformative = ds.assign_coords(init_param=("network", shuffled_p))
    informative = uninformative.assign_coords({option: ("network", np.where(labels, *values))})

    def configuration_f1(data: xr.Dataset) -> float:
        result = early_prediction_table(data, fit, stages=(1.0,), resamples=10)
        return float(result.set_index("method").loc["configuration only", "f1"])

    assert configuration_f1(informative) == 1.0
    assert configuration_f1(uninformative) < 0.8  # the constant option of the synthetic experiment is left out
