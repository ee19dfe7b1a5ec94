"""Convergence of the Lyapunov-exponent estimate in the sequence length T and in the number of driving sequences.

A spectrum in the experiment dataset is the mean over ``lyapunov.sequences``
test sequences of exponents averaged over the task's T time steps. Whether
both are enough shows in two curves per exponent:

* the finite-time exponents after the first T measured steps, averaged over
  the sequences, against T (:attr:`LyapunovResult.finite_time
  <lyapunov_rnn.lyapunov.LyapunovResult>`): flat at the end means T is long
  enough;
* the full-length exponents averaged over the first n sequences, against n:
  flat, with a small standard error, at the configured number means the
  configured number is enough.

Both carry the standard error over sequences (``std(ddof=1) / sqrt(n)``).
:func:`spectrum_convergence` computes them for one model;
:func:`experiment_convergence` for one representative network per
architecture of an experiment (:func:`representative_networks`), driven by
more test sequences than the spectra of the experiment used.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import xarray as xr
from torch import Tensor, nn

from lyapunov_rnn.checkpoints import checkpoint_name, load_checkpoint
from lyapunov_rnn.config import ConfigError, LyapunovConfig
from lyapunov_rnn.conventions import canonical_convention
from lyapunov_rnn.dataset import final_values, units, valid_spectrum_mask
from lyapunov_rnn.devices import resolve_device
from lyapunov_rnn.lyapunov import lyapunov_spectrum
from lyapunov_rnn.tasks import TaskData

__all__ = [
    "CONVERGENCE_FACTOR",
    "REPRESENTATIVE_CHOICE",
    "convergence_sequence_count",
    "experiment_convergence",
    "representative_networks",
    "spectrum_convergence",
]

#: ``analysis.convergence_sequences: null`` drives the networks with this many times ``lyapunov.sequences``.
CONVERGENCE_FACTOR = 4

#: How :func:`representative_networks` chooses; stored in the ``selection`` attribute of its results.
REPRESENTATIVE_CHOICE = (
    "per architecture, among the networks that did not diverge and have a finite spectrum and final validation loss "
    "at the last checkpoint, the one whose final validation loss is the median (the lower of the two middle ones "
    "for an even count), at its last checkpoint"
)


def _mean_and_sem(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean over axis 0 and its standard error ``std(ddof=1) / sqrt(n)`` (NaN for a single value)."""
    count = values.shape[0]
    mean = values.mean(axis=0)
    if count < 2:
        return mean, np.full_like(mean, np.nan)
    return mean, values.std(axis=0, ddof=1) / np.sqrt(count)


def _running_mean_and_sem(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean over the first n rows and its standard error, for n = 1 .. len(values).

    Parameters
    ----------
    values : numpy.ndarray, shape (B, k)

    Returns
    -------
    mean, sem : numpy.ndarray, shape (B, k)
        Row ``n - 1`` holds the mean of ``values[:n]`` and
        ``std(values[:n], ddof=1) / sqrt(n)``; the standard error of one
        value is NaN.
    """
    counts = np.arange(1, values.shape[0] + 1, dtype=float)[:, None]
    # Sums of deviations from the overall mean: no cancellation when the spread is tiny against the mean.
    deviations = values - values.mean(axis=0)
    first, second = np.cumsum(deviations, axis=0), np.cumsum(deviations**2, axis=0)
    mean = values.mean(axis=0) + first / counts
    with np.errstate(invalid="ignore", divide="ignore"):
        variance = np.clip(second - first**2 / counts, 0.0, None) / (counts - 1)
        sem = np.sqrt(variance / counts)
    sem[0] = np.nan
    return mean, sem


def spectrum_convergence(model: nn.Module, inputs: Tensor, options: LyapunovConfig | None = None) -> xr.Dataset:
    """Exponents of one model against the sequence length and against the number of sequences averaged.

    Parameters
    ----------
    model : nn.Module
        Any module :func:`lyapunov_rnn.lyapunov_spectrum` accepts (e.g. a
        checkpoint's :class:`~lyapunov_rnn.models.SequenceModel`).
    inputs : Tensor
        (B, T, I) driving sequences, every one of them used; B >= 1.
    options : LyapunovConfig, optional
        ``warmup``, ``k``, ``convention`` and ``dtype`` of the spectrum;
        ``sequences`` (the number the experiment's spectra average) is only
        recorded, as the ``sequences`` attribute. Default: the schema's.

    Returns
    -------
    xarray.Dataset
        Dims ``steps`` (1 .. measured steps: T - warmup for ``benettin``, T
        for ``reference``), ``sequences`` (1 .. B) and ``exponent`` (1 .. k),
        exponents sorted descending per sequence, in :func:`lyapunov_rnn.dataset.units`
        of the convention:

        ``exponents_by_length`` (steps, exponent)
            Finite-time exponents over the first T measured steps, mean over
            the B sequences; the last row is the full-length spectrum.
        ``exponents_by_length_sem`` (steps, exponent)
            Its standard error over sequences (NaN for B = 1).
        ``exponents_by_sequences`` (sequences, exponent)
            Full-length exponents, mean over the first n sequences.
        ``exponents_by_sequences_sem`` (sequences, exponent)
            Its standard error over those n sequences (NaN for n = 1).

        Attributes ``units``, ``convention``, ``warmup`` (steps used),
        ``dtype``, ``sequences`` (``options.sequences``) and
        ``convergence_sequences`` (B).
    """
    options = options or LyapunovConfig()
    convention = canonical_convention(options.convention)
    result = lyapunov_spectrum(
        model,
        inputs,
        k=options.k,
        warmup=options.warmup,
        convention=convention,
        dtype=getattr(torch, options.dtype),
        keep_finite_time=True,
    )
    finite_time = result.finite_time.detach().cpu().double().numpy()  # (B, steps, k)
    exponents = result.exponents.detach().cpu().double().numpy()  # (B, k)
    by_length, by_length_sem = _mean_and_sem(finite_time)
    by_sequences, by_sequences_sem = _running_mean_and_sem(exponents)
    batch, steps, k = finite_time.shape
    unit = units(convention)
    return xr.Dataset(
        {
            "exponents_by_length": (
                ("steps", "exponent"),
                by_length,
                {"units": unit, "long_name": "finite-time exponents over the first T steps, mean over sequences"},
            ),
            "exponents_by_length_sem": (
                ("steps", "exponent"),
                by_length_sem,
                {"units": unit, "long_name": "standard error over sequences of exponents_by_length"},
            ),
            "exponents_by_sequences": (
                ("sequences", "exponent"),
                by_sequences,
                {"units": unit, "long_name": "full-length exponents, mean over the first n sequences"},
            ),
            "exponents_by_sequences_sem": (
                ("sequences", "exponent"),
                by_sequences_sem,
                {"units": unit, "long_name": "standard error over the first n sequences of exponents_by_sequences"},
            ),
        },
        coords={
            "steps": ("steps", np.arange(1, steps + 1), {"long_name": "measured time steps averaged, T"}),
            "sequences": ("sequences", np.arange(1, batch + 1), {"long_name": "driving sequences averaged, n"}),
            "exponent": np.arange(1, k + 1),
        },
        attrs={
            "units": unit,
            "convention": convention,
            "warmup": int(result.warmup),
            "dtype": str(options.dtype),
            "sequences": int(options.sequences),
            "convergence_sequences": int(batch),
        },
    )


def convergence_sequence_count(requested: int | None, configured: int, available: int, task: str = "the task") -> int:
    """The number of test sequences that drive the networks of the convergence analysis.

    Parameters
    ----------
    requested : int or None
        ``analysis.convergence_sequences``; None: :data:`CONVERGENCE_FACTOR`
        x ``configured``, at most ``available``.
    configured : int
        ``lyapunov.sequences``, the number the experiment's spectra average.
    available : int
        Test sequences of the task.
    task : str
        The task's name, for messages.

    Returns
    -------
    int
        At least ``configured`` and at most ``available``.

    Raises
    ------
    ConfigError
        Naming ``analysis.convergence_sequences`` if ``requested`` exceeds the
        test split or is below ``configured`` (the figure would not reach the
        configured number), or ``lyapunov.sequences`` if ``configured``
        already exceeds the test split.
    """
    if configured > available:
        raise ConfigError(f"lyapunov.sequences={configured} exceeds the {available} test sequences of {task}")
    if requested is None:
        return min(CONVERGENCE_FACTOR * configured, available)
    if isinstance(requested, bool) or not isinstance(requested, int | np.integer) or requested < 1:
        raise ConfigError(f"analysis.convergence_sequences: must be a positive integer, got {requested!r}")
    if requested > available:
        raise ConfigError(
            f"analysis.convergence_sequences={requested} exceeds the {available} test sequences of {task}"
        )
    if requested < configured:
        raise ConfigError(
            f"analysis.convergence_sequences={requested} is below lyapunov.sequences={configured}: the convergence "
            "figure must reach the configured number of sequences"
        )
    return int(requested)


def representative_networks(ds: xr.Dataset) -> pd.DataFrame:
    """One network per architecture: the median one by final validation loss, among those that did not diverge.

    Parameters
    ----------
    ds : xarray.Dataset
        Experiment dataset (:mod:`lyapunov_rnn.dataset`).

    Returns
    -------
    pandas.DataFrame
        Indexed by ``architecture`` (in order of first appearance in ``ds``),
        columns ``network`` (id), ``final_val_loss`` and ``candidates`` (the
        architecture's networks eligible). See :data:`REPRESENTATIVE_CHOICE`:
        eligible are networks not diverged at the last checkpoint, with a
        finite final validation loss and spectrum; ties in the loss are
        broken by network id. Architectures without an eligible network are
        left out.

    Raises
    ------
    ValueError
        If no network of any architecture is eligible.
    """
    last = ds.isel(checkpoint=-1)
    final_loss = final_values(ds, "val_loss").values.astype(float)
    eligible = ~last["diverged"].values.astype(bool) & valid_spectrum_mask(last).values & np.isfinite(final_loss)
    table = pd.DataFrame(
        {
            "network": ds["network"].values.astype(str),
            "architecture": ds["architecture"].values.astype(str),
            "final_val_loss": final_loss,
        }
    )
    rows = []
    for architecture in pd.unique(table["architecture"]):
        members = table[(table["architecture"] == architecture) & eligible]
        if members.empty:
            continue
        ranked = members.sort_values(["final_val_loss", "network"], kind="stable")
        chosen = ranked.iloc[(len(ranked) - 1) // 2]
        rows.append(
            {
                "architecture": architecture,
                "network": chosen["network"],
                "final_val_loss": float(chosen["final_val_loss"]),
                "candidates": len(ranked),
            }
        )
    if not rows:
        raise ValueError("no network has a finite spectrum and final validation loss at the last checkpoint")
    return pd.DataFrame(rows).set_index("architecture")


def experiment_convergence(
    ds: xr.Dataset,
    checkpoint_dirs: Mapping[str, str | Path],
    task: TaskData,
    options: LyapunovConfig | None = None,
    *,
    sequences: int | None = None,
    device: str | torch.device | None = None,
) -> xr.Dataset:
    """:func:`spectrum_convergence` of one representative network per architecture of an experiment.

    Parameters
    ----------
    ds : xarray.Dataset
        The experiment dataset; :func:`representative_networks` chooses from it.
    checkpoint_dirs : mapping
        Network id -> its checkpoint directory (``epoch_000.pt`` ...); the
        checkpoint of the dataset's last epoch is used.
    task : TaskData
        The first ``sequences`` test sequences drive the networks.
    options : LyapunovConfig, optional
        The experiment's ``lyapunov`` section (the spectrum's options, and
        ``sequences``, the configured number, marked in the figure).
    sequences : int, optional
        ``analysis.convergence_sequences`` (see :func:`convergence_sequence_count`).
    device : str or torch.device, optional
        Defaults to CUDA when available.

    Returns
    -------
    xarray.Dataset
        The variables of :func:`spectrum_convergence` with a leading
        ``architecture`` dimension, NaN-padded along ``exponent`` beyond each
        network's ``exponent_count``; coordinates on ``architecture``:
        ``network``, ``hidden_size``, ``init_param``, ``state_size``,
        ``exponent_count``, ``final_val_loss``, ``epoch``. Attributes as
        :func:`spectrum_convergence`'s plus ``experiment``,
        ``sequence_length`` (T of the task) and ``selection``.

    Raises
    ------
    ConfigError
        For a number of sequences the task cannot provide (naming the key).
    ValueError
        If a chosen network has no checkpoint directory, or its checkpoint
        says it diverged while the dataset does not.
    """
    options = options or LyapunovConfig()
    available = int(task.test_inputs.shape[0])
    count = convergence_sequence_count(sequences, options.sequences, available, task.name)
    device = resolve_device(device)
    inputs = task.test_inputs[:count].to(device=device, dtype=getattr(torch, options.dtype))
    epoch = int(ds["epoch"].values[-1])
    parts = []
    for architecture, chosen in representative_networks(ds).iterrows():
        if chosen["network"] not in checkpoint_dirs:
            raise ValueError(f"no checkpoint directory given for network {chosen['network']}")
        path = Path(checkpoint_dirs[chosen["network"]]) / checkpoint_name(epoch)
        model, info = load_checkpoint(path, map_location=device)
        if info["diverged"]:
            raise ValueError(f"{path} is marked diverged but the dataset's last spectrum of it is finite")
        part = spectrum_convergence(model, inputs, options)
        network = ds.sel(network=chosen["network"])
        labels = {
            "network": str(chosen["network"]),
            "hidden_size": int(network["hidden_size"]),
            "init_param": float(network["init_param"]),
            "state_size": int(network["state_size"]),
            "exponent_count": int(part.sizes["exponent"]),
            "final_val_loss": float(chosen["final_val_loss"]),
            "epoch": epoch,
        }
        parts.append(
            part.expand_dims(architecture=[architecture]).assign_coords(
                {name: ("architecture", [value]) for name, value in labels.items()}
            )
        )
    result = xr.concat(parts, dim="architecture", join="outer", combine_attrs="override")
    result.attrs.update(
        experiment=str(ds.attrs.get("experiment", "")),
        sequence_length=int(task.test_inputs.shape[1]),
        selection=REPRESENTATIVE_CHOICE,
    )
    return result
