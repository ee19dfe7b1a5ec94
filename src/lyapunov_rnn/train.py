"""Training of one network with a checkpoint after every epoch.

Checkpoint ``epoch_000.pt`` holds the untrained network; ``epoch_{e:03d}.pt``
the network after ``e`` epochs (the format is :mod:`lyapunov_rnn.checkpoints`).
Each checkpoint carries the optimiser and random-number state so that an
interrupted run resumes from its last complete checkpoint and ends bitwise
equal to an uninterrupted one (CPU).

A network whose training loss becomes NaN or infinite has *diverged*. That is
a result, not an error: the epoch is recorded with ``diverged=True`` and the
remaining checkpoints repeat the diverged state so that every network has the
same number of checkpoints downstream.
"""

from __future__ import annotations

import math
import os
import shutil
import sys
import time
from pathlib import Path
from typing import NamedTuple

import pandas as pd
import torch
from torch import nn
from tqdm.auto import tqdm

from lyapunov_rnn.checkpoints import (
    checkpoint_name,
    restore_training_state,
    resume_point,
    save_checkpoint,
    training_fingerprint,
)
from lyapunov_rnn.config import NetworkSpec, TrainingConfig, network_training
from lyapunov_rnn.devices import resolve_device
from lyapunov_rnn.models import SequenceModel, initialize_uniform
from lyapunov_rnn.tasks import TaskData, accuracy

__all__ = ["TrainingSetup", "build_model", "evaluate", "train_epoch", "train_network", "training_setup"]

#: The loss function of each task's ``loss`` name.
LOSSES: dict[str, type[nn.Module]] = {"cross_entropy": nn.CrossEntropyLoss, "mse": nn.MSELoss}


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
    initialize_uniform(model, spec.init_param, generator, input_init=spec.input_init)
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
    """The seeded model on ``device``, Adam, the task's loss and the shuffle generator.

    The model's dropout and Adam's step size are the network's (``spec``'s
    ``dropout`` and ``learning_rate``, else ``training``'s; see
    :func:`lyapunov_rnn.config.network_training`).

    Seeds PyTorch's global generator with ``spec.seed`` (the default
    initialisers of the readout and dropout draw from it): call it inside
    :func:`torch.random.fork_rng` to keep the caller's random state.
    """
    spec, training = network_training(spec, training)
    torch.manual_seed(spec.seed)
    model = build_model(spec, task, training.dropout).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=training.learning_rate)
    return TrainingSetup(model, optimizer, _loss_function(task), torch.Generator().manual_seed(spec.seed))


def _loss_function(task: TaskData) -> nn.Module:
    if task.loss not in LOSSES:
        raise ValueError(f"unknown loss {task.loss!r} for task {task.name!r}; expected one of {list(LOSSES)}")
    return LOSSES[task.loss]()


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
        Architecture, size, init parameter and seed; its ``learning_rate``
        and ``dropout``, where not None, replace ``training``'s.
    task : TaskData
        Training and validation data.
    training : TrainingConfig
        Optimisation settings.
    checkpoint_dir : path-like
        Final location of ``epoch_XXX.pt`` files.
    work_dir : path-like, optional
        Where checkpoints are written while training; once all exist they are
        hard-linked (copied where linking fails) into ``checkpoint_dir``, and
        the work directory keeps them. A run killed mid-way, or after the
        end, resumes from the last complete checkpoint found here whose
        settings are the current ones (:func:`lyapunov_rnn.checkpoints.resume_point`);
        checkpoints of other settings are deleted and training starts over.
        Defaults to ``checkpoint_dir``.
    device : str or torch.device, optional
        Defaults to CUDA when available, else CPU.
    progress : bool
        Report progress: a bar over epochs on a terminal, else (a log file)
        one line per epoch with its losses, duration and the estimated time
        left.

    Returns
    -------
    pandas.DataFrame
        One row per checkpoint: epoch, train_loss, val_loss, val_accuracy,
        diverged, seconds (wall time of that epoch; NaN for epochs trained
        before an interruption, whose timings the checkpoints do not keep).
    """
    # The checkpoints record the learning rate and dropout this network trains with, in its spec and training.
    spec, training = network_training(spec, training)
    checkpoint_dir = Path(checkpoint_dir)
    work_dir = Path(work_dir) if work_dir is not None else checkpoint_dir
    work_dir.mkdir(parents=True, exist_ok=True)
    device = resolve_device(device)

    forked = [device.index or 0] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=forked):
        # training_setup seeds the global generator: inside fork_rng the caller's state survives.
        model, optimizer, criterion, shuffle = training_setup(spec, task, training, device)
        rows: list[dict] = []
        fingerprint = training_fingerprint(spec, training, task)
        resume = resume_point(work_dir, fingerprint=fingerprint, spec=spec, training=training, task=task)
        if resume.discarded:
            print(f"not resuming: {resume.discarded}; training from scratch", flush=True)
            for stale in work_dir.glob("epoch_*.pt"):
                stale.unlink()
        start_epoch = resume.epoch
        if start_epoch >= 0:
            print(f"resuming after epoch {start_epoch} from {work_dir / checkpoint_name(start_epoch)}", flush=True)
            rows = restore_training_state(resume.payload, model=model, optimizer=optimizer, shuffle=shuffle)
        diverged = bool(rows and rows[-1]["diverged"])

        def save(epoch: int, row: dict) -> None:
            rows.append(row)
            save_checkpoint(
                work_dir / checkpoint_name(epoch),
                epoch=epoch,
                spec=spec,
                training=training,
                task=task,
                history=rows,
                model=model,
                optimizer=optimizer,
                shuffle=shuffle,
                fingerprint=fingerprint,
            )

        if start_epoch < 0:
            val_loss, val_accuracy = evaluate(model, task, device=device)
            save(0, _row(0, float("nan"), val_loss, val_accuracy, False, 0.0))
            start_epoch = 0

        epochs = range(start_epoch + 1, training.epochs + 1)
        # A bar on a terminal; in a log file (a workflow job) one line per epoch instead of carriage returns.
        interactive = progress and sys.stderr.isatty()
        bar = tqdm(epochs, desc=f"{spec.architecture} p={spec.init_param:g}", disable=not interactive, unit="epoch")
        started = time.perf_counter()
        for epoch in bar:
            began = time.perf_counter()
            if diverged:
                train_loss = float("nan")
            else:
                train_loss = train_epoch(model, task, training, optimizer, criterion, shuffle, device)
                diverged = not math.isfinite(train_loss)
            val_loss, val_accuracy = (float("nan"), float("nan")) if diverged else evaluate(model, task, device=device)
            save(epoch, _row(epoch, train_loss, val_loss, val_accuracy, diverged, time.perf_counter() - began))
            bar.set_postfix(val_loss=f"{val_loss:.3f}", val_acc=f"{val_accuracy:.3f}")
            if progress and not interactive:
                done = epoch - epochs.start + 1
                remaining = (time.perf_counter() - started) / done * (len(epochs) - done)
                print(
                    f"epoch {epoch}/{training.epochs}: train loss {train_loss:.4g}, validation loss {val_loss:.4g}, "
                    f"validation accuracy {val_accuracy:.3f}, {rows[-1]['seconds']:.1f} s, ETA {remaining:.0f} s",
                    flush=True,
                )

    if work_dir != checkpoint_dir:
        checkpoint_dir.mkdir(parents=True, exist_ok=True)
        for epoch in range(training.epochs + 1):
            _publish(work_dir / checkpoint_name(epoch), checkpoint_dir / checkpoint_name(epoch))
    return pd.DataFrame(rows, columns=list(_row(0, 0.0, 0.0, 0.0, False, 0.0)))


def _publish(source: Path, destination: Path) -> None:
    """Make ``destination`` a hard link to ``source`` (a copy where links are not possible), atomically.

    The work directory keeps its files: if the run is killed after training
    but before the workflow manager records the outputs as complete, it
    deletes them as incomplete, and the rerun finds the finished training in
    the work directory instead of starting over. A hard link costs no space.
    """
    temporary = destination.with_name(f".{destination.name}.partial")
    temporary.unlink(missing_ok=True)
    try:
        os.link(source, temporary)
    except OSError:
        shutil.copy2(source, temporary)
    os.replace(temporary, destination)


def _row(epoch: int, train_loss: float, val_loss: float, val_accuracy: float, diverged: bool, seconds: float) -> dict:
    return {
        "epoch": epoch,
        "train_loss": train_loss,
        "val_loss": val_loss,
        "val_accuracy": val_accuracy,
        "diverged": diverged,
        "seconds": seconds,
    }


def train_epoch(
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
