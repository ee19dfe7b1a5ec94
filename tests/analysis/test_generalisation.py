"""Generalisation to novel inputs: rules fitted on one set of spectra, scored on other spectra of the same networks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from sklearn.decomposition import PCA

from lyapunov_rnn.aelle import AelleFit, latent_frame
from lyapunov_rnn.analysis.early_prediction import SPECTRUM_METHODS, TABLE_COLUMNS, early_prediction_table
from lyapunov_rnn.analysis.generalisation import (
    NOVEL_TABLE_COLUMNS,
    leading_exponents,
    novel_inputs_embedding,
    novel_inputs_markdown,
    novel_inputs_table,
)

STAGES = (0.0, 0.5, 1.0)  # checkpoints 0, 2, 5 of the synthetic experiment
RESAMPLES = 200


def _with_exponents(ds: xr.Dataset, exponents: np.ndarray) -> xr.Dataset:
    """A copy of ``ds`` with other spectra: what the same checkpoints give when driven by other sequences."""
    other = ds.copy(deep=True)
    other["exponents"] = (("network", "checkpoint", "exponent"), exponents)
    return other


def _aelle_f1(table: pd.DataFrame, inputs: str) -> pd.Series:
    rows = table[(table["inputs"] == inputs) & (table["method"] == "AeLLE")]
    return rows.set_index("stage")["f1"]


@pytest.fixture(scope="module")
def noisy(ds: xr.Dataset) -> xr.Dataset:
    """Spectra with small noise (0.02 nats/step; the exponents span several nats/step across networks)."""
    noise = np.random.default_rng(5).normal(0.0, 0.02, ds["exponents"].shape)
    return _with_exponents(ds, ds["exponents"].values + noise)


@pytest.fixture(scope="module")
def noisy_table(ds: xr.Dataset, noisy: xr.Dataset, fit: AelleFit) -> pd.DataFrame:
    return novel_inputs_table(ds, noisy, fit, STAGES, resamples=RESAMPLES)


def test_fitted_rows_are_the_early_prediction_table(ds: xr.Dataset, fit: AelleFit, noisy_table: pd.DataFrame) -> None:
    assert tuple(noisy_table.columns) == NOVEL_TABLE_COLUMNS
    fitted = noisy_table[noisy_table["inputs"] == "fitted"][list(TABLE_COLUMNS)].reset_index(drop=True)
    pd.testing.assert_frame_equal(fitted, early_prediction_table(ds, fit, stages=STAGES, resamples=RESAMPLES))
    novel = noisy_table[noisy_table["inputs"] == "novel"]
    assert set(novel["method"]) == set(SPECTRUM_METHODS)  # loss and configuration do not read the spectrum
    # The rules of the novel rows are the fitted ones, not refitted on the novel spectra.
    rules = ["stage", "method", "direction", "threshold"]
    fitted_rules = fitted[fitted["method"].isin(SPECTRUM_METHODS)][rules].reset_index(drop=True)
    pd.testing.assert_frame_equal(novel[rules].reset_index(drop=True), fitted_rules)


def test_slightly_different_spectra_predict_as_well(noisy_table: pd.DataFrame) -> None:
    fitted, novel = _aelle_f1(noisy_table, "fitted"), _aelle_f1(noisy_table, "novel")
    assert (fitted > 0.8).all()
    assert np.abs(novel - fitted).max() <= 0.1


def test_spectra_shuffled_across_networks_drop_aelle_to_chance(
    ds: xr.Dataset, fit: AelleFit, noisy_table: pd.DataFrame
) -> None:
    """Spectra of other networks carry no information about these networks: AeLLE falls to a guess.

    Averaged over four random permutations: one permutation may by chance keep some networks' order.
    """
    novel = []
    for seed in range(4):
        order = np.random.default_rng(seed).permutation(ds.sizes["network"])
        shuffled = _with_exponents(ds, ds["exponents"].values[order])
        table = early_prediction_table(ds, fit, stages=STAGES, resamples=RESAMPLES, evaluate_on=shuffled)
        novel.append(table[table["method"] == "AeLLE"]["f1"].mean())
    fitted = _aelle_f1(noisy_table, "fitted").mean()
    n_test, n_high = table["n_test"].iloc[0], table["n_high"].iloc[0]
    all_high = 2 * n_high / (n_test + n_high)  # F1 of calling every test network high
    assert fitted > 0.8
    assert np.mean(novel) < fitted - 0.3
    assert np.mean(novel) < all_high


def test_other_networks_or_checkpoints_raise(ds: xr.Dataset, noisy: xr.Dataset, fit: AelleFit) -> None:
    with pytest.raises(ValueError, match="same networks: missing"):
        novel_inputs_table(ds, noisy.isel(network=slice(1, None)), fit, STAGES, resamples=RESAMPLES)
    renamed = noisy.assign_coords(network=[f"other-{name}" for name in noisy["network"].values])
    with pytest.raises(ValueError, match="same networks"):
        novel_inputs_table(ds, renamed, fit, STAGES, resamples=RESAMPLES)
    retrained = noisy.copy(deep=True)
    retrained["val_loss"] = retrained["val_loss"] * 1.01
    with pytest.raises(ValueError, match="validation losses"):
        novel_inputs_table(ds, retrained, fit, STAGES, resamples=RESAMPLES)
    with pytest.raises(ValueError, match="epochs"):
        novel_inputs_table(ds, noisy.assign_coords(epoch=noisy["epoch"] + 1), fit, STAGES, resamples=RESAMPLES)
    same_inputs = [data.assign_attrs(first_sequence=0, sequences=15) for data in (ds, noisy)]
    with pytest.raises(ValueError, match="same test sequences"):
        novel_inputs_table(*same_inputs, fit, STAGES, resamples=RESAMPLES)


def test_networks_in_another_order_are_aligned(
    ds: xr.Dataset, noisy: xr.Dataset, fit: AelleFit, noisy_table: pd.DataFrame
) -> None:
    reordered = noisy.isel(network=np.random.default_rng(0).permutation(noisy.sizes["network"]))
    pd.testing.assert_frame_equal(novel_inputs_table(ds, reordered, fit, STAGES, resamples=RESAMPLES), noisy_table)


def test_markdown_puts_both_input_sets_side_by_side(ds: xr.Dataset, noisy: xr.Dataset, noisy_table: pd.DataFrame):
    sequences = {"fitted": (0, 15), "novel": (15, 15)}
    table = noisy_table.copy()
    for inputs, (first, count) in sequences.items():
        table.loc[table["inputs"] == inputs, ["first_sequence", "sequences"]] = first, count
    text = novel_inputs_markdown(table, leading_exponents(ds, noisy))
    assert "fitted: test sequences [0, 15); novel: test sequences [15, 30)" in text
    assert "n_test = 18 test networks" in text and "Pearson r = " in text
    lines = text.strip().splitlines()
    header = next(line for line in lines if line.startswith("| method"))
    assert header.count("fitted") == header.count("novel") == 3  # stages 0.0, 0.4 and 1.0
    rows = {line.split("|")[1].strip(): [cell.strip() for cell in line.split("|")[2:-1]] for line in lines
            if line.startswith("| ") and not line.startswith("| method")}
    assert rows["validation loss"][:2] == ["–", "–"] and rows["validation loss"][3] == "same"
    assert rows["configuration only"][1::2] == ["same"] * 3
    novel = table[(table["inputs"] == "novel") & (table["method"] == "AeLLE") & (table["stage"] == 1.0)].iloc[0]
    assert rows["AeLLE"][5] == f"{novel['f1']:.2f} [{novel['f1_low']:.2f}, {novel['f1_high']:.2f}]"


def test_leading_exponents_pair_the_two_sets(ds: xr.Dataset, noisy: xr.Dataset) -> None:
    leading = leading_exponents(ds, noisy)
    valid = np.isfinite(ds["exponents"]).any("exponent").sum().item()  # diverged checkpoints are left out
    assert len(leading) == valid
    row = leading.iloc[7]
    expected = ds["exponents"].sel(network=row["network"], checkpoint=row["checkpoint"]).max().item()
    assert row["fitted"] == expected
    assert abs(row["novel"] - row["fitted"]) < 0.1


def test_embedding_is_fitted_on_the_first_set_and_applied_to_the_second(ds: xr.Dataset, fit: AelleFit) -> None:
    shifted = _with_exponents(ds, ds["exponents"].values + 0.3)  # codes move; a refit would move with them
    points = novel_inputs_embedding(ds, shifted, fit, method="pca")
    assert set(points["inputs"]) == {"fitted", "novel"}
    codes = {name: latent_frame(fit, data).filter(regex=r"^z\d+$").to_numpy() for name, data in
             (("fitted", ds), ("novel", shifted))}
    pca = PCA(n_components=2).fit(codes["fitted"])
    for inputs, code in codes.items():
        coordinates = points[points["inputs"] == inputs][["dim1", "dim2"]].to_numpy()
        np.testing.assert_allclose(coordinates, pca.transform(code), atol=1e-9)
    assert not np.allclose(points[points["inputs"] == "novel"][["dim1", "dim2"]].mean(), 0.0, atol=1e-3)
    high = points.drop_duplicates("network").set_index("network")["high"]
    assert high.sum() > 0 and (~high).sum() > 0
