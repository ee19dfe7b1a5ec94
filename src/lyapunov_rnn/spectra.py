"""Lyapunov spectra of every checkpoint of one trained network."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import xarray as xr
from tqdm.auto import tqdm

from lyapunov_rnn.data import TaskData
from lyapunov_rnn.lyapunov import lyapunov_spectrum
from lyapunov_rnn.train import load_checkpoint

UNITS = {"benettin": "nats per step", "aelle": "bits per step"}


def state_size(architecture: str, hidden_size: int, convention: str) -> int:
    """Dimension of the dynamical state whose exponents are computed.

    LSTM (h, c) and coRNN (y, z) have 2N; the ``aelle`` convention keeps the
    reference code's hidden-only LSTM Jacobian (N).
    """
    if architecture == "cornn" or (architecture == "lstm" and convention == "benettin"):
        return 2 * hidden_size
    return hidden_size


def network_spectra(
    checkpoints: Sequence[str | Path],
    task: TaskData,
    *,
    sequences: int = 15,
    warmup: int = 0,
    k: int | None = None,
    convention: str = "benettin",
    dtype: torch.dtype = torch.float64,
    device: str | torch.device | None = None,
    progress: bool = True,
) -> xr.Dataset:
    """Spectrum of each checkpoint of one network, as a labeled dataset.

    Parameters
    ----------
    checkpoints : sequence of path-like
        ``epoch_000.pt`` ... ``epoch_EEE.pt`` of one network, in epoch order.
    task : TaskData
        The first ``sequences`` test sequences drive the network.
    sequences : int
        Number of input sequences; the spectrum is their mean.
    warmup, k, convention, dtype
        Passed to :func:`lyapunov_rnn.lyapunov_spectrum`.
    device : str or torch.device, optional
        Defaults to CUDA when available.
    progress : bool
        Progress bar over checkpoints.

    Returns
    -------
    xarray.Dataset
        Dims ``checkpoint``, ``exponent``; variables ``exponents`` and
        ``exponents_sem`` (mean and standard error over sequences, in
        ``UNITS[convention]``), ``train_loss``, ``val_loss``, ``val_accuracy``,
        ``diverged``. Diverged checkpoints have NaN spectra.
    """
    if sequences > task.test_inputs.shape[0]:
        raise ValueError(
            f"lyapunov.sequences={sequences} exceeds the {task.test_inputs.shape[0]} test sequences of {task.name}"
        )
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    inputs = task.test_inputs[:sequences].to(device=device, dtype=dtype)
    means, sems, infos = [], [], []
    for path in tqdm(checkpoints, desc="spectra", unit="checkpoint", disable=not progress):
        model, info = load_checkpoint(path, map_location=device)
        size = k or state_size(info["spec"]["architecture"], info["spec"]["hidden_size"], convention)
        finite = all(torch.isfinite(p).all() for p in model.parameters())
        if info["diverged"] or not finite:
            mean = sem = np.full(size, np.nan)
        else:
            result = lyapunov_spectrum(model, inputs, k=k, warmup=warmup, convention=convention, dtype=dtype)
            exponents = result.exponents.detach().cpu().double().numpy()
            mean = exponents.mean(axis=0)
            sem = exponents.std(axis=0, ddof=1) / np.sqrt(sequences) if sequences > 1 else np.full(size, np.nan)
        means.append(mean)
        sems.append(sem)
        infos.append(info)
    return _as_dataset(np.stack(means), np.stack(sems), infos, task, convention)


def _as_dataset(means: np.ndarray, sems: np.ndarray, infos: list[dict], task: TaskData, convention: str) -> xr.Dataset:
    epochs = np.array([info["epoch"] for info in infos])
    total_epochs = infos[-1]["epochs"]
    spec = infos[0]["spec"]
    checkpoint_dims = ("checkpoint",)
    return xr.Dataset(
        {
            "exponents": (("checkpoint", "exponent"), means, {"units": UNITS[convention]}),
            "exponents_sem": (("checkpoint", "exponent"), sems, {"units": UNITS[convention]}),
            "train_loss": (checkpoint_dims, np.array([i["train_loss"] for i in infos], dtype=float)),
            "val_loss": (checkpoint_dims, np.array([i["val_loss"] for i in infos], dtype=float)),
            "val_accuracy": (checkpoint_dims, np.array([i["val_accuracy"] for i in infos], dtype=float)),
            "diverged": (checkpoint_dims, np.array([i["diverged"] for i in infos], dtype=bool)),
        },
        coords={
            "checkpoint": np.arange(len(infos)),
            "epoch": (checkpoint_dims, epochs),
            "training_fraction": (checkpoint_dims, epochs / total_epochs),
            "exponent": np.arange(1, means.shape[1] + 1),
            "architecture": spec["architecture"],
            "task": task.name,
            "hidden_size": int(spec["hidden_size"]),
            "init_param": float(spec["init_param"]),
            "seed": int(spec["seed"]),
            "state_size": means.shape[1],
        },
    )
