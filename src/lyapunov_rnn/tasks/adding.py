"""The adding problem (Hochreiter & Schmidhuber 1997; Arjovsky et al. 2016).

Input (T, 2): channel 0 holds U(0, 1) values, channel 1 marks exactly two
positions with 1, one in the first half (t < T // 2) and one in the second;
the target is the sum of the two marked values. Read out at the last step,
mean-squared-error loss. Options: ``sequence_length`` (50), ``train_size``
(2000), ``test_size`` (500), ``seed`` (0). A sequence counts as correct when
its absolute error is below :data:`ADDING_TOLERANCE`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import numpy as np

from lyapunov_rnn.tasks.base import BuiltTask, Task, TaskShape

if TYPE_CHECKING:
    import torch

__all__ = ["ADDING_TOLERANCE", "AddingProblem"]

#: An adding-problem sequence counts as correct when its absolute error is
#: below this (Hochreiter & Schmidhuber 1997, experiment 4).
ADDING_TOLERANCE = 0.04


def _adding_split(rng: np.random.Generator, size: int, length: int) -> tuple[np.ndarray, np.ndarray]:
    """(size, length, 2) float32 inputs and (size,) float32 targets of the adding problem."""
    values = rng.random((size, length), dtype=np.float32)
    rows = np.arange(size)
    first = rng.integers(0, length // 2, size)
    second = rng.integers(length // 2, length, size)
    inputs = np.zeros((size, length, 2), dtype=np.float32)
    inputs[:, :, 0] = values
    inputs[rows, first, 1] = 1.0
    inputs[rows, second, 1] = 1.0
    targets = values[rows, first] + values[rows, second]
    return inputs, targets


class AddingProblem(Task):
    """The adding problem (see the module documentation for its options)."""

    name = "adding"
    options = MappingProxyType({"sequence_length": 50, "train_size": 2000, "test_size": 500, "seed": 0})
    readout = "last"
    loss = "mse"
    input_encoding = "float32"

    def check(self, cfg: dict[str, Any]) -> None:
        cfg["sequence_length"] = self.integer(cfg, "sequence_length", 2)
        cfg["train_size"] = self.integer(cfg, "train_size", 1)
        cfg["test_size"] = self.integer(cfg, "test_size", 1)
        cfg["seed"] = self.integer(cfg, "seed", 0)

    def build(self, cfg: Mapping[str, Any], cache_dir: Path) -> BuiltTask:
        train_seed, test_seed = np.random.SeedSequence(cfg["seed"]).spawn(2)
        arrays = {}
        for part, seed, size in (("train", train_seed, cfg["train_size"]), ("test", test_seed, cfg["test_size"])):
            inputs, targets = _adding_split(np.random.default_rng(seed), size, cfg["sequence_length"])
            arrays[f"{part}_inputs"], arrays[f"{part}_targets"] = inputs, targets
        metadata = {"source": "generated (numpy SeedSequence(seed).spawn(2))", "tolerance": ADDING_TOLERANCE}
        return BuiltTask(arrays, input_size=2, output_size=1, metadata=metadata)

    def shape(self, cfg: Mapping[str, Any], cache_dir: Path | None = None) -> TaskShape:
        return self.task_shape(cfg["train_size"], cfg["test_size"], cfg["sequence_length"], 2, 1)

    def accuracy(self, outputs: torch.Tensor, targets: torch.Tensor) -> float:
        """Fraction of sequences with ``|prediction - target| <`` :data:`ADDING_TOLERANCE`.

        The criterion of Hochreiter & Schmidhuber (1997) used throughout the
        adding-problem literature; ``outputs`` may be (N,) or (N, 1).
        """
        if outputs.shape == (*targets.shape, 1):
            outputs = outputs.squeeze(-1)
        if outputs.shape != targets.shape:
            raise ValueError(f"{self.name}: outputs {tuple(outputs.shape)} do not match targets {tuple(targets.shape)}")
        return ((outputs - targets).abs() < ADDING_TOLERANCE).float().mean().item()
