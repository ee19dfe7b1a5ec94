"""Training of one network with a checkpoint after every epoch.

Checkpoint ``epoch_000.pt`` holds the untrained network; ``epoch_{e:03d}.pt``
the network after ``e`` epochs. Each checkpoint is a self-describing
dictionary (see :func:`load_checkpoint`) written atomically, and carries the
optimiser and random-number state so that an interrupted run resumes from its
last complete checkpoint and ends bitwise equal to an uninterrupted one (CPU).

A network whose training loss becomes NaN or infinite has *diverged*. That is
a result, not an error: the epoch is recorded with ``diverged=True`` and the
remaining checkpoints repeat the diverged state so that every network has the
same number of checkpoints downstream.
"""

from __future__ import annotations

import math
import os
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import pandas as pd
import torch
from torch import nn
from tqdm.auto import tqdm

from lyapunov_rnn.data import TaskData, accuracy
from lyapunov_rnn.io import atomic_torch_save
from lyapunov_rnn.models import SequenceModel, initialize_uniform

CHECKPOINT_FORMAT = "lyapunov_rnn.checkpoint/1"


@dataclass(frozen=True)
class NetworkSpec:
    """What distinguishes one network of a sweep.

    Parameters
    ----------
    architecture : str
        ``rnn``, ``lstm``, ``gru``, ``asrnn`` or ``cornn``.
    hidden_size : int
        Number of hidden units N.
    init_param : float
        Weights of the recurrent layer are drawn from U(-p, p), p = init_param.
    seed : int
        Seed of initialisation, data order and dropout.
    cell_options : dict
        Extra cell arguments (``bias``, ``asrnn_eps``, ``cornn_dt``, ...).
    """

    architecture: str
    hidden_size: int
    init_param: float
    seed: int
    cell_options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TrainingConfig:
    """Optimisation settings shared by all networks of an experiment.

    Parameters
    ----------
    epochs : int
        Number of passes over the training set (checkpoints: epochs + 1).
    batch_size : int
        Mini-batch size (sequences).
    learning_rate : float
        Adam step size.
    grad_clip : float or None
        Maximum global gradient 2-norm; None disables clipping.
    dropout : float
        Dropout probability before the readout.
    """

    epochs: int
    batch_size: int = 128
    learning_rate: float = 0.01
    grad_clip: float | None = 1.0
    dropout: float = 0.1


def checkpoint_name(epoch: int) -> str:
    """File name of the checkpoint after ``epoch`` epochs."""
    return f"epoch_{epoch:03d}.pt"


def build_model(spec: NetworkSpec, task: TaskData, dropout: float) -> SequenceModel:
    """Model for ``spec`` on ``task``, initialised with U(-p, p) from ``spec.seed``."""
    model = SequenceModel(
        spec.architecture,
        task.input_size,
        spec.hidden_size,
        task.output_size,
        readout=task.readout,
        dropout=dropout,
        **spec.cell_options,
    )
    generator = torch.Generator().manual_seed(spec.seed)
    initialize_uniform(model, spec.init_param, generator)
    return model


class TrainingSetup(NamedTuple):
    """What :func:`train_network` trains with: model, optimiser, loss and data-order generator."""

    model: SequenceModel
    optimizer: torch.optim.Optimizer
    criterion: nn.Module
    shuffle: torch.Generator


def training_setup(
    spec: NetworkSpec, task: TaskData, training: TrainingConfig, device: torch.device
) -> TrainingSetup:
    """The seeded model on ``device``, Adam with ``training.learning_rate``, the task's loss and the shuffle generator.

    Seeds PyTorch's global generator with ``spec.seed`` (the default
    initialisers of the readout and dropout draw from it): call it inside
    :func:`torch.random.fork_rng` to keep the caller's random state.
    """
    torch.manual_seed(spec.seed)
    model = build_model(spec, task, training.dropout).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=training.learning_rate)
    return TrainingSetup(model, optimizer, _loss_function(task), torch.Generator().manual_seed(spec.seed))


def _loss_function(task: TaskData) -> nn.Module:
    if task.loss == "cross_entropy":
        return nn.CrossEntropyLoss()
    if task.loss == "mse":
        return nn.MSELoss()
    raise ValueError(f"unknown loss {task.loss!r} for task {task.name!r}")


def _task_loss(criterion: nn.Module, outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    if outputs.ndim == 3:  # (B, T, C) readout at every step
        return criterion(outputs.reshape(-1, outputs.shape[-1]), targets.reshape(-1))
    if outputs.shape[-1] == 1 and targets.ndim == 1:
        return criterion(outputs.squeeze(-1), targets)
    return criterion(outputs, targets)


@torch.no_grad()
def evaluate(
    model: SequenceModel, task: TaskData, *, batch_size: int = 1024, device: torch.device | None = None
) -> tuple[float, float]:
    """Validation loss (task loss, averaged over sequences) and accuracy on the test split."""
    device = device or next(model.parameters()).device
    criterion = _loss_function(task)
    model.eval()
    total, outputs_all = 0.0, []
    n = task.test_inputs.shape[0]
    for start in range(0, n, batch_size):
        inputs = task.test_inputs[start : start + batch_size].to(device)
        targets = task.test_targets[start : start + batch_size].to(device)
        outputs = model(inputs)
        total += _task_loss(criterion, outputs, targets).item() * inputs.shape[0]
        outputs_all.append(outputs.cpu())
    outputs = torch.cat(outputs_all)
    if not torch.isfinite(outputs).all():
        return float("nan"), float("nan")
    return total / n, accuracy(outputs, task.test_targets, task)


def load_checkpoint(path: str | Path, *, map_location: str | torch.device = "cpu") -> tuple[SequenceModel, dict]:
    """Rebuild the model stored in a checkpoint.

    Parameters
    ----------
    path : path-like
        A file written by :func:`train_network`.
    map_location : str or torch.device
        Where to load the tensors.

    Returns
    -------
    model : SequenceModel
        In eval mode.
    info : dict
        The checkpoint without the state dictionaries: ``epoch``, ``epochs``,
        ``spec``, ``model_config``, ``train_loss``, ``val_loss``,
        ``val_accuracy``, ``diverged``.

    Raises
    ------
    ValueError
        If the file is missing, unreadable, or not a checkpoint of this package.
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"checkpoint {path} does not exist")
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # noqa: BLE001 - torch raises many types for corrupt files
        raise ValueError(f"checkpoint {path} is unreadable ({type(err).__name__}: {err})") from err
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{path} is not a {CHECKPOINT_FORMAT} checkpoint")
    config = payload["model_config"]
    model = SequenceModel(
        config["architecture"],
        config["input_size"],
        config["hidden_size"],
        config["output_size"],
        readout=config["readout"],
        dropout=config["dropout"],
        **config["cell_options"],
    )
    model.load_state_dict(payload["model_state"])
    model.eval()
    info = {key: value for key, value in payload.items() if not key.endswith("_state")}
    return model, info


def _model_config(model: SequenceModel, spec: NetworkSpec, task: TaskData, dropout: float) -> dict:
    return {
        "architecture": spec.architecture,
        "input_size": task.input_size,
        "hidden_size": spec.hidden_size,
        "output_size": task.output_size,
        "readout": task.readout,
        "dropout": dropout,
        "cell_options": dict(spec.cell_options),
    }


def _last_complete_epoch(directory: Path, epochs: int) -> int:
    """Highest e such that checkpoints 0..e all exist and load; -1 if none."""
    last = -1
    for epoch in range(epochs + 1):
        path = directory / checkpoint_name(epoch)
        if not path.is_file():
            break
        try:
            torch.load(path, map_location="cpu", weights_only=True)
        except Exception:  # noqa: BLE001 - a corrupt tail checkpoint is simply redone
            break
        last = epoch
    return last


def train_network(
    spec: NetworkSpec,
    task: TaskData,
    training: TrainingConfig,
    checkpoint_dir: str | Path,
    *,
    work_dir: str | Path | None = None,
    device: str | torch.device | None = None,
    progress: bool = True,
) -> pd.DataFrame:
    """Train one network and write ``epochs + 1`` checkpoints.

    Parameters
    ----------
    spec : NetworkSpec
        Architecture, size, init parameter and seed.
    task : TaskData
        Training and validation data.
    training : TrainingConfig
        Optimisation settings.
    checkpoint_dir : path-like
        Final location of ``epoch_XXX.pt`` files.
    work_dir : path-like, optional
        Where checkpoints are written while training, then moved to
        ``checkpoint_dir`` once all exist. A run killed mid-way resumes from
        the last complete checkpoint found here. Defaults to ``checkpoint_dir``.
    device : str or torch.device, optional
        Defaults to CUDA when available, else CPU.
    progress : bool
        Show a progress bar over epochs.

    Returns
    -------
    pandas.DataFrame
        One row per checkpoint: epoch, train_loss, val_loss, val_accuracy,
        diverged, seconds (wall time of that epoch).
    """
    checkpoint_dir = Path(checkpoint_dir)
    work_dir = Path(work_dir) if work_dir is not None else checkpoint_dir
    work_dir.mkdir(parents=True, exist_ok=True)
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))

    forked = [device.index or 0] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=forked):
        # training_setup seeds the global generator: inside fork_rng the caller's state survives.
        model, optimizer, criterion, shuffle = training_setup(spec, task, training, device)
        config = _model_config(model, spec, task, training.dropout)

        rows: list[dict] = []
        start_epoch = _last_complete_epoch(work_dir, training.epochs)
        if start_epoch >= 0:
            payload = torch.load(work_dir / checkpoint_name(start_epoch), map_location=device, weights_only=True)
            model.load_state_dict(payload["model_state"])
            optimizer.load_state_dict(payload["optimizer_state"])
            shuffle.set_state(payload["shuffle_state"])
            torch.set_rng_state(payload["torch_rng_state"])
            rows = list(payload["history"])
        diverged = bool(rows and rows[-1]["diverged"])

        def save(epoch: int, row: dict) -> None:
            rows.append(row)
            atomic_torch_save(
                {
                    "format": CHECKPOINT_FORMAT,
                    "epoch": epoch,
                    "epochs": training.epochs,
                    "spec": asdict(spec),
                    "training": asdict(training),
                    "task": task.name,
                    "model_config": config,
                    "train_loss": row["train_loss"],
                    "val_loss": row["val_loss"],
                    "val_accuracy": row["val_accuracy"],
                    "diverged": row["diverged"],
                    "history": list(rows),
                    "model_state": model.state_dict(),
                    "optimizer_state": optimizer.state_dict(),
                    "shuffle_state": shuffle.get_state(),
                    "torch_rng_state": torch.get_rng_state(),
                },
                work_dir / checkpoint_name(epoch),
            )

        if start_epoch < 0:
            val_loss, val_accuracy = evaluate(model, task, device=device)
            save(0, _row(0, float("nan"), val_loss, val_accuracy, False, 0.0))
            start_epoch = 0

        epochs = range(start_epoch + 1, training.epochs + 1)
        bar = tqdm(epochs, desc=f"{spec.architecture} p={spec.init_param:g}", disable=not progress, unit="epoch")
        for epoch in bar:
            began = time.perf_counter()
            if diverged:
                train_loss = float("nan")
            else:
                train_loss = _train_epoch(model, task, training, optimizer, criterion, shuffle, device)
                diverged = not math.isfinite(train_loss)
            val_loss, val_accuracy = (float("nan"), float("nan")) if diverged else evaluate(model, task, device=device)
            save(epoch, _row(epoch, train_loss, val_loss, val_accuracy, diverged, time.perf_counter() - began))
            bar.set_postfix(val_loss=f"{val_loss:.3f}", val_acc=f"{val_accuracy:.3f}")

    if work_dir != checkpoint_dir:
        checkpoint_dir.mkdir(parents=True, exist_ok=True)
        for epoch in range(training.epochs + 1):
            os.replace(work_dir / checkpoint_name(epoch), checkpoint_dir / checkpoint_name(epoch))
        shutil.rmtree(work_dir, ignore_errors=True)
    return pd.DataFrame(rows)


def _row(epoch: int, train_loss: float, val_loss: float, val_accuracy: float, diverged: bool, seconds: float) -> dict:
    return {
        "epoch": epoch,
        "train_loss": train_loss,
        "val_loss": val_loss,
        "val_accuracy": val_accuracy,
        "diverged": diverged,
        "seconds": seconds,
    }


def _train_epoch(
    model: SequenceModel,
    task: TaskData,
    training: TrainingConfig,
    optimizer: torch.optim.Optimizer,
    criterion: nn.Module,
    shuffle: torch.Generator,
    device: torch.device,
) -> float:
    """One pass over the training set; returns the mean training loss (NaN if it diverged)."""
    model.train()
    n = task.train_inputs.shape[0]
    order = torch.randperm(n, generator=shuffle)
    total = 0.0
    for start in range(0, n, training.batch_size):
        index = order[start : start + training.batch_size]
        inputs = task.train_inputs[index].to(device)
        targets = task.train_targets[index].to(device)
        optimizer.zero_grad(set_to_none=True)
        loss = _task_loss(criterion, model(inputs), targets)
        if not torch.isfinite(loss):
            return float("nan")
        loss.backward()
        if training.grad_clip is not None:
            nn.utils.clip_grad_norm_(model.parameters(), training.grad_clip)
        optimizer.step()
        total += loss.item() * index.numel()
    return total / n
