"""The adding problem: generated data and its tolerance-based accuracy."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from lyapunov_rnn.tasks import ADDING_TOLERANCE, accuracy, load_task, prepare_task


def test_adding_problem(tmp_path: Path) -> None:
    config = {"name": "adding", "sequence_length": 20, "train_size": 64, "test_size": 16, "seed": 3}
    task = load_task(prepare_task(config, tmp_path / "a.npz"))
    assert task.train_inputs.shape == (64, 20, 2) and task.test_inputs.shape == (16, 20, 2)
    assert task.train_targets.shape == (64,) and task.train_targets.dtype == torch.float32
    assert (task.input_size, task.output_size, task.readout, task.loss) == (2, 1, "last", "mse")
    for inputs, targets in ((task.train_inputs, task.train_targets), (task.test_inputs, task.test_targets)):
        values, markers = inputs[..., 0], inputs[..., 1]
        assert ((values >= 0) & (values < 1)).all()
        assert set(markers.unique().tolist()) == {0.0, 1.0}
        assert (markers[:, :10].sum(1) == 1).all() and (markers[:, 10:].sum(1) == 1).all()
        assert torch.allclose((values * markers).sum(1), targets)


def test_adding_problem_is_deterministic(tmp_path: Path) -> None:
    config = {"name": "adding", "sequence_length": 10, "train_size": 8, "test_size": 4}
    first = prepare_task(config, tmp_path / "a.npz")
    assert prepare_task(config, tmp_path / "b.npz").read_bytes() == first.read_bytes()
    bigger_test = load_task(prepare_task({**config, "test_size": 6}, tmp_path / "c.npz"))
    assert torch.equal(bigger_test.train_inputs, load_task(first).train_inputs)
    reseeded = load_task(prepare_task({**config, "seed": 1}, tmp_path / "d.npz"))
    assert not torch.equal(reseeded.train_inputs, load_task(first).train_inputs)


def test_accuracy_adding_threshold() -> None:
    targets = torch.tensor([1.0, 1.0, 0.5, 0.2])
    predictions = torch.tensor([1.039, 0.959, 0.5, 0.3])
    assert ADDING_TOLERANCE == 0.04
    assert accuracy(predictions, targets, "adding") == pytest.approx(0.5)
    assert accuracy(predictions[:, None], targets, "adding") == pytest.approx(0.5)


def test_accuracy_accepts_task_data(tmp_path: Path) -> None:
    task = load_task(prepare_task({"name": "adding", "train_size": 4, "test_size": 4}, tmp_path / "a.npz"))
    assert accuracy(task.test_targets[:, None], task.test_targets, task) == 1.0
