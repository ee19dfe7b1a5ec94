"""Lyapunov spectra of every checkpoint of one trained network."""

from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch
import xarray as xr
from tqdm.auto import tqdm

from lyapunov_rnn.checkpoints import load_checkpoint
from lyapunov_rnn.config import LyapunovConfig
from lyapunov_rnn.dataset import network_dataset
from lyapunov_rnn.devices import resolve_device
from lyapunov_rnn.lyapunov import LyapunovResult, ensemble_spectrum, lyapunov_spectrum, tangent_size
from lyapunov_rnn.tasks import TaskData

__all__ = ["group_spectra", "network_spectra"]


@contextmanager
def _torch_threads(num_threads: int | None) -> Iterator[None]:
    """Run the block with ``num_threads`` torch intra-op threads (None: unchanged), then restore the setting."""
    previous = torch.get_num_threads()
    if num_threads is not None:
        torch.set_num_threads(num_threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def network_spectra(
    checkpoints: Sequence[str | Path],
    task: TaskData,
    options: LyapunovConfig | None = None,
    *,
    input_set: int = 0,
    device: str | torch.device | None = None,
    num_threads: int | None = 1,
    progress: bool = True,
) -> xr.Dataset:
    """Spectrum of each checkpoint of one network, as a labeled dataset.

    Parameters
    ----------
    checkpoints : sequence of path-like
        ``epoch_000.pt`` ... ``epoch_EEE.pt`` of one network, in epoch order.
    task : TaskData
        Its test sequences drive the network, ``options.sequences`` of them
        (see ``input_set``).
    options : LyapunovConfig, optional
        Number of driving sequences (the spectrum is their mean) and the
        ``warmup``, ``k``, ``convention``, ``dtype`` and ``rounding_check`` passed to
        :func:`lyapunov_rnn.lyapunov_spectrum`; default: the configuration
        schema's defaults.
    input_set : int
        Which block of S = ``options.sequences`` test sequences drives the
        network: sequences ``[input_set * S, (input_set + 1) * S)`` of the
        test split. Different sets are disjoint by construction; set 0 (the
        first S sequences) is the experiment's spectrum, set 1 the novel
        inputs of :mod:`lyapunov_rnn.analysis.generalisation`.
    device : str or torch.device, optional
        Defaults to CUDA when available.
    num_threads : int or None
        Torch intra-op CPU threads for the computation (restored
        afterwards); None keeps the current setting. The values depend on it
        through rounding (README, "Numerical resolution"), unresolved
        exponents by up to tens of nats per step, so the workflow and the
        CLI both use the default, 1, and give identical numbers for the same
        checkpoint on the same device.
    progress : bool
        Progress bar over checkpoints.

    Returns
    -------
    xarray.Dataset
        :func:`lyapunov_rnn.dataset.network_dataset`: dims ``checkpoint``,
        ``exponent``; ``exponents`` and ``exponents_sem`` (mean and standard
        error over sequences), ``exponents_resolved`` (True where the
        exponent is resolved for every driving sequence,
        :attr:`lyapunov_rnn.lyapunov.LyapunovResult.resolved`), the
        checkpoints' losses and accuracies and ``diverged``. Diverged
        checkpoints have NaN spectra, marked unresolved. Attributes
        ``input_set`` and ``first_sequence`` (the index of the first driving
        sequence in the test split) record which sequences drove it.

    Raises
    ------
    ValueError
        If the test split holds fewer than ``(input_set + 1) * sequences``
        sequences (the message names ``lyapunov.sequences``).
    """
    options = options or LyapunovConfig()
    device = resolve_device(device)
    dtype = getattr(torch, options.dtype)
    inputs = _driving_inputs(task, options, input_set).to(device=device, dtype=dtype)
    summaries, infos = [], []
    # A bar on a terminal; in a log file (a workflow job) one line per checkpoint instead of carriage returns.
    interactive = progress and sys.stderr.isatty()
    with _torch_threads(num_threads):
        for path in tqdm(checkpoints, desc="spectra", unit="checkpoint", disable=not interactive):
            model, info = load_checkpoint(path, map_location=device)
            result = None
            if _trained(model, info):
                result = lyapunov_spectrum(model, inputs, dtype=dtype, **_engine_options(options))
            summaries.append(_summary(result, model, options))
            infos.append(info)
            if progress and not interactive:
                _log_checkpoint(path, info, summaries[-1][0])
    return _dataset(summaries, infos, task, options, input_set)


def group_spectra(
    checkpoint_lists: Sequence[Sequence[str | Path]],
    task: TaskData,
    options: LyapunovConfig | None = None,
    *,
    input_set: int = 0,
    device: str | torch.device | None = None,
    num_threads: int | None = 1,
    batched: bool | None = None,
    progress: bool = True,
) -> list[xr.Dataset]:
    """:func:`network_spectra` of several networks of one architecture and size (a training group).

    On a GPU, the spectra of every network's checkpoint of one epoch are
    computed in one engine run (:func:`lyapunov_rnn.lyapunov.ensemble_spectrum`,
    networks x sequences as the batch), which keeps the device busy where one
    small network would not. They then equal the per-network results up to
    rounding, as another thread count or device would. On the CPU, where
    batching gains little (1.1-1.5x at N = 32, none at N = 64:
    benchmarks/README.md), each network is computed alone, so that the
    results are bit for bit those of :func:`network_spectra` and of
    ``lyapunov-rnn spectrum``, whatever the group.

    Parameters
    ----------
    checkpoint_lists : sequence of sequences of path-like
        Per network, its checkpoints in epoch order; all networks have the
        same number of checkpoints.
    task, options, input_set, device, num_threads, progress
        As in :func:`network_spectra`.
    batched : bool, optional
        One engine run per epoch for all networks (True) or one per network
        and checkpoint (False); default: batched on a GPU only.

    Returns
    -------
    list of xarray.Dataset
        One :func:`network_spectra` dataset per network, in order.
    """
    options = options or LyapunovConfig()
    device = resolve_device(device)
    if batched is None:
        batched = device.type == "cuda"
    if not batched or len(checkpoint_lists) == 1:
        return [
            network_spectra(
                paths, task, options, input_set=input_set, device=device, num_threads=num_threads, progress=progress
            )
            for paths in checkpoint_lists
        ]
    counts = {len(paths) for paths in checkpoint_lists}
    if len(counts) != 1:
        raise ValueError(f"the networks of a group have different numbers of checkpoints: {sorted(counts)}")
    inputs = _driving_inputs(task, options, input_set).to(device=device, dtype=getattr(torch, options.dtype))
    summaries: list[list] = [[] for _ in checkpoint_lists]
    infos: list[list] = [[] for _ in checkpoint_lists]
    with _torch_threads(num_threads):
        for epoch in range(counts.pop()):
            loaded = [load_checkpoint(paths[epoch], map_location=device) for paths in checkpoint_lists]
            trained = [index for index, (model, info) in enumerate(loaded) if _trained(model, info)]
            results = dict.fromkeys(range(len(loaded)))
            if trained:
                computed = ensemble_spectrum(
                    [loaded[index][0] for index in trained],
                    inputs,
                    dtype=getattr(torch, options.dtype),
                    **_engine_options(options),
                )
                results.update(zip(trained, computed, strict=True))
            for index, (model, info) in enumerate(loaded):
                summaries[index].append(_summary(results[index], model, options))
                infos[index].append(info)
            if progress:
                print(f"epoch {loaded[0][1]['epoch']}: {len(trained)} of {len(loaded)} networks", flush=True)
    return [
        _dataset(network_summaries, network_infos, task, options, input_set)
        for network_summaries, network_infos in zip(summaries, infos, strict=True)
    ]


def _driving_inputs(task: TaskData, options: LyapunovConfig, input_set: int) -> torch.Tensor:
    """Test sequences ``[input_set * S, (input_set + 1) * S)``, S = ``options.sequences``; raises if too few."""
    sequences = options.sequences
    if input_set < 0:
        raise ValueError(f"input_set must be >= 0, got {input_set}")
    first, available = input_set * sequences, task.test_inputs.shape[0]
    if first + sequences > available:
        raise ValueError(
            f"lyapunov.sequences={sequences}: input set {input_set} needs test sequences "
            f"[{first}, {first + sequences}), but {task.name} has {available} test sequences"
        )
    return task.test_inputs[first : first + sequences]


def _engine_options(options: LyapunovConfig) -> dict:
    """The keyword arguments of the engine's call (besides ``dtype``)."""
    return dict(
        k=options.k, warmup=options.warmup, convention=options.convention, rounding_check=options.rounding_check
    )


def _trained(model: torch.nn.Module, info: dict) -> bool:
    """Whether a checkpoint has a spectrum: not diverged, finite weights."""
    return not info["diverged"] and all(torch.isfinite(p).all() for p in model.parameters())


def _summary(result: LyapunovResult | None, model: torch.nn.Module, options: LyapunovConfig) -> tuple:
    """Mean, standard error over the sequences and the resolved mask of one checkpoint (NaN, False if None)."""
    if result is None:
        size = options.k or tangent_size(model, options.convention)
        return np.full(size, np.nan), np.full(size, np.nan), np.zeros(size, dtype=bool)
    exponents = result.exponents.detach().cpu().double().numpy()
    sequences = exponents.shape[0]
    mean = exponents.mean(axis=0)
    sem = exponents.std(axis=0, ddof=1) / np.sqrt(sequences) if sequences > 1 else np.full(mean.shape, np.nan)
    # A mean over sequences is only as determined as its least determined term.
    return mean, sem, result.resolved.all(dim=0).cpu().numpy()


def _log_checkpoint(path: str | Path, info: dict, mean: np.ndarray) -> None:
    status = "diverged" if not np.isfinite(mean).any() else f"largest exponent {mean.max():.4g}"
    print(f"{Path(path).name}: epoch {info['epoch']}, {status}", flush=True)


def _dataset(summaries: list[tuple], infos: list[dict], task: TaskData, options: LyapunovConfig, input_set: int):
    means, sems, resolved = (np.stack(column) for column in zip(*summaries, strict=True))
    ds = network_dataset(means, sems, infos, task=task.name, convention=options.convention, exponents_resolved=resolved)
    ds.attrs.update(input_set=int(input_set), first_sequence=int(input_set * options.sequences))
    return ds
