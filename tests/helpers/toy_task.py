"""A tiny learnable classification task built in memory, so unit tests need no data files."""

from __future__ import annotations

import torch

from lyapunov_rnn.tasks import TaskData


def make_classification_task(
    n_train: int = 96, n_test: int = 32, steps: int = 6, features: int = 3, classes: int = 2, seed: int = 0
) -> TaskData:
    """A learnable task: the class is the sign pattern of the mean input."""
    generator = torch.Generator().manual_seed(seed)
    inputs = torch.randn(n_train + n_test, steps, features, generator=generator)
    targets = (inputs.mean(dim=(1, 2)) > 0).long() % classes
    return TaskData(
        name="smnist",  # scored like SMNIST: classification from the last step
        train_inputs=inputs[:n_train],
        train_targets=targets[:n_train],
        test_inputs=inputs[n_train:],
        test_targets=targets[n_train:],
        input_size=features,
        output_size=classes,
        readout="last",
        loss="cross_entropy",
        metadata={},
    )
