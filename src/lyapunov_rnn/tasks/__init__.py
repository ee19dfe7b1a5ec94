"""Sequence tasks: the registry, and building, storing and loading a task's data.

Each task is one module of this package with one :class:`~lyapunov_rnn.tasks.base.Task`
subclass, registered in :data:`TASKS`:

``smnist``  (:mod:`~lyapunov_rnn.tasks.smnist`)
    Sequential MNIST, row by row: 28 steps of 28 pixels, 10 classes.
``adding``  (:mod:`~lyapunov_rnn.tasks.adding`)
    The adding problem: sum of two marked values, mean-squared error.
``charlm``  (:mod:`~lyapunov_rnn.tasks.charlm`)
    Character-level language modelling on a downloaded corpus.

A task is configured by a mapping (the ``task`` section of the experiment
configuration): ``name`` selects the task, the other keys are its options
(documented in its module). :func:`prepare_task` builds a task
deterministically and stores it atomically as one ``.npz`` file
(:mod:`~lyapunov_rnn.tasks.archive`; the same configuration gives a
byte-identical file); :func:`load_task` reads it back as a :class:`TaskData`.

Adding a task: write a module with a :class:`Task` subclass and add an
instance to :data:`TASKS` (or call :func:`register_task`). Nothing here
imports torch; :func:`load_task` does when called.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lyapunov_rnn.tasks.adding import ADDING_TOLERANCE, AddingProblem
from lyapunov_rnn.tasks.archive import load_task, read_task_shape, write_task_file
from lyapunov_rnn.tasks.base import BuiltTask, Task, TaskData, TaskFileError, TaskShape
from lyapunov_rnn.tasks.charlm import CharacterLM
from lyapunov_rnn.tasks.idx import read_idx
from lyapunov_rnn.tasks.smnist import MNIST_FILES, MNIST_MD5, MNIST_MIRRORS, SequentialMNIST

if TYPE_CHECKING:
    import torch

__all__ = [
    "ADDING_TOLERANCE",
    "MNIST_FILES",
    "MNIST_MD5",
    "MNIST_MIRRORS",
    "TASKS",
    "BuiltTask",
    "Task",
    "TaskData",
    "TaskFileError",
    "TaskShape",
    "accuracy",
    "download_raw",
    "get_task",
    "load_task",
    "prepare_task",
    "raw_files",
    "read_idx",
    "read_task_shape",
    "register_task",
    "resolve_task",
    "task_shape",
]

#: The registered tasks by name.
TASKS: dict[str, Task] = {task.name: task for task in (SequentialMNIST(), AddingProblem(), CharacterLM())}


def register_task(task: Task) -> Task:
    """Add ``task`` to :data:`TASKS` under ``task.name`` (replacing a task of that name); return it."""
    TASKS[task.name] = task
    return task


def get_task(name: str) -> Task:
    """The registered task called ``name``.

    Raises
    ------
    ValueError
        For an unknown name, listing the known ones.
    """
    if not isinstance(name, str) or name not in TASKS:
        raise ValueError(f"task key 'name' must be one of {list(TASKS)}, got {name!r}")
    return TASKS[name]


def resolve_task(task: Mapping[str, Any]) -> dict[str, Any]:
    """Validate a task configuration and fill in its defaults.

    Parameters
    ----------
    task : Mapping
        The task configuration; ``name`` selects the task, the other keys
        are its options (see the task's module).

    Returns
    -------
    dict
        A new, JSON-serialisable configuration with every key present.

    Raises
    ------
    ValueError
        Naming the offending key: unknown name, unknown key, missing required
        key, or a value of the wrong type or range.
    """
    if not isinstance(task, Mapping):
        raise ValueError(f"task configuration must be a mapping, got {type(task).__name__}")
    return get_task(task.get("name")).resolve(task)


def raw_files(task: Mapping[str, Any]) -> list[str]:
    """Names of the files a task downloads into its cache directory (empty if none).

    The workflow's ``download`` rule declares these as outputs under
    ``resources/<task>/`` so that downloads run once, as local jobs.
    """
    cfg = resolve_task(task)
    return TASKS[cfg["name"]].raw_files(cfg)


def download_raw(task: Mapping[str, Any], cache_dir: str | Path) -> list[Path]:
    """Download and verify the raw files of ``task`` into ``cache_dir``.

    Files already present with the pinned checksum are not fetched again.

    Returns
    -------
    list of Path
        The files named by :func:`raw_files`, in that order.
    """
    cfg = resolve_task(task)
    cache_dir = Path(cache_dir)
    implementation = TASKS[cfg["name"]]
    implementation.download(cfg, cache_dir)
    return [cache_dir / name for name in implementation.raw_files(cfg)]


def task_shape(task: Mapping[str, Any], cache_dir: str | Path | None = None) -> TaskShape:
    """Split sizes and shapes of a task, from its configuration alone (nothing is built).

    ``cache_dir`` lets tasks that download data read sizes from files already
    there (see e.g. :meth:`lyapunov_rnn.tasks.charlm.CharacterLM.shape`).
    """
    cfg = resolve_task(task)
    return TASKS[cfg["name"]].shape(cfg, None if cache_dir is None else Path(cache_dir))


def prepare_task(task: Mapping[str, Any], destination: str | Path, *, cache_dir: str | Path | None = None) -> Path:
    """Build a task's dataset from its configuration and store it as one file.

    Parameters
    ----------
    task : Mapping
        Task configuration (see :func:`resolve_task`).
    destination : Path
        The ``.npz`` file to write (atomically: temp file + rename).
    cache_dir : Path, optional
        Where downloaded raw files are kept and reused (verified by checksum);
        default ``destination.parent / "raw"``. Unused by tasks that download
        nothing.

    Returns
    -------
    Path
        ``destination``.

    Raises
    ------
    ValueError
        For an invalid configuration (naming the key) or data too short for
        one sequence.
    lyapunov_rnn.download.DownloadError
        If a raw file could not be downloaded and verified.
    TaskFileError
        If a downloaded file is malformed (e.g. a bad IDX magic number).

    Notes
    -----
    Deterministic: the same configuration gives bitwise-identical arrays (and
    a byte-identical file).
    """
    cfg = resolve_task(task)
    destination = Path(destination)
    cache_dir = Path(cache_dir) if cache_dir is not None else destination.parent / "raw"
    implementation = TASKS[cfg["name"]]
    built = implementation.build(cfg, cache_dir)
    header = {
        "name": cfg["name"],
        "readout": implementation.readout,
        "loss": implementation.loss,
        "input_size": built.input_size,
        "output_size": built.output_size,
        "input_encoding": implementation.input_encoding,
        "metadata": {
            **built.metadata,
            "config": cfg,
            "train_size": len(built.arrays["train_targets"]),
            "test_size": len(built.arrays["test_targets"]),
        },
    }
    write_task_file(destination, built.arrays, header)
    return destination


def accuracy(outputs: torch.Tensor, targets: torch.Tensor, task: TaskData | str) -> float:
    """Task accuracy of model outputs, in [0, 1].

    Parameters
    ----------
    outputs : torch.Tensor
        The model's outputs: (N, C) logits for a classification read out at
        the last step, (N, T, V) for one read out at every step, (N,) or
        (N, 1) predictions for a regression.
    targets : torch.Tensor
        The matching ``*_targets`` of :class:`TaskData`.
    task : TaskData or str
        The task or its name.

    Returns
    -------
    float
        The task's own score (see its ``accuracy`` method).

    Raises
    ------
    ValueError
        For an unknown task, mismatched shapes or no targets.
    """
    name = task.name if isinstance(task, TaskData) else task
    if name not in TASKS:
        raise ValueError(f"unknown task {name!r}; expected one of {list(TASKS)}")
    outputs, targets = outputs.detach(), targets.detach().to(outputs.device)
    if targets.numel() == 0:
        raise ValueError("accuracy of an empty set of targets is undefined")
    return TASKS[name].accuracy(outputs, targets)
