"""Two tiny networks trained on the adding problem, with their checkpoints and task file."""

from __future__ import annotations

from pathlib import Path

from lyapunov_rnn.checkpoints import checkpoint_name
from lyapunov_rnn.config import NetworkSpec, TrainingConfig
from lyapunov_rnn.tasks import TaskData, load_task, prepare_task
from lyapunov_rnn.train import train_network

ADDING = {"name": "adding", "sequence_length": 12, "train_size": 64, "test_size": 16, "seed": 0}


def train_two_networks(root: Path) -> tuple[Path, TaskData, dict[str, list[Path]]]:
    """Task file and checkpoints of a GRU (N=5) and an LSTM (N=4, state 8) on the adding problem."""
    task_path = prepare_task(ADDING, root / "task.npz")
    task = load_task(task_path)
    training = TrainingConfig(epochs=2, batch_size=16, learning_rate=0.01)
    networks = {}
    for spec in (NetworkSpec("gru", 5, 0.5, 0), NetworkSpec("lstm", 4, 0.5, 0)):
        directory = root / spec.architecture
        train_network(spec, task, training, directory, progress=False)
        networks[spec.architecture] = [directory / checkpoint_name(e) for e in range(3)]
    return task_path, task, networks
