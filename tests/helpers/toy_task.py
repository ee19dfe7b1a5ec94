"""A tiny learnable classification task built in memory, so unit tests need no data files."""

from __future__ import annotations

import hashlib
from pathlib import Path

import torch

from lyapunov_rnn.tasks import TaskData, load_task, prepare_task


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


#: A few lines of text for a character-level language-modelling task.
CORPUS_LINES = "To be, or not to be, that is the question:\nWhether 'tis nobler in the mind to suffer\n"


def prepared_tasks(
    root: Path, configs: dict[str, dict], *, charlm_length: int, corpus_copies: int
) -> dict[str, TaskData]:
    """Each task as the workflow builds it (``prepare_task`` -> ``.npz`` -> ``load_task``), under ``root``.

    ``configs`` maps names to task sections; a ``"charlm"`` task is added, on
    ``corpus_copies`` copies of :data:`CORPUS_LINES` written to ``root`` and
    served by its file URL with its pinned SHA-256, in sequences of
    ``charlm_length`` characters.
    """
    corpus = root / "corpus.txt"
    corpus.write_text(CORPUS_LINES * corpus_copies)
    charlm = {
        "name": "charlm",
        "url": corpus.as_uri(),
        "sha256": hashlib.sha256(corpus.read_bytes()).hexdigest(),
        "sequence_length": charlm_length,
        "val_fraction": 0.25,
    }
    configs = {**configs, "charlm": charlm}
    return {name: load_task(prepare_task(config, root / f"{name}.npz")) for name, config in configs.items()}
