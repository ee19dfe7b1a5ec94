"""Generalisation to novel inputs: early-prediction rules fitted on one set of driving sequences, scored on another.

The AeLLE paper (Vogt, Zheng & Shlizerman, arXiv:2204.04876) states that
its latent space generalises to novel inputs. A spectrum is a property of
the network driven by particular input sequences: the experiment's spectra
use the first ``lyapunov.sequences`` test sequences (input set 0). With
``analysis.novel_inputs`` the workflow computes every spectrum a second time
from the next, disjoint block of test sequences (input set 1, see
:func:`lyapunov_rnn.spectra.network_spectra`). Here the early-prediction
protocol (:func:`lyapunov_rnn.analysis.early_prediction.early_prediction_table`)
is fitted on the first set only (AeLLE, its PCA direction, the logistic
regression and every threshold) and then applied unchanged to the spectra
of the same checkpoints driven by the novel inputs. If the latent space
generalises, the test networks' F1 on the novel inputs matches the fitted
one.

Only the methods that read the spectrum
(:data:`~lyapunov_rnn.analysis.early_prediction.SPECTRUM_METHODS`) are scored
on the novel inputs; the validation loss and the configuration-only
baseline do not depend on the driving sequences and appear once, under the
fitted inputs. No torch here: latent codes come from the fit's ``encode``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd
import xarray as xr

from lyapunov_rnn.analysis.early_prediction import (
    SPECTRUM_METHODS,
    TABLE_COLUMNS,
    align_evaluation,
    early_prediction_table,
    high_accuracy_labels,
    method_order,
)
from lyapunov_rnn.analysis.embedding import embed_and_transform
from lyapunov_rnn.dataset import final_values, valid_spectrum_mask

if TYPE_CHECKING:
    from lyapunov_rnn.aelle import AelleFit

__all__ = [
    "INPUT_SETS",
    "NOVEL_TABLE_COLUMNS",
    "leading_exponents",
    "novel_inputs_embedding",
    "novel_inputs_markdown",
    "novel_inputs_table",
]

#: The ``inputs`` of a row: the spectra the rules were fitted on, or those of the novel input sequences.
INPUT_SETS: tuple[str, ...] = ("fitted", "novel")
NOVEL_TABLE_COLUMNS: tuple[str, ...] = ("inputs", "first_sequence", "sequences", *TABLE_COLUMNS)


def _check_pair(ds_fitted: xr.Dataset, ds_novel: xr.Dataset) -> xr.Dataset:
    """``ds_novel`` aligned to ``ds_fitted``; raises unless both hold the same checkpoints driven by other sequences."""
    novel = align_evaluation(ds_fitted, ds_novel)
    first = [data.attrs.get("first_sequence") for data in (ds_fitted, novel)]
    if None not in first and first[0] == first[1]:
        raise ValueError(f"both datasets were driven by the same test sequences (first_sequence = {first[0]})")
    return novel


def _driving_sequences(ds: xr.Dataset) -> tuple[int | None, int | None]:
    """The first driving test sequence and their number, from the dataset's attributes (None if not recorded)."""
    first, count = ds.attrs.get("first_sequence"), ds.attrs.get("sequences")
    return (None if first is None else int(first)), (None if count is None else int(count))


def novel_inputs_table(
    ds_fitted: xr.Dataset,
    ds_novel: xr.Dataset,
    fit: AelleFit,
    stages: Sequence[float] = (0.0, 0.1, 0.2, 0.5),
    *,
    resamples: int = 2000,
    seed: int = 0,
) -> pd.DataFrame:
    """Early prediction on the fitted inputs and, with the same frozen rules, on the novel inputs.

    Parameters
    ----------
    ds_fitted : xr.Dataset
        Experiment dataset whose spectra the AeLLE ``fit`` and the rules are fitted on.
    ds_novel : xr.Dataset
        The same networks and checkpoints (same epochs and losses), spectra
        driven by other test sequences.
    fit : AelleFit
        AeLLE trained on ``ds_fitted``; its split defines the test networks.
    stages : sequence of float
        Training fractions in [0, 1].
    resamples, seed
        Bootstrap resamples per interval and their seed.

    Returns
    -------
    pd.DataFrame
        Columns :data:`NOVEL_TABLE_COLUMNS`: ``inputs`` (``"fitted"`` or
        ``"novel"``), the first driving test sequence and their number where
        the datasets record them (else <NA>), then the columns of
        :func:`~lyapunov_rnn.analysis.early_prediction.early_prediction_table`.
        The novel rows hold the spectrum methods only; their rules
        (``direction``, ``threshold``) are the fitted ones.

    Raises
    ------
    ValueError
        If the datasets differ in networks, epochs or losses, or record the
        same driving sequences.
    """
    novel = _check_pair(ds_fitted, ds_novel)
    options = {"stages": stages, "resamples": resamples, "seed": seed}
    tables = {
        "fitted": early_prediction_table(ds_fitted, fit, **options),
        "novel": early_prediction_table(ds_fitted, fit, evaluate_on=novel, **options),
    }
    tables["novel"] = tables["novel"][tables["novel"]["method"].isin(SPECTRUM_METHODS)]
    parts = []
    for inputs, data in zip(INPUT_SETS, (ds_fitted, novel), strict=True):
        first, count = _driving_sequences(data)
        parts.append(tables[inputs].assign(inputs=inputs, first_sequence=first, sequences=count))
    table = pd.concat(parts, ignore_index=True)
    table = table.astype({"first_sequence": "Int64", "sequences": "Int64"})
    return table[list(NOVEL_TABLE_COLUMNS)]


def leading_exponents(ds_fitted: xr.Dataset, ds_novel: xr.Dataset) -> pd.DataFrame:
    """The largest exponent of every (network, checkpoint) from both input sets, where both spectra are valid.

    Returns
    -------
    pd.DataFrame
        Columns ``network, checkpoint, epoch, training_fraction,
        architecture, fitted, novel``: lambda_1 in the units of the datasets.
    """
    novel = _check_pair(ds_fitted, ds_novel)
    frame = pd.DataFrame(
        {
            "fitted": ds_fitted["exponents"].max("exponent").to_series(),
            "novel": novel["exponents"].max("exponent").to_series(),
        }
    )
    valid = (valid_spectrum_mask(ds_fitted) & valid_spectrum_mask(novel)).to_series()
    frame = frame[valid.reindex(frame.index).to_numpy()].reset_index()
    per_checkpoint = pd.DataFrame(
        {"epoch": ds_fitted["epoch"].values, "training_fraction": ds_fitted["training_fraction"].values},
        index=pd.Index(ds_fitted["checkpoint"].values, name="checkpoint"),
    )
    frame = frame.join(per_checkpoint, on="checkpoint")
    frame["architecture"] = ds_fitted["architecture"].to_series().reindex(frame["network"]).to_numpy()
    return frame[["network", "checkpoint", "epoch", "training_fraction", "architecture", "fitted", "novel"]]


def novel_inputs_embedding(
    ds_fitted: xr.Dataset,
    ds_novel: xr.Dataset,
    fit: AelleFit,
    *,
    method: Literal["pca", "umap"] = "pca",
    seed: int = 0,
) -> pd.DataFrame:
    """The AeLLE latent codes of both input sets in one 2-D embedding, fitted on the first set's codes.

    Returns
    -------
    pd.DataFrame
        One row per valid (inputs, network, checkpoint): ``inputs``,
        ``network``, ``checkpoint``, ``training_fraction``, ``split``,
        ``final_val_loss``, ``high`` (final validation loss below the median
        of the training and validation networks, as in early prediction) and
        the coordinates ``dim1``, ``dim2`` (arbitrary units).
    """
    novel = _check_pair(ds_fitted, ds_novel)
    split = fit.split.reindex(ds_fitted["network"].values).fillna("")
    samples = final_values(ds_fitted, "val_loss").rename("final_val_loss").to_dataframe()[["final_val_loss"]]
    samples = samples.assign(split=split.to_numpy(), high=high_accuracy_labels(ds_fitted, split).to_numpy())
    frames, codes = {}, {}
    for inputs, data in zip(INPUT_SETS, (ds_fitted, novel), strict=True):
        spectra = data["exponents"].transpose("network", "checkpoint", "exponent").values
        latent = fit.encode(spectra.reshape(-1, spectra.shape[-1]))
        keep = valid_spectrum_mask(data).transpose("network", "checkpoint").values.ravel() & np.isfinite(latent).all(1)
        network, checkpoint = (
            index.ravel()[keep] for index in np.indices((data.sizes["network"], data.sizes["checkpoint"]))
        )
        frames[inputs] = pd.DataFrame(
            {
                "inputs": inputs,
                "network": data["network"].values[network],
                "checkpoint": data["checkpoint"].values[checkpoint],
                "training_fraction": data["training_fraction"].values[checkpoint],
            }
        ).join(samples, on="network")
        codes[inputs] = latent[keep]
    coordinates = embed_and_transform(codes["fitted"], codes["novel"], method, seed)
    for inputs, embedded in zip(INPUT_SETS, coordinates, strict=True):
        frames[inputs][["dim1", "dim2"]] = embedded
    return pd.concat(frames.values(), ignore_index=True)


def _f1_cell(row: pd.Series) -> str:
    return f"{row['f1']:.2f} [{row['f1_low']:.2f}, {row['f1_high']:.2f}]"


def novel_inputs_markdown(table: pd.DataFrame, leading: pd.DataFrame | None = None) -> str:
    """The table of :func:`novel_inputs_table` as GitHub markdown, both input sets side by side.

    One row per method; for each stage a column for the fitted and one for
    the novel inputs, each cell ``F1 [95 % interval]``. "–" where a method
    has no value (the validation loss before training); "same" in the novel
    column of the methods that do not read the spectrum. With ``leading``
    (:func:`leading_exponents`), a line on how well the largest exponents of
    the two input sets agree.
    """
    fitted = table[table["inputs"] == "fitted"]
    stages = fitted.drop_duplicates("training_fraction").sort_values("training_fraction")
    header = []
    for fraction, epoch in zip(stages["training_fraction"], stages["epoch"], strict=True):
        header += [f"{fraction:.0%} (epoch {epoch}), fitted", f"{fraction:.0%} (epoch {epoch}), novel"]
    sequences = []
    for inputs in INPUT_SETS:
        rows = table[table["inputs"] == inputs]
        first, count = rows["first_sequence"].iloc[0], rows["sequences"].iloc[0]
        if not (pd.isna(first) or pd.isna(count)):
            sequences.append(f"{inputs}: test sequences [{first}, {first + count})")
    n_test, n_high = int(fitted["n_test"].iloc[0]), int(fitted["n_high"].iloc[0])
    lines = [
        "Generalisation to novel inputs: every rule is fitted on the spectra of the fitted inputs and applied "
        "unchanged to the spectra of the same checkpoints driven by novel, disjoint test sequences"
        + (f" ({'; '.join(sequences)})" if sequences else "")
        + ".",
        f"n_test = {n_test} test networks, {n_high} of them high accuracy. "
        "Cells: F1 [95 % bootstrap interval]; \"same\": the method does not read the spectrum.",
    ]
    if leading is not None and len(leading) > 1:
        difference = (leading["novel"] - leading["fitted"]).abs()
        correlation = np.corrcoef(leading["fitted"], leading["novel"])[0, 1]
        lines.append(
            f"Largest exponent, novel vs fitted inputs, over {len(leading)} (network, checkpoint) spectra: Pearson r = "
            f"{correlation:.3f}, median |difference| = {difference.median():.3g}, largest {difference.max():.3g} "
            "(units of the dataset)."
        )
    lines += ["", "| method | " + " | ".join(header) + " |", "|---|" + "---|" * len(header)]
    for method in method_order(table):
        cells = []
        by_inputs = {
            inputs: table[(table["inputs"] == inputs) & (table["method"] == method)].set_index("training_fraction")
            for inputs in INPUT_SETS
        }
        for fraction in stages["training_fraction"]:
            for inputs in INPUT_SETS:
                rows = by_inputs[inputs]
                if fraction in rows.index:
                    cells.append(_f1_cell(rows.loc[[fraction]].iloc[0]))
                elif inputs == "novel" and method not in SPECTRUM_METHODS and fraction in by_inputs["fitted"].index:
                    cells.append("same")
                else:
                    cells.append("–")
        lines.append(f"| {method} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
