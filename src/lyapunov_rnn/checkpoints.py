"""The checkpoint format: one self-describing file per network and epoch.

``epoch_000.pt`` holds the untrained network, ``epoch_{e:03d}.pt`` the
network after ``e`` epochs. Each file is a dictionary written atomically with
:func:`torch.save` and read back with ``weights_only=True`` (no pickled code
runs on loading):

* ``format`` (:data:`CHECKPOINT_FORMAT`), ``epoch``, ``epochs``, ``task``;
* ``spec`` (the :class:`~lyapunov_rnn.config.NetworkSpec` as a dict) and
  ``training`` (the :class:`~lyapunov_rnn.config.TrainingConfig` as a dict),
  both with the ``learning_rate`` and ``dropout`` the network trained with
  (:func:`~lyapunov_rnn.config.network_training`; checkpoints written before
  grids could sweep them lack the two keys in ``spec``);
* ``model_config``: everything :class:`~lyapunov_rnn.models.SequenceModel`
  needs to rebuild the network;
* the metrics of that epoch (``train_loss``, ``val_loss``, ``val_accuracy``,
  ``diverged``) and ``history``, the metrics of every epoch so far;
* ``model_state``, and the resume state: ``optimizer_state``,
  ``shuffle_state`` (data order) and ``torch_rng_state`` (dropout), with
  which an interrupted run continues bitwise equal to an uninterrupted one;
* ``fingerprint`` (:func:`training_fingerprint`): a digest of everything
  that determines the training. An interrupted run resumes from a checkpoint
  only when its fingerprint is the current one (:func:`resume_point`).

No wall-clock time and no temporary file name is stored, so identical runs
write byte-identical files (the epoch timings are in ``metrics.csv``).
"""

from __future__ import annotations

import hashlib
import json
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any, NamedTuple

import torch

from lyapunov_rnn.config import NetworkSpec, TrainingConfig
from lyapunov_rnn.io import atomic_torch_save
from lyapunov_rnn.models import SequenceModel
from lyapunov_rnn.tasks import TaskData

__all__ = [
    "CHECKPOINT_FORMAT",
    "checkpoint_files",
    "checkpoint_name",
    "ResumePoint",
    "load_checkpoint",
    "model_config",
    "read_checkpoint",
    "restore_training_state",
    "resume_point",
    "save_checkpoint",
    "training_fingerprint",
]

CHECKPOINT_FORMAT = "lyapunov_rnn.checkpoint/1"
#: What every reader of a checkpoint needs: the network, its training settings and that epoch's metrics.
REQUIRED_KEYS = (
    "epoch", "epochs", "spec", "training", "model_config", "model_state",
    "train_loss", "val_loss", "val_accuracy", "diverged",
)
#: Per-epoch metrics that depend on the machine, kept out of the checkpoint files.
MACHINE_DEPENDENT_METRICS = ("seconds",)


def checkpoint_name(epoch: int) -> str:
    """File name of the checkpoint after ``epoch`` epochs."""
    return f"epoch_{epoch:03d}.pt"


def checkpoint_files(directory: str | Path) -> list[Path]:
    """Every checkpoint of one network, ``epoch_000.pt`` ... ``epoch_{epochs}.pt``, in epoch order.

    The number of epochs is read from ``epoch_000.pt``.

    Raises
    ------
    ValueError
        Naming the directory or the files, if the directory or ``epoch_000.pt``
        does not exist or is unreadable, if any checkpoint up to the last
        epoch is missing, or if there are checkpoints beyond it: a spectrum
        file with a gap in its epochs would be wrong without a word.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise ValueError(f"checkpoint directory {directory} does not exist")
    epochs = int(read_checkpoint(directory / checkpoint_name(0))["epochs"])
    expected = [directory / checkpoint_name(epoch) for epoch in range(epochs + 1)]
    missing = [path.name for path in expected if not path.is_file()]
    if missing:
        raise ValueError(
            f"{directory}: checkpoint(s) {', '.join(missing)} missing of epoch_000.pt ... {expected[-1].name} "
            f"(the network trained for {epochs} epochs); rerun its training"
        )
    extra = sorted(set(directory.glob("epoch_*.pt")) - set(expected))
    if extra:
        raise ValueError(
            f"{directory}: {', '.join(path.name for path in extra)} beyond the {epochs} epochs recorded in "
            "epoch_000.pt; the directory mixes two trainings"
        )
    return expected


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


def training_fingerprint(spec: NetworkSpec, training: TrainingConfig, task: TaskData) -> str:
    """SHA-256 hex digest of everything that determines how a network trains.

    The network's spec (seed included), the training options, the task's name
    and the bytes of its train and test tensors, the checkpoint format and
    the package version. Two runs with the same fingerprint train the same
    network; a checkpoint with another fingerprint must not be resumed.
    """
    from lyapunov_rnn import __version__

    settings = {
        "format": CHECKPOINT_FORMAT,
        "package_version": __version__,
        "spec": asdict(spec),
        "training": asdict(training),
        "task": task.name,
    }
    digest = hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode())
    for tensor in (task.train_inputs, task.train_targets, task.test_inputs, task.test_targets):
        digest.update(str((tuple(tensor.shape), tensor.dtype)).encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def _canonical(value: Any) -> Any:
    """``value`` with every string interned, so that equal checkpoints pickle to equal bytes.

    Pickle writes a string once and refers back to it when the *same object*
    recurs. Strings read back from a checkpoint (a resumed run's history,
    optimiser state) are new objects, so without interning a resumed run
    would write the same content with different bytes.
    """
    if isinstance(value, str):
        return sys.intern(value)
    if isinstance(value, dict):
        copy = type(value)((_canonical(key), _canonical(item)) for key, item in value.items())
        if hasattr(value, "_metadata"):  # a module state dict's version information
            copy._metadata = value._metadata
        return copy
    if isinstance(value, list | tuple):
        return type(value)(_canonical(item) for item in value)
    return value


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
    fingerprint: str,
) -> None:
    """Write the checkpoint after ``epoch`` epochs atomically; ``history[-1]`` holds that epoch's metrics.

    The :data:`MACHINE_DEPENDENT_METRICS` of ``history`` (wall-clock time)
    are left out, so that the file depends only on the computation.
    """
    history = [{k: v for k, v in row.items() if k not in MACHINE_DEPENDENT_METRICS} for row in history]
    row = history[-1]
    payload = {
        "format": CHECKPOINT_FORMAT,
        "fingerprint": fingerprint,
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
    }
    atomic_torch_save(_canonical(payload), path)


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
        If the file is missing, unreadable, or not a checkpoint of this
        package, or malformed (a missing key, an unknown option, weights that
        do not fit the network it describes); the message names the file.
    """
    payload = read_checkpoint(path, map_location=map_location)
    missing = [key for key in REQUIRED_KEYS if key not in payload]
    if missing:
        raise ValueError(f"checkpoint {path} is malformed: it lacks the keys {missing}")
    try:
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
    # A missing key, an unknown option or architecture, weights that do not fit the network: a malformed file.
    except KeyError as err:
        raise ValueError(f"checkpoint {path} is malformed: its model_config lacks the key {err}") from err
    except (TypeError, ValueError, RuntimeError) as err:
        # load_state_dict puts its first mismatch on the second line.
        reason = " ".join(line.strip() for line in str(err).splitlines()[:2]) or type(err).__name__
        raise ValueError(f"checkpoint {path} is malformed: {reason}") from err
    model.eval()
    info = {key: value for key, value in payload.items() if not key.endswith("_state")}
    return model, info


class ResumePoint(NamedTuple):
    """Where an interrupted training run continues (:func:`resume_point`).

    Attributes
    ----------
    epoch : int
        The last epoch whose checkpoint, and all before it, exist, load and
        carry the current fingerprint; -1 to start from scratch.
    payload : dict or None
        That checkpoint's content, to restore from.
    discarded : str or None
        Why existing checkpoints cannot be resumed (written with other
        settings), None otherwise.
    """

    epoch: int
    payload: dict[str, Any] | None
    discarded: str | None


def _differences(payload: dict[str, Any], spec: NetworkSpec, training: TrainingConfig, task: TaskData) -> str:
    """Which of the recorded settings differ from the current ones, as a phrase for the log."""
    current = {"spec": asdict(spec), "training": asdict(training)}
    changed = []
    for section, values in current.items():
        stored = payload.get(section) or {}
        changed += [f"{section}.{key}" for key in values if stored.get(key) != values[key]]
    if payload.get("task") != task.name:
        changed.append("the task")
    return ", ".join(changed) if changed else "the task data or the package version"


def resume_point(
    directory: Path, *, fingerprint: str, spec: NetworkSpec, training: TrainingConfig, task: TaskData
) -> ResumePoint:
    """The checkpoint in ``directory`` an interrupted run of this training may continue from.

    Checkpoints ``epoch_000.pt``, ``epoch_001.pt``, ... are read in order up
    to the first missing or unreadable one (a checkpoint cut short by a kill
    is simply redone). If any of them was written with another fingerprint
    (the spec, training options, task data or package version changed since),
    none is resumed and :attr:`ResumePoint.discarded` says what changed.
    """
    last, payload = -1, None
    for epoch in range(training.epochs + 1):
        try:
            candidate = read_checkpoint(directory / checkpoint_name(epoch))
        except ValueError:
            break
        if candidate.get("fingerprint") != fingerprint:
            changed = _differences(candidate, spec, training, task)
            return ResumePoint(-1, None, f"{directory / checkpoint_name(epoch)} was written with other settings "
                                         f"({changed} changed)")
        last, payload = epoch, candidate
    return ResumePoint(last, payload, None)


def restore_training_state(
    payload: dict[str, Any],
    *,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    shuffle: torch.Generator,
) -> list[dict[str, Any]]:
    """Load the model, optimiser, data-order and global torch RNG state of a checkpoint; return its history.

    The counterpart of :func:`save_checkpoint` for resuming an interrupted
    training run where it stopped; ``payload`` is the checkpoint's content
    (:func:`read_checkpoint`, e.g. :attr:`ResumePoint.payload`). The
    optimiser state moves to the device of the model's parameters.
    """
    model.load_state_dict(payload["model_state"])
    optimizer.load_state_dict(payload["optimizer_state"])
    shuffle.set_state(payload["shuffle_state"])
    torch.set_rng_state(payload["torch_rng_state"])
    return list(payload["history"])
