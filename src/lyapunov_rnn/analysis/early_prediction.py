"""Early prediction of final performance: the AeLLE papers' frozen classifier, baselines, bootstrap intervals.

The question: from what is known at an early stage of training (the
spectrum, or the loss, at 0, 10, 20 or 50 % of the epochs), which networks
will end with a low final validation loss? The protocol follows the AeLLE
papers' *pre-trained* classifier (Vogt, Zheng & Shlizerman, arXiv:2204.04876;
``LE_clustering.py`` of shlizee/LyapunovAutoEncode; see ``docs/reproduction.md``):

* **Networks** are split into training, validation and test networks (the
  AeLLE fit's split, by network). Nothing is chosen on test networks.
* **Label**: a network is *high accuracy* when its final validation loss is
  below the median of the final losses of the training and validation
  networks (a diverged network's final loss counts as ``+inf``).
* **Calibration samples**: the validation networks at the checkpoints the
  AeLLE was trained on (``training_fraction`` in ``aelle.training_fractions``).
* **Frozen methods**: a score per (network, checkpoint), fitted once where it
  needs fitting, a direction and a threshold chosen once for the best F1 on
  the calibration samples (:func:`select_threshold`), then applied unchanged
  to the test networks at every stage:

  ``AeLLE``
      PC1 of the AeLLE latent code. The PCA is fitted on the latent codes of
      the calibration samples (the reference fits it on the validation split).
  ``validation loss``
      The validation loss at the stage, with one threshold chosen on the
      validation networks' final losses; no value at 0 % (no loss exists
      before training, as in the paper).
  ``LE max``, ``LE mean``, ``LE std``
      Statistics of the spectrum (:func:`lyapunov_rnn.analysis.statistics.spectrum_statistics`).
  ``logistic regression (spectrum)``
      A plain supervised baseline: logistic regression on the AeLLE's own
      inputs (resampled, standardised spectra) of the training networks'
      training checkpoints, scored by its decision function.
  ``configuration only``
      Logistic regression on what produced the network, not on its dynamics:
      log p, log hidden size, the architecture (one-hot) and, where they vary
      between the networks, log learning rate and dropout, fitted on the
      training networks; the same score at every stage. If the spectrum says
      no more than this, the spectrum adds nothing.

* ``AeLLE (per-stage refit)`` is the earlier protocol, kept for comparison:
  PCA refitted on the training networks' latent codes at each stage, the
  threshold chosen on the validation networks at that stage.
* **Scores**: recall, precision and F1 of the high-accuracy class on the
  test networks, each with a 95 % percentile bootstrap interval over test
  networks (:func:`bootstrap_intervals`), and ``n_test``.
* **Other spectra of the same networks** (``evaluate_on``): everything above
  is fitted on one dataset and the frozen rules are applied unchanged to the
  spectra of another, e.g. the same checkpoints driven by other input
  sequences (:mod:`lyapunov_rnn.analysis.generalisation`). Only the scores of
  :data:`SPECTRUM_METHODS` change; labels come from the fitted dataset.

A network without a finite score at a stage (e.g. it has diverged) is
classified low accuracy. No torch here: latent codes come from the fit's
``encode``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd
import xarray as xr
from scipy.stats import bootstrap
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score, precision_score, recall_score

from lyapunov_rnn.analysis.statistics import spectrum_statistics
from lyapunov_rnn.dataset import final_loss_for_ranking, in_fraction_range, valid_spectrum_mask

if TYPE_CHECKING:
    from lyapunov_rnn.aelle import AelleFit

__all__ = [
    "FROZEN_METHODS",
    "METRICS",
    "REFIT_METHOD",
    "SPECTRUM_METHODS",
    "STATISTICS",
    "TABLE_COLUMNS",
    "align_evaluation",
    "bootstrap_intervals",
    "classify",
    "early_prediction_table",
    "high_accuracy_labels",
    "method_order",
    "select_threshold",
    "stage_checkpoints",
    "summary_markdown",
]

Direction = Literal["below", "above"]
STATISTICS: dict[str, str] = {"LE max": "le_max", "LE mean": "le_mean", "LE std": "le_std"}
LOSS_METHOD = "validation loss"
SPECTRUM_REGRESSION = "logistic regression (spectrum)"
CONFIGURATION = "configuration only"
REFIT_METHOD = "AeLLE (per-stage refit)"
FROZEN_METHODS: tuple[str, ...] = ("AeLLE", LOSS_METHOD, *STATISTICS, SPECTRUM_REGRESSION, CONFIGURATION)
#: The methods whose score is computed from the spectrum (the others read the loss or the configuration).
SPECTRUM_METHODS: tuple[str, ...] = ("AeLLE", *STATISTICS, SPECTRUM_REGRESSION, REFIT_METHOD)
#: Per-network training options that join the configuration features where they vary between networks.
CONFIGURATION_OPTIONS: dict[str, bool] = {"learning_rate": True, "dropout": False}  # name -> take the log
METRICS: tuple[str, ...] = ("recall", "precision", "f1")
TABLE_COLUMNS: tuple[str, ...] = (
    "stage", "training_fraction", "epoch", "method",
    *(f"{metric}{suffix}" for metric in METRICS for suffix in ("", "_low", "_high")),
    "n_test", "n_high", "direction", "threshold",
)


# --------------------------------------------------------------------------- #
# Labels, stages, thresholds
# --------------------------------------------------------------------------- #
def high_accuracy_labels(ds: xr.Dataset, split: pd.Series) -> pd.Series:
    """True for networks whose final validation loss is below the median of the training and validation networks'.

    Parameters
    ----------
    ds : xr.Dataset
        Experiment dataset.
    split : pd.Series
        Network id -> ``"train"``, ``"val"`` or ``"test"``; only training and
        validation networks set the median, so test outcomes never move it.
    """
    final = final_loss_for_ranking(ds)
    known = split.reindex(final.index).isin(["train", "val"]).to_numpy()
    if not known.any():
        raise ValueError("no training or validation network: the label's median is undefined")
    return final < np.median(final.to_numpy()[known])


def stage_checkpoints(ds: xr.Dataset, stages: Sequence[float]) -> list[int]:
    """Positional checkpoint index whose ``training_fraction`` is closest to each stage."""
    fractions = ds["training_fraction"].values
    return [int(np.argmin(np.abs(fractions - stage))) for stage in stages]


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
    thresholds ascending). Call this on validation networks only.

    Parameters
    ----------
    scores : np.ndarray, shape (n,)
        Score per sample (NaN allowed: always classified low).
    labels : np.ndarray of bool, shape (n,)
        True for high-accuracy samples.
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


# --------------------------------------------------------------------------- #
# Scores and their uncertainty
# --------------------------------------------------------------------------- #
def _metrics(labels: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    """Recall, precision and F1 of the "high accuracy" class (0 where undefined, as scikit-learn's zero_division=0)."""
    return {
        "recall": recall_score(labels, predicted, zero_division=0),
        "precision": precision_score(labels, predicted, zero_division=0),
        "f1": f1_score(labels, predicted, zero_division=0),
    }


def _counts_metric(metric: str):
    """``metric`` of (labels, predicted) along ``axis``, vectorised for :func:`scipy.stats.bootstrap`."""

    def statistic(labels: np.ndarray, predicted: np.ndarray, axis: int = -1) -> np.ndarray:
        labels, predicted = labels.astype(bool), predicted.astype(bool)
        true_positive = (labels & predicted).sum(axis=axis)
        false_positive = (~labels & predicted).sum(axis=axis)
        false_negative = (labels & ~predicted).sum(axis=axis)
        numerator, denominator = {
            "recall": (true_positive, true_positive + false_negative),
            "precision": (true_positive, true_positive + false_positive),
            "f1": (2 * true_positive, 2 * true_positive + false_positive + false_negative),
        }[metric]
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(denominator > 0, numerator / np.maximum(denominator, 1), 0.0)

    return statistic


def bootstrap_intervals(
    labels: np.ndarray,
    predicted: np.ndarray,
    *,
    confidence: float = 0.95,
    resamples: int = 2000,
    seed: int = 0,
) -> dict[str, tuple[float, float]]:
    """Percentile bootstrap intervals of recall, precision and F1 over the evaluated networks.

    Networks are resampled with replacement (``scipy.stats.bootstrap``,
    paired: a network keeps its label and prediction). Resamples without a
    positive or without a predicted positive count 0, as in :func:`_metrics`.

    Returns
    -------
    dict
        ``metric -> (low, high)``; NaN for fewer than 2 networks.
    """
    labels, predicted = np.asarray(labels, dtype=bool), np.asarray(predicted, dtype=bool)
    if labels.size < 2:
        return {metric: (float("nan"), float("nan")) for metric in METRICS}
    intervals = {}
    for number, metric in enumerate(METRICS):
        result = bootstrap(
            (labels, predicted),
            _counts_metric(metric),
            paired=True,
            vectorized=True,
            n_resamples=resamples,
            confidence_level=confidence,
            method="percentile",
            rng=np.random.default_rng([seed, number]),
        )
        intervals[metric] = (float(result.confidence_interval.low), float(result.confidence_interval.high))
    return intervals


# --------------------------------------------------------------------------- #
# The score of each method
# --------------------------------------------------------------------------- #
def _flat_exponents(ds: xr.Dataset) -> tuple[np.ndarray, tuple[int, int]]:
    """Every (network, checkpoint) spectrum as a row, and the (networks, checkpoints) shape to fold results back."""
    exponents = ds["exponents"].transpose("network", "checkpoint", "exponent").values
    return exponents.reshape(-1, exponents.shape[-1]), exponents.shape[:2]


def _latent_codes(ds: xr.Dataset, fit: AelleFit) -> np.ndarray:
    """AeLLE latent codes of every (network, checkpoint), shape (networks, checkpoints, latent_dim)."""
    spectra, shape = _flat_exponents(ds)
    return fit.encode(spectra).reshape(*shape, -1)


def _project(latent: np.ndarray, pca: PCA) -> np.ndarray:
    """PC1 of latent codes (..., d); NaN where a code is not finite."""
    flat = latent.reshape(-1, latent.shape[-1])
    finite = np.isfinite(flat).all(axis=1)
    scores = np.full(flat.shape[0], np.nan)
    if finite.any():
        scores[finite] = pca.transform(flat[finite])[:, 0]
    return scores.reshape(latent.shape[:-1])


def _spectrum_features(ds: xr.Dataset, fit: AelleFit) -> tuple[np.ndarray, np.ndarray]:
    """The AeLLE's standardised inputs of every (network, checkpoint) and which are valid."""
    spectra, shape = _flat_exponents(ds)
    x, valid = fit.scaler.transform(spectra)
    features = np.full((valid.size, x.shape[1]), np.nan)
    features[valid] = x
    return features.reshape(*shape, -1), valid.reshape(shape)


@dataclass(frozen=True)
class _ConfigurationFeatures:
    """Which configuration features a dataset's networks have: their architectures and the options that vary."""

    architectures: tuple[str, ...]
    options: tuple[str, ...]

    @classmethod
    def of(cls, ds: xr.Dataset) -> _ConfigurationFeatures:
        """The architectures of ``ds`` and the :data:`CONFIGURATION_OPTIONS` it records with more than one value."""
        varying = tuple(
            name for name in CONFIGURATION_OPTIONS if name in ds.coords and np.unique(ds[name].values).size > 1
        )
        return cls(tuple(np.unique(ds["architecture"].values.astype(str))), varying)

    def transform(self, ds: xr.Dataset) -> np.ndarray:
        """log p, log hidden size, the one-hot architecture and the varying options of every network of ``ds``."""
        architecture = ds["architecture"].values.astype(str)
        one_hot = (architecture[:, None] == np.asarray(self.architectures)[None, :]).astype(float)
        columns = [
            np.log(ds["init_param"].values.astype(float)), np.log(ds["hidden_size"].values.astype(float)), one_hot
        ]
        for name in self.options:
            values = ds[name].values.astype(float)
            columns.append(np.log(values) if CONFIGURATION_OPTIONS[name] else values)
        return np.column_stack(columns)


@dataclass(frozen=True)
class _FittedScores:
    """The fitted parts of the frozen methods' scores, fitted once on one dataset's training and validation networks.

    Attributes
    ----------
    aelle_direction : PCA
        PC1 of the calibration samples' AeLLE latent codes.
    spectrum_regression : LogisticRegression
        On the training networks' standardised spectra (training checkpoints).
    configuration : _ConfigurationFeatures
        The configuration features of the fitted dataset.
    configuration_regression : LogisticRegression
        On the training networks' configuration features.
    """

    aelle_direction: PCA
    spectrum_regression: LogisticRegression
    configuration: _ConfigurationFeatures
    configuration_regression: LogisticRegression

    @classmethod
    def fit(
        cls,
        ds: xr.Dataset,
        fit: AelleFit,
        latent: np.ndarray,
        labels: np.ndarray,
        parts: dict[str, np.ndarray],
        training: np.ndarray,
    ) -> _FittedScores:
        """Fit on ``ds``; ``latent``: its AeLLE latent codes of every (network, checkpoint), :func:`_latent_codes`."""
        valid = valid_spectrum_mask(ds).transpose("network", "checkpoint").values
        calibration = parts["val"][:, None] & training[None, :] & valid
        if calibration.sum() < 2:
            raise ValueError("fewer than 2 validation samples with a valid spectrum: cannot fit the AeLLE direction")
        direction = PCA(n_components=1).fit(latent[calibration])

        features, feature_valid = _spectrum_features(ds, fit)
        train_samples = parts["train"][:, None] & training[None, :] & feature_valid
        sample_labels = np.broadcast_to(labels[:, None], train_samples.shape)
        regression = LogisticRegression(max_iter=2000).fit(features[train_samples], sample_labels[train_samples])

        configuration = _ConfigurationFeatures.of(ds)
        by_configuration = LogisticRegression(max_iter=2000).fit(
            configuration.transform(ds)[parts["train"]], labels[parts["train"]]
        )
        return cls(direction, regression, configuration, by_configuration)

    def scores(self, ds: xr.Dataset, fit: AelleFit, latent: np.ndarray) -> dict[str, np.ndarray]:
        """Score of every frozen method for every (network, checkpoint) of ``ds``, shape (networks, checkpoints).

        ``ds`` is the fitted dataset or other spectra of its networks; ``latent`` holds its latent codes.
        """
        scores = {"AeLLE": _project(latent, self.aelle_direction)}
        scores[LOSS_METHOD] = ds["val_loss"].transpose("network", "checkpoint").values.astype(float)
        statistics = spectrum_statistics(ds)
        for method, variable in STATISTICS.items():
            scores[method] = statistics[variable].transpose("network", "checkpoint").values

        features, feature_valid = _spectrum_features(ds, fit)
        spectrum_scores = np.full(feature_valid.shape, np.nan)
        spectrum_scores[feature_valid] = self.spectrum_regression.decision_function(features[feature_valid])
        scores[SPECTRUM_REGRESSION] = spectrum_scores

        by_configuration = self.configuration_regression.decision_function(self.configuration.transform(ds))
        scores[CONFIGURATION] = np.repeat(by_configuration[:, None], ds.sizes["checkpoint"], axis=1)
        return scores


def _frozen_rules(
    scores: dict[str, np.ndarray], labels: np.ndarray, parts: dict[str, np.ndarray], training: np.ndarray
) -> dict[str, tuple[Direction, float]]:
    """Direction and threshold of each frozen method, chosen on the validation networks only."""
    sample_labels = np.broadcast_to(labels[:, None], (labels.size, training.size))
    calibration = parts["val"][:, None] & training[None, :]
    rules = {}
    for method, values in scores.items():
        if method == LOSS_METHOD:  # the loss the label is defined on: the validation networks' final losses
            rules[method] = select_threshold(values[parts["val"], -1], labels[parts["val"]])
        else:
            rules[method] = select_threshold(values[calibration], sample_labels[calibration])
    return rules


def _refit_rule(
    latent: np.ndarray, labels: np.ndarray, parts: dict[str, np.ndarray], checkpoint: int
) -> tuple[PCA, tuple[Direction, float]]:
    """The per-stage refit: PCA on the training networks' codes at one checkpoint, threshold on its validation networks.

    ``latent`` holds the latent codes of every network at ``checkpoint``, shape (networks, latent_dim).
    Returns the PCA (its PC1 is the score) and the rule.
    """
    train = np.isfinite(latent).all(axis=1) & parts["train"]
    if train.sum() < 2:
        raise ValueError(f"fewer than 2 training networks have a valid spectrum at checkpoint {checkpoint}")
    pca = PCA(n_components=1).fit(latent[train])
    pc1 = _project(latent, pca)
    return pca, select_threshold(pc1[parts["val"]], labels[parts["val"]])


def align_evaluation(ds: xr.Dataset, other: xr.Dataset) -> xr.Dataset:
    """``other`` with its networks in the order of ``ds``, after checking that both hold the same checkpoints.

    Other spectra of the same networks (e.g. driven by other input
    sequences) share the networks, their epochs and their losses; only the
    spectra differ.

    Raises
    ------
    ValueError
        Naming what differs: networks missing or extra in ``other``, other
        epochs, or other validation losses (then they are not the same
        checkpoints).
    """
    networks, others = ds["network"].values, other["network"].values
    missing, extra = sorted(set(networks) - set(others)), sorted(set(others) - set(networks))
    if missing or extra or others.size != networks.size:
        raise ValueError(
            f"the evaluated dataset does not hold the same networks: missing {missing[:3]}"
            f"{' ...' if len(missing) > 3 else ''}, extra {extra[:3]}{' ...' if len(extra) > 3 else ''}"
        )
    other = other.sel(network=networks)
    if not np.array_equal(ds["epoch"].values, other["epoch"].values):
        raise ValueError(
            f"the evaluated dataset has other checkpoints: epochs {other['epoch'].values.tolist()}, "
            f"expected {ds['epoch'].values.tolist()}"
        )
    losses = [data["val_loss"].transpose("network", "checkpoint").values for data in (ds, other)]
    if not np.array_equal(*losses, equal_nan=True):
        raise ValueError("the evaluated dataset has other validation losses: not the same checkpoints of the networks")
    return other


# --------------------------------------------------------------------------- #
# The table
# --------------------------------------------------------------------------- #
def early_prediction_table(
    ds: xr.Dataset,
    fit: AelleFit,
    *,
    stages: Sequence[float] = (0.0, 0.1, 0.2, 0.5),
    resamples: int = 2000,
    seed: int = 0,
    evaluate_on: xr.Dataset | None = None,
) -> pd.DataFrame:
    """Classify the test networks as high/low final accuracy from the information of each stage.

    See the module documentation for the protocol and the methods. For every
    stage, the checkpoint whose ``training_fraction`` is closest is used (its
    actual fraction and epoch are reported).

    Parameters
    ----------
    ds : xr.Dataset
        Experiment dataset.
    fit : AelleFit
        Trained AeLLE; its ``split`` defines the training, validation and test
        networks and ``config.training_fractions`` its training checkpoints.
    stages : sequence of float
        Training fractions in [0, 1].
    resamples : int
        Bootstrap resamples per interval.
    seed : int
        Seed of the bootstrap.
    evaluate_on : xr.Dataset, optional
        Other spectra of the networks of ``ds`` (same networks, checkpoints
        and losses, see :func:`align_evaluation`), e.g. driven by other input
        sequences. Every fit, label and rule comes from ``ds``; the test
        networks are then classified from the spectra of ``evaluate_on``
        (only the :data:`SPECTRUM_METHODS` change). Default: ``ds`` itself.

    Returns
    -------
    pd.DataFrame
        Columns :data:`TABLE_COLUMNS`: per stage and method, recall,
        precision and F1 of the high class on the test networks with the
        bounds of their 95 % intervals, ``n_test``, ``n_high`` (high-accuracy
        test networks), and the frozen rule ("high if score below/above
        threshold"; the threshold is in the score's units: loss units for the
        validation loss, the spectrum's units for LE statistics, arbitrary
        units otherwise). The validation loss has no row at a stage with
        ``training_fraction`` 0.
    """
    split = fit.split.reindex(ds["network"].values).fillna("")
    parts = {name: split.to_numpy() == name for name in ("train", "val", "test")}
    if not parts["test"].any() or not parts["val"].any():
        raise ValueError("fit.split has no validation or no test network in ds")
    labels = high_accuracy_labels(ds, split).to_numpy()
    training = in_fraction_range(ds, fit.config.training_fractions)
    latent = _latent_codes(ds, fit)
    fitted = _FittedScores.fit(ds, fit, latent, labels, parts, training)
    scores = fitted.scores(ds, fit, latent)
    rules = _frozen_rules(scores, labels, parts, training)
    if evaluate_on is not None:
        evaluated = align_evaluation(ds, evaluate_on)
        evaluated_latent = _latent_codes(evaluated, fit)
        scores = fitted.scores(evaluated, fit, evaluated_latent)
    else:
        evaluated_latent = latent
    test_labels = labels[parts["test"]]

    rows = []
    for stage, checkpoint in zip(stages, stage_checkpoints(ds, stages), strict=True):
        fraction = float(ds["training_fraction"].values[checkpoint])
        refit_direction, refit_rule = _refit_rule(latent[:, checkpoint], labels, parts, checkpoint)
        refit_scores = _project(evaluated_latent[:, checkpoint], refit_direction)
        stage_scores = {method: values[:, checkpoint] for method, values in scores.items()}
        stage_rules = dict(rules)
        stage_scores[REFIT_METHOD], stage_rules[REFIT_METHOD] = refit_scores, refit_rule
        if fraction == 0:  # no loss exists before training
            del stage_scores[LOSS_METHOD]
        for method, values in stage_scores.items():
            direction, threshold = stage_rules[method]
            predicted = classify(values, direction, threshold)[parts["test"]]
            point = _metrics(test_labels, predicted)
            interval = bootstrap_intervals(test_labels, predicted, resamples=resamples, seed=seed)
            row = {"stage": float(stage), "training_fraction": fraction, "epoch": int(ds["epoch"].values[checkpoint])}
            row["method"] = method
            for metric in METRICS:
                row[metric] = point[metric]
                row[f"{metric}_low"], row[f"{metric}_high"] = interval[metric]
            row.update(
                n_test=int(parts["test"].sum()), n_high=int(test_labels.sum()), direction=direction, threshold=threshold
            )
            rows.append(row)
    return pd.DataFrame(rows, columns=list(TABLE_COLUMNS))


def method_order(table: pd.DataFrame) -> list[str]:
    """The methods of ``table``: the frozen ones in :data:`FROZEN_METHODS` order, the per-stage refit, then others."""
    known = [method for method in (*FROZEN_METHODS, REFIT_METHOD) if (table["method"] == method).any()]
    return known + [method for method in dict.fromkeys(table["method"]) if method not in known]


def summary_markdown(table: pd.DataFrame) -> str:
    """The table as GitHub markdown: one row per method, one column per stage.

    Each cell is ``F1 [95 % interval] (precision / recall)``; "–" where a
    method has no value (the validation loss before training). The header
    states ``n_test`` and how many test networks are high accuracy.
    """
    stages = table.drop_duplicates("training_fraction").sort_values("training_fraction")
    header = [f"{fraction:.0%} of training (epoch {epoch})" for fraction, epoch in
              zip(stages["training_fraction"], stages["epoch"], strict=True)]
    lines = [
        f"n_test = {int(table['n_test'].iloc[0])} test networks, {int(table['n_high'].iloc[0])} of them high accuracy. "
        "Cells: F1 [95 % bootstrap interval] (precision / recall).",
        "",
        "| method | " + " | ".join(header) + " |",
        "|---|" + "---|" * len(header),
    ]
    for method in method_order(table):
        rows = table[table["method"] == method].drop_duplicates("training_fraction").set_index("training_fraction")
        cells = []
        for fraction in stages["training_fraction"]:
            if fraction not in rows.index:
                cells.append("–")
                continue
            row = rows.loc[fraction]
            cells.append(
                f"{row['f1']:.2f} [{row['f1_low']:.2f}, {row['f1_high']:.2f}] "
                f"({row['precision']:.2f} / {row['recall']:.2f})"
            )
        lines.append(f"| {method} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
