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
from lyapunov_rnn.lyapunov import lyapunov_spectrum, tangent_size
from lyapunov_rnn.tasks import TaskData

__all__ = ["network_spectra"]


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
        ``warmup``, ``k``, ``convention`` and ``dtype`` passed to
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
    sequences = options.sequences
    if input_set < 0:
        raise ValueError(f"input_set must be >= 0, got {input_set}")
    first, available = input_set * sequences, task.test_inputs.shape[0]
    if first + sequences > available:
        raise ValueError(
            f"lyapunov.sequences={sequences}: input set {input_set} needs test sequences "
            f"[{first}, {first + sequences}), but {task.name} has {available} test sequences"
        )
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    dtype = getattr(torch, options.dtype)
    inputs = task.test_inputs[first : first + sequences].to(device=device, dtype=dtype)
    means, sems, resolved, infos = [], [], [], []
    # A bar on a terminal; in a log file (a workflow job) one line per checkpoint instead of carriage returns.
    interactive = progress and sys.stderr.isatty()
    with _torch_threads(num_threads):
        for path in tqdm(checkpoints, desc="spectra", unit="checkpoint", disable=not interactive):
            model, info = load_checkpoint(path, map_location=device)
            size = options.k or tangent_size(model, options.convention)
            finite = all(torch.isfinite(p).all() for p in model.parameters())
            if info["diverged"] or not finite:
                mean = sem = np.full(size, np.nan)
                all_resolved = np.zeros(size, dtype=bool)
            else:
                result = lyapunov_spectrum(
                    model, inputs, k=options.k, warmup=options.warmup, convention=options.convention, dtype=dtype
                )
                exponents = result.exponents.detach().cpu().double().numpy()
                mean = exponents.mean(axis=0)
                sem = exponents.std(axis=0, ddof=1) / np.sqrt(sequences) if sequences > 1 else np.full(size, np.nan)
                # A mean over sequences is only as determined as its least determined term.
                all_resolved = result.resolved.all(dim=0).cpu().numpy()
            means.append(mean)
            sems.append(sem)
            resolved.append(all_resolved)
            infos.append(info)
            if progress and not interactive:
                status = "diverged" if not np.isfinite(mean).any() else f"largest exponent {mean.max():.4g}"
                print(f"{Path(path).name}: epoch {info['epoch']}, {status}", flush=True)
    ds = network_dataset(
        np.stack(means),
        np.stack(sems),
        infos,
        task=task.name,
        convention=options.convention,
        exponents_resolved=np.stack(resolved),
    )
    ds.attrs.update(input_set=int(input_set), first_sequence=int(first))
    return ds
