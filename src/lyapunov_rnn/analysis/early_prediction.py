"""Early prediction of final performance from Lyapunov spectra, with baselines.

Implements the evaluation of Vogt, Zheng & Shlizerman (arXiv:2204.04876,
"early prediction" table). Conventions used throughout:

* the **final** validation loss of a network is its ``val_loss`` at the last
  checkpoint; a network whose training diverged (NaN/Inf final loss) is
  treated as the worst network (final loss ``+inf``): it is "low accuracy";
* a network is **high accuracy** when its final loss is below the median
  final loss over all networks (the ``+inf`` of diverged networks included);
* information "at a stage" means values at the checkpoint whose
  ``training_fraction`` is closest to the stage; a network with no finite
  value there (e.g. it has already diverged) is classified low accuracy.

No torch here: the AeLLE latent codes come from the fit's ``encode``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd
import xarray as xr
from sklearn.decomposition import PCA
from sklearn.metrics import f1_score, precision_score, recall_score

from lyapunov_rnn.analysis.statistics import spectrum_statistics
from lyapunov_rnn.dataset import final_loss_for_ranking

if TYPE_CHECKING:
    from lyapunov_rnn.aelle import AelleFit

__all__ = [
    "STATISTICS",
    "TABLE_COLUMNS",
    "classify",
    "early_prediction_table",
    "high_accuracy_labels",
    "select_threshold",
    "stage_checkpoints",
]

Direction = Literal["below", "above"]
STATISTICS: dict[str, str] = {"LE max": "le_max", "LE mean": "le_mean", "LE std": "le_std"}
TABLE_COLUMNS: tuple[str, ...] = (
    "stage", "training_fraction", "epoch", "method", "recall", "precision", "f1", "n_test",
    "direction", "threshold",
)


def high_accuracy_labels(ds: xr.Dataset) -> pd.Series:
    """True for networks whose final validation loss is below the median of all networks."""
    final = final_loss_for_ranking(ds)
    return final < np.median(final.to_numpy())


def stage_checkpoints(ds: xr.Dataset, stages: Sequence[float]) -> list[int]:
    """Positional checkpoint index whose ``training_fraction`` is closest to each stage."""
    fractions = ds["training_fraction"].values
    return [int(np.argmin(np.abs(fractions - stage))) for stage in stages]


# --------------------------------------------------------------------------- #
# Threshold classifiers
# --------------------------------------------------------------------------- #
def classify(scores: np.ndarray, direction: Direction, threshold: float) -> np.ndarray:
    """Predict high accuracy where ``scores`` is below/above ``threshold``; NaN -> low."""
    scores = np.asarray(scores, dtype=float)
    with np.errstate(invalid="ignore"):
        high = scores < threshold if direction == "below" else scores > threshold
    return high & np.isfinite(scores)


def select_threshold(scores: np.ndarray, labels: np.ndarray) -> tuple[Direction, float]:
    """Direction and threshold maximising F1 of :func:`classify` on (scores, labels).

    Candidate thresholds are the midpoints between consecutive distinct finite
    scores plus one value beyond each end (all-high / all-low rules), for both
    directions. Ties are broken by the first maximum ("below" before "above",
    thresholds ascending). Call this on the validation split only.

    Parameters
    ----------
    scores : np.ndarray, shape (n,)
        Score per network (NaN allowed: always classified low).
    labels : np.ndarray of bool, shape (n,)
        True for high-accuracy networks.
    """
    scores = np.asarray(scores, dtype=float)
    labels = np.asarray(labels, dtype=bool)
    values = np.unique(scores[np.isfinite(scores)])
    if values.size == 0:
        return "below", float("nan")
    candidates = np.concatenate([[values[0] - 1.0], 0.5 * (values[:-1] + values[1:]), [values[-1] + 1.0]])
    best: tuple[float, Direction, float] = (-1.0, "below", float("nan"))
    for direction in ("below", "above"):
        for threshold in candidates:
            score = f1_score(labels, classify(scores, direction, threshold), zero_division=0)
            if score > best[0]:
                best = (score, direction, float(threshold))
    return best[1], best[2]


def _metrics(labels: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    """Recall, precision and F1 of the "high accuracy" class."""
    return {
        "recall": recall_score(labels, predicted, zero_division=0),
        "precision": precision_score(labels, predicted, zero_division=0),
        "f1": f1_score(labels, predicted, zero_division=0),
    }


def _stage_scores(
    ds: xr.Dataset, stats: xr.Dataset, fit: AelleFit, checkpoint: int, split: pd.Series
) -> dict[str, pd.Series]:
    """Score per network at one checkpoint for each selected-threshold method (NaN = no info)."""
    at_stage = ds.isel(checkpoint=checkpoint)
    networks = ds["network"].values
    latent = fit.encode(at_stage["exponents"].transpose("network", "exponent").values)
    finite = np.isfinite(latent).all(axis=1)
    train = finite & (split.to_numpy() == "train")
    if train.sum() < 2:
        raise ValueError(f"fewer than 2 training networks have a valid spectrum at checkpoint {checkpoint}")
    pc1 = np.full(len(networks), np.nan)
    pc1[finite] = PCA(n_components=1).fit(latent[train]).transform(latent[finite])[:, 0]
    scores = {"AeLLE": pd.Series(pc1, index=networks)}
    for method, variable in STATISTICS.items():
        scores[method] = stats[variable].isel(checkpoint=checkpoint).to_series()
    return scores


def early_prediction_table(
    ds: xr.Dataset, fit: AelleFit, *, stages: Sequence[float] = (0.0, 0.1, 0.2, 0.5)
) -> pd.DataFrame:
    """Classify networks as high/low final accuracy from early information.

    For every stage, the checkpoint whose ``training_fraction`` is closest is
    used (its actual fraction and epoch are reported). Methods:

    ``"AeLLE"``
        PC1 of the AeLLE latent code; the PCA is fitted on the latents of the
        training networks at that checkpoint, the direction and threshold are
        chosen for the best F1 on the validation networks
        (:func:`select_threshold`).
    ``"val_loss"``
        Validation loss at that checkpoint below its median over the training
        networks.
    ``"LE max"``, ``"LE mean"``, ``"LE std"``
        The spectrum statistic (:func:`spectrum_statistics`) with direction and
        threshold chosen on the validation networks.

    The label is :func:`high_accuracy_labels`. Recall, precision and F1 of the
    high class are computed on the test networks of ``fit.split`` only; the
    test split is never used to choose anything.

    Parameters
    ----------
    ds : xr.Dataset
        Experiment dataset.
    fit : AelleFit
        Trained AeLLE; its ``split`` defines the train/val/test networks.
    stages : sequence of float
        Training fractions in [0, 1].

    Returns
    -------
    pd.DataFrame
        Columns ``stage, training_fraction, epoch, method, recall, precision,
        f1, n_test, direction, threshold`` (``direction``/``threshold``: the
        rule "high accuracy if score below/above threshold"; threshold in the
        score's units: nats per step for LE statistics, loss units for
        val_loss, arbitrary units for AeLLE).
    """
    split = fit.split.reindex(ds["network"].values).fillna("")
    labels = high_accuracy_labels(ds).to_numpy()
    parts = {name: split.to_numpy() == name for name in ("train", "val", "test")}
    if not parts["test"].any() or not parts["val"].any():
        raise ValueError("fit.split has no validation or no test network in ds")
    stats = spectrum_statistics(ds)
    rows = []
    for stage, checkpoint in zip(stages, stage_checkpoints(ds, stages), strict=True):
        scores = _stage_scores(ds, stats, fit, checkpoint, split)
        loss = ds["val_loss"].isel(checkpoint=checkpoint).to_series().to_numpy()
        rules: dict[str, tuple[Direction, float]] = {
            "val_loss": ("below", float(np.nanmedian(loss[parts["train"]])))
        }
        for method, series in scores.items():
            rules[method] = select_threshold(series.to_numpy()[parts["val"]], labels[parts["val"]])
        for method in ("AeLLE", "val_loss", *STATISTICS):
            values = loss if method == "val_loss" else scores[method].to_numpy()
            direction, threshold = rules[method]
            predicted = classify(values, direction, threshold)
            rows.append(
                {
                    "stage": float(stage),
                    "training_fraction": float(ds["training_fraction"].values[checkpoint]),
                    "epoch": int(ds["epoch"].values[checkpoint]),
                    "method": method,
                    **_metrics(labels[parts["test"]], predicted[parts["test"]]),
                    "n_test": int(parts["test"].sum()),
                    "direction": direction,
                    "threshold": threshold,
                }
            )
    return pd.DataFrame(rows, columns=list(TABLE_COLUMNS))
