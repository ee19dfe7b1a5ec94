"""Lyapunov spectra of every checkpoint of one trained network."""

from __future__ import annotations

from collections.abc import Sequence
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


def network_spectra(
    checkpoints: Sequence[str | Path],
    task: TaskData,
    options: LyapunovConfig | None = None,
    *,
    device: str | torch.device | None = None,
    progress: bool = True,
) -> xr.Dataset:
    """Spectrum of each checkpoint of one network, as a labeled dataset.

    Parameters
    ----------
    checkpoints : sequence of path-like
        ``epoch_000.pt`` ... ``epoch_EEE.pt`` of one network, in epoch order.
    task : TaskData
        The first ``options.sequences`` test sequences drive the network.
    options : LyapunovConfig, optional
        Number of driving sequences (the spectrum is their mean) and the
        ``warmup``, ``k``, ``convention`` and ``dtype`` passed to
        :func:`lyapunov_rnn.lyapunov_spectrum`; default: the configuration
        schema's defaults.
    device : str or torch.device, optional
        Defaults to CUDA when available.
    progress : bool
        Progress bar over checkpoints.

    Returns
    -------
    xarray.Dataset
        :func:`lyapunov_rnn.dataset.network_dataset`: dims ``checkpoint``,
        ``exponent``; ``exponents`` and ``exponents_sem`` (mean and standard
        error over sequences), the checkpoints' losses and accuracies and
        ``diverged``. Diverged checkpoints have NaN spectra.
    """
    options = options or LyapunovConfig()
    sequences = options.sequences
    if sequences > task.test_inputs.shape[0]:
        raise ValueError(
            f"lyapunov.sequences={sequences} exceeds the {task.test_inputs.shape[0]} test sequences of {task.name}"
        )
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    dtype = getattr(torch, options.dtype)
    inputs = task.test_inputs[:sequences].to(device=device, dtype=dtype)
    means, sems, infos = [], [], []
    for path in tqdm(checkpoints, desc="spectra", unit="checkpoint", disable=not progress):
        model, info = load_checkpoint(path, map_location=device)
        size = options.k or tangent_size(model, options.convention)
        finite = all(torch.isfinite(p).all() for p in model.parameters())
        if info["diverged"] or not finite:
            mean = sem = np.full(size, np.nan)
        else:
            result = lyapunov_spectrum(
                model, inputs, k=options.k, warmup=options.warmup, convention=options.convention, dtype=dtype
            )
            exponents = result.exponents.detach().cpu().double().numpy()
            mean = exponents.mean(axis=0)
            sem = exponents.std(axis=0, ddof=1) / np.sqrt(sequences) if sequences > 1 else np.full(size, np.nan)
        means.append(mean)
        sems.append(sem)
        infos.append(info)
    return network_dataset(np.stack(means), np.stack(sems), infos, task=task.name, convention=options.convention)
