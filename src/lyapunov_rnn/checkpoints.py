"""The checkpoint format: one self-describing file per network and epoch.

``epoch_000.pt`` holds the untrained network, ``epoch_{e:03d}.pt`` the
network after ``e`` epochs. Each file is a dictionary written atomically with
:func:`torch.save` and read back with ``weights_only=True`` (no pickled code
runs on loading):

* ``format`` (:data:`CHECKPOINT_FORMAT`), ``epoch``, ``epochs``, ``task``;
* ``spec`` (the :class:`~lyapunov_rnn.config.NetworkSpec` as a dict) and
  ``training`` (the :class:`~lyapunov_rnn.config.TrainingConfig` as a dict);
* ``model_config``: everything :class:`~lyapunov_rnn.models.SequenceModel`
  needs to rebuild the network;
* the metrics of that epoch (``train_loss``, ``val_loss``, ``val_accuracy``,
  ``diverged``) and ``history``, the metrics of every epoch so far;
* ``model_state``, and the resume state: ``optimizer_state``,
  ``shuffle_state`` (data order) and ``torch_rng_state`` (dropout), with
  which an interrupted run continues bitwise equal to an uninterrupted one.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch

from lyapunov_rnn.config import NetworkSpec, TrainingConfig
from lyapunov_rnn.io import atomic_torch_save
from lyapunov_rnn.models import SequenceModel
from lyapunov_rnn.tasks import TaskData

__all__ = [
    "CHECKPOINT_FORMAT",
    "checkpoint_name",
    "last_complete_epoch",
    "load_checkpoint",
    "model_config",
    "read_checkpoint",
    "restore_training_state",
    "save_checkpoint",
]

CHECKPOINT_FORMAT = "lyapunov_rnn.checkpoint/1"


def checkpoint_name(epoch: int) -> str:
    """File name of the checkpoint after ``epoch`` epochs."""
    return f"epoch_{epoch:03d}.pt"


def model_config(spec: NetworkSpec, task: TaskData, dropout: float) -> dict[str, Any]:
    """The keyword arguments of :class:`SequenceModel` for ``spec`` on ``task``."""
    return {
        "architecture": spec.architecture,
        "input_size": task.input_size,
        "hidden_size": spec.hidden_size,
        "output_size": task.output_size,
        "readout": task.readout,
        "dropout": dropout,
        "cell_options": dict(spec.cell_options),
    }


def save_checkpoint(
    path: str | Path,
    *,
    epoch: int,
    spec: NetworkSpec,
    training: TrainingConfig,
    task: TaskData,
    history: list[dict[str, Any]],
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    shuffle: torch.Generator,
) -> None:
    """Write the checkpoint after ``epoch`` epochs atomically; ``history[-1]`` holds that epoch's metrics."""
    row = history[-1]
    atomic_torch_save(
        {
            "format": CHECKPOINT_FORMAT,
            "epoch": epoch,
            "epochs": training.epochs,
            "spec": asdict(spec),
            "training": asdict(training),
            "task": task.name,
            "model_config": model_config(spec, task, training.dropout),
            "train_loss": row["train_loss"],
            "val_loss": row["val_loss"],
            "val_accuracy": row["val_accuracy"],
            "diverged": row["diverged"],
            "history": list(history),
            "model_state": model.state_dict(),
            "optimizer_state": optimizer.state_dict(),
            "shuffle_state": shuffle.get_state(),
            "torch_rng_state": torch.get_rng_state(),
        },
        path,
    )


def read_checkpoint(path: str | Path, *, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """The whole checkpoint dictionary, state dictionaries included.

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
    return payload


def load_checkpoint(path: str | Path, *, map_location: str | torch.device = "cpu") -> tuple[SequenceModel, dict]:
    """Rebuild the model stored in a checkpoint.

    Parameters
    ----------
    path : path-like
        A file written by :func:`save_checkpoint`.
    map_location : str or torch.device
        Where to load the tensors.

    Returns
    -------
    model : SequenceModel
        In eval mode.
    info : dict
        The checkpoint without the state dictionaries: ``epoch``, ``epochs``,
        ``spec``, ``model_config``, ``train_loss``, ``val_loss``,
        ``val_accuracy``, ``diverged``, ...

    Raises
    ------
    ValueError
        If the file is missing, unreadable, or not a checkpoint of this package.
    """
    payload = read_checkpoint(path, map_location=map_location)
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


def last_complete_epoch(directory: Path, epochs: int) -> int:
    """Highest e such that checkpoints 0..e all exist in ``directory`` and load; -1 if none."""
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


def restore_training_state(
    path: str | Path,
    *,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    shuffle: torch.Generator,
    device: torch.device,
) -> list[dict[str, Any]]:
    """Load the model, optimiser, data-order and global torch RNG state of a checkpoint; return its history.

    The counterpart of :func:`save_checkpoint` for resuming an interrupted
    training run where it stopped.
    """
    payload = torch.load(path, map_location=device, weights_only=True)
    model.load_state_dict(payload["model_state"])
    optimizer.load_state_dict(payload["optimizer_state"])
    shuffle.set_state(payload["shuffle_state"])
    torch.set_rng_state(payload["torch_rng_state"])
    return list(payload["history"])
