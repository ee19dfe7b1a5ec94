"""The task interface: what the rest of the package needs to know about a sequence task.

A task is one :class:`Task` subclass in its own module of this package,
registered in :data:`lyapunov_rnn.tasks.TASKS`. It declares its options with
defaults, the raw files it downloads, how it builds its arrays, the shapes of
its data without building them, how it is read out and scored. Everything
else (storage, loading, the workflow's rules, the cost estimator) works for
any registered task.

No torch here: the Snakemake process and the cost estimator read the options,
raw files and shapes of a task without loading PyTorch. Accuracies are
computed with tensor methods only.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, ClassVar, NamedTuple

import numpy as np

if TYPE_CHECKING:
    import torch

__all__ = ["REQUIRED", "BuiltTask", "Task", "TaskData", "TaskFileError", "TaskShape", "classification_accuracy"]

#: Marks an option without default: the configuration must give it.
REQUIRED: Any = type("Required", (), {"__repr__": lambda self: "REQUIRED"})()


class TaskFileError(ValueError):
    """A task file (or a raw data file) is corrupt or not in the expected format."""


@dataclass(frozen=True, eq=False)
class TaskData:
    """A task's train and test sequences, ready for training.

    Attributes
    ----------
    name : str
        The registered task name (``"smnist"``, ``"adding"``, ``"charlm"``, ...).
    train_inputs, test_inputs : torch.Tensor
        (N, T, I) float32 input sequences.
    train_targets, test_targets : torch.Tensor
        Per sequence (N,) class or value, or per step (N, T) for tasks read
        out at every step.
    input_size : int
        I, features per time step.
    output_size : int
        Outputs of the readout (classes, 1 for a scalar regression, the
        vocabulary size for character modelling).
    readout : str
        ``"last"`` (one output per sequence) or ``"every"`` (one per step).
    loss : str
        ``"cross_entropy"`` or ``"mse"``.
    metadata : dict
        Provenance: resolved configuration, source, split sizes and seeds,
        the vocabulary (charlm) etc.
    """

    name: str
    train_inputs: torch.Tensor
    train_targets: torch.Tensor
    test_inputs: torch.Tensor
    test_targets: torch.Tensor
    input_size: int
    output_size: int
    readout: str
    loss: str
    metadata: dict


@dataclass(frozen=True)
class TaskShape:
    """Sizes and shapes of a task's data, known from its configuration alone.

    Attributes
    ----------
    name : str
        Task name.
    train_size, test_size : int
        Number of training and test sequences.
    sequence_length : int
        T, time steps per sequence.
    input_size, output_size : int
        Features per step and readout outputs.
    readout, loss : str
        As in :class:`TaskData`.
    """

    name: str
    train_size: int
    test_size: int
    sequence_length: int
    input_size: int
    output_size: int
    readout: str
    loss: str


class BuiltTask(NamedTuple):
    """What :meth:`Task.build` returns.

    Attributes
    ----------
    arrays : dict of numpy.ndarray
        ``train_inputs``, ``train_targets``, ``test_inputs``, ``test_targets``
        in their stored (compact) form, see :attr:`Task.input_encoding`.
    input_size, output_size : int
        As in :class:`TaskData`.
    metadata : dict
        Provenance, JSON-serialisable.
    """

    arrays: dict[str, np.ndarray]
    input_size: int
    output_size: int
    metadata: dict[str, Any]


class Task(ABC):
    """One sequence task: its options, raw files, data, shapes, readout and score.

    Subclasses set the class attributes and implement :meth:`build`,
    :meth:`shape` and :meth:`accuracy`; tasks that download data also
    override :meth:`raw_files` and :meth:`download`, and tasks whose options
    need more than the type checks of :meth:`check` override it.

    Attributes
    ----------
    name : str
        The ``task.name`` of the configuration.
    options : Mapping
        Every option with its default (:data:`REQUIRED` if none).
    readout : str
        ``"last"`` or ``"every"``.
    loss : str
        ``"cross_entropy"`` or ``"mse"`` (see :mod:`lyapunov_rnn.train`).
    input_encoding : str
        How :meth:`build` stores inputs: ``"pixels"`` (uint8 in [0, 255],
        scaled to [0, 1] on loading), ``"one_hot"`` (integer indices,
        expanded to one-hot vectors of ``input_size``) or ``"float32"``.
    """

    name: ClassVar[str]
    options: ClassVar[Mapping[str, Any]] = MappingProxyType({})
    readout: ClassVar[str]
    loss: ClassVar[str]
    input_encoding: ClassVar[str]

    def resolve(self, config: Mapping[str, Any]) -> dict[str, Any]:
        """Validate a configuration of this task and fill in its defaults.

        Returns
        -------
        dict
            A new, JSON-serialisable configuration with every option present.

        Raises
        ------
        ValueError
            Naming the offending key: unknown or missing key, or a value of
            the wrong type or range.
        """
        unknown = sorted(set(config) - set(self.options) - {"name"})
        if unknown:
            raise self.fail(unknown[0], f"is not a known option (known: {sorted(self.options)})")
        cfg: dict[str, Any] = {"name": self.name, **self.options, **config}
        missing = [key for key, value in cfg.items() if value is REQUIRED]
        if missing:
            raise self.fail(missing[0], "is required")
        self.check(cfg)
        return cfg

    def check(self, cfg: dict[str, Any]) -> None:  # noqa: B027 (an optional hook, empty by default)
        """Check and normalise option values in place (all keys present)."""

    def raw_files(self, cfg: Mapping[str, Any]) -> list[str]:
        """Names of the files the task downloads into its cache directory (none by default)."""
        return []

    def download(self, cfg: Mapping[str, Any], cache_dir: Path) -> None:  # noqa: B027 (optional hook)
        """Download and verify :meth:`raw_files` into ``cache_dir`` (nothing by default)."""

    @abstractmethod
    def build(self, cfg: Mapping[str, Any], cache_dir: Path) -> BuiltTask:
        """Build the task's arrays deterministically from a resolved configuration."""

    @abstractmethod
    def shape(self, cfg: Mapping[str, Any], cache_dir: Path | None = None) -> TaskShape:
        """Split sizes and shapes of :meth:`build`'s result, without building it."""

    @abstractmethod
    def accuracy(self, outputs: torch.Tensor, targets: torch.Tensor) -> float:
        """Fraction in [0, 1] of correct outputs (shapes already checked to be non-empty)."""

    def task_shape(
        self, train_size: int, test_size: int, sequence_length: int, input_size: int, output_size: int
    ) -> TaskShape:
        """A :class:`TaskShape` of this task with the given sizes."""
        return TaskShape(
            self.name, train_size, test_size, sequence_length, input_size, output_size, self.readout, self.loss
        )

    # ----------------------------------------------------------------- option checks
    def fail(self, key: str, message: str) -> ValueError:
        """The error for an invalid option ``key``."""
        return ValueError(f"task {self.name!r}: key {key!r} {message}")

    def integer(self, cfg: Mapping[str, Any], key: str, minimum: int, *, optional: bool = False) -> int | None:
        """``cfg[key]`` as an integer >= ``minimum`` (or None if ``optional``)."""
        value = cfg[key]
        if value is None and optional:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
            raise self.fail(key, f"must be an integer >= {minimum}, got {value!r}")
        return int(value)

    def fraction(self, cfg: Mapping[str, Any], key: str) -> float:
        """``cfg[key]`` as a number strictly between 0 and 1."""
        value = cfg[key]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < 1:
            raise self.fail(key, f"must be a number strictly between 0 and 1, got {value!r}")
        return float(value)

    def string_list(self, cfg: Mapping[str, Any], key: str) -> list[str]:
        """``cfg[key]`` as a list of non-empty strings."""
        value = cfg[key]
        if not isinstance(value, (list, tuple)) or not all(isinstance(item, str) and item for item in value):
            raise self.fail(key, f"must be a list of non-empty strings, got {value!r}")
        return list(value)

    def hex_digest(self, key: str, value: Any, lengths: tuple[int, ...]) -> str:
        """``value`` as a lower-case hex digest of one of ``lengths``."""
        valid = isinstance(value, str) and len(value) in lengths
        if not valid or any(c not in "0123456789abcdef" for c in value.lower()):
            raise self.fail(key, f"must be a hex digest of length {' or '.join(map(str, lengths))}, got {value!r}")
        return value.lower()


def classification_accuracy(name: str, outputs: torch.Tensor, targets: torch.Tensor) -> float:
    """Fraction of argmax predictions equal to the targets; ``outputs`` are targets' shape plus classes.

    Raises
    ------
    ValueError
        If the shapes do not match.
    """
    if outputs.shape[:-1] != targets.shape:
        raise ValueError(
            f"{name}: outputs {tuple(outputs.shape)} must be targets' shape {tuple(targets.shape)} plus classes"
        )
    return (outputs.argmax(dim=-1) == targets).float().mean().item()
