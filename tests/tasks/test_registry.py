"""The task registry and the task-independent functions: options, accuracy, raw files."""

from __future__ import annotations

from pathlib import Path
from types import MappingProxyType

import numpy as np
import pytest
import torch
from helpers.task_files import Site, charlm_config, synthetic_mnist

from lyapunov_rnn.tasks import (
    MNIST_FILES,
    TASKS,
    BuiltTask,
    Task,
    TaskShape,
    accuracy,
    download_raw,
    load_task,
    prepare_task,
    raw_files,
    read_task_shape,
    resolve_task,
    task_shape,
)
from lyapunov_rnn.tasks.base import classification_accuracy
from lyapunov_rnn.tasks.charlm import KNOWN_CORPORA


def test_accuracy_classification() -> None:
    logits = torch.tensor([[0.1, 2.0, 0.0], [3.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, 5.0, 0.0]])
    assert accuracy(logits, torch.tensor([1, 0, 0, 0]), "smnist") == pytest.approx(0.5)


def test_accuracy_charlm_over_all_positions() -> None:
    targets = torch.tensor([[0, 1, 2], [2, 2, 2]])
    logits = torch.nn.functional.one_hot(torch.tensor([[0, 1, 0], [2, 0, 0]]), 3).float()
    assert accuracy(logits, targets, "charlm") == pytest.approx(3 / 6)






@pytest.mark.parametrize(
    ("outputs", "targets", "task", "match"),
    [
        (torch.zeros(4, 3), torch.zeros(5, dtype=torch.long), "smnist", "do not match|plus classes"),
        (torch.zeros(4, 2), torch.zeros(4), "adding", "do not match"),
        (torch.zeros(4, 3), torch.zeros(4, dtype=torch.long), "mnist", "unknown task"),
        (torch.zeros(0, 3), torch.zeros(0, dtype=torch.long), "smnist", "empty"),
    ],
)
def test_accuracy_errors(outputs: torch.Tensor, targets: torch.Tensor, task: str, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        accuracy(outputs, targets, task)


@pytest.mark.parametrize(
    ("config", "key"),
    [
        ({}, "name"),
        ({"name": "mnist"}, "name"),
        ({"name": "smnist", "test_fraktion": 0.2}, "test_fraktion"),
        ({"name": "smnist", "source": "web"}, "source"),
        ({"name": "smnist", "test_fraction": 1.5}, "test_fraction"),
        ({"name": "smnist", "subset": 0}, "subset"),
        ({"name": "smnist", "split_seed": 1.5}, "split_seed"),
        ({"name": "smnist", "source": "download", "mirrors": []}, "mirrors"),
        ({"name": "smnist", "mirrors": "https://example.org/"}, "mirrors"),
        ({"name": "smnist", "mirrors": 3}, "mirrors"),
        ({"name": "smnist", "checksums": {"other.gz": "0" * 32}}, "checksums"),
        ({"name": "smnist", "checksums": {MNIST_FILES[0]: "abc"}}, "checksums"),
        ({"name": "adding", "sequence_length": 1}, "sequence_length"),
        ({"name": "adding", "train_size": "10"}, "train_size"),
        ({"name": "adding", "test_size": True}, "test_size"),
        ({"name": "charlm", "sha256": "0" * 64}, "url"),
        ({"name": "charlm", "url": "https://example.org/t.txt"}, "sha256"),
        ({"name": "charlm", "url": "https://example.org/t.txt", "sha256": "xyz"}, "sha256"),
        ({"name": "charlm", "url": "u", "sha256": "0" * 64, "val_fraction": 0}, "val_fraction"),
        ({"name": "charlm", "url": "u", "sha256": "0" * 64, "max_characters": -1}, "max_characters"),
    ],
)
def test_bad_config_names_the_key(config: dict, key: str, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=f"'{key}'"):
        prepare_task(config, tmp_path / "t.npz")
    assert list(tmp_path.iterdir()) == []


def test_resolve_task_fills_defaults() -> None:
    assert resolve_task({"name": "adding"}) == {
        "name": "adding",
        "sequence_length": 50,
        "train_size": 2000,
        "test_size": 500,
        "seed": 0,
    }
    smnist = resolve_task({"name": "smnist"})
    assert smnist["source"] == "embedded" and smnist["test_fraction"] == 0.2 and smnist["subset"] is None
    assert smnist["mirrors"][0] == "https://ossci-datasets.s3.amazonaws.com/mnist/"


def test_download_raw_fetches_what_raw_files_names(site: Site, tmp_path: Path) -> None:
    """The workflow's download rule: raw files first, then prepare_task reuses them offline."""
    config, _ = synthetic_mnist(site)
    cache = tmp_path / "resources" / "smnist"
    paths = download_raw(config, cache)
    assert [p.name for p in paths] == raw_files(config) == list(MNIST_FILES)
    assert all(p.is_file() for p in paths)
    count = len(site.requests)
    prepare_task(config, tmp_path / "t.npz", cache_dir=cache)
    assert len(site.requests) == count  # nothing fetched twice
    assert raw_files({"name": "smnist", "source": "embedded"}) == []
    assert raw_files({"name": "adding"}) == []
    assert download_raw({"name": "adding"}, cache) == []
    charlm = charlm_config(site)
    assert [p.name for p in download_raw(charlm, tmp_path / "text")] == raw_files(charlm)


def test_task_shape_is_the_shape_of_the_built_task(site: Site, tmp_path: Path) -> None:
    """What the cost estimator is told without building a task is what prepare_task builds."""
    charlm = charlm_config(site, sequence_length=9, val_fraction=0.25)
    configs = [
        {"name": "smnist", "subset": 50},
        {"name": "smnist", "test_fraction": 0.3},
        {"name": "adding", "sequence_length": 7, "train_size": 9, "test_size": 5},
        charlm,
    ]
    cache = tmp_path / "cache"
    download_raw(charlm, cache)  # the corpus's size is read from the cache
    for number, config in enumerate(configs):
        built = load_task(prepare_task(config, tmp_path / f"{number}.npz", cache_dir=cache))
        expected = TaskShape(
            name=built.name,
            train_size=len(built.train_targets),
            test_size=len(built.test_targets),
            sequence_length=built.test_inputs.shape[1],
            input_size=built.input_size,
            output_size=built.output_size,
            readout=built.readout,
            loss=built.loss,
        )
        assert task_shape(config, cache) == expected, config
        assert read_task_shape(tmp_path / f"{number}.npz") == expected, config


def test_known_corpus_shape_needs_no_download() -> None:
    config = {
        "name": "charlm",
        "url": "https://example.org/input.txt",
        "sha256": next(iter(KNOWN_CORPORA)),
        "sequence_length": 100,
    }
    shape = task_shape(config)
    assert (shape.input_size, shape.sequence_length) == (65, 100)
    assert shape.train_size == int(1_115_394 * 0.9) // 101
    with pytest.raises(ValueError, match="unknown corpus"):
        task_shape({**config, "sha256": "0" * 64})


class Countdown(Task):
    """A toy task defined in a test: predict the parity of the number of ones, read out at the last step."""

    name = "countdown"
    options = MappingProxyType({"sequence_length": 6, "size": 40, "seed": 0})
    readout = "last"
    loss = "cross_entropy"
    input_encoding = "float32"

    def check(self, cfg: dict) -> None:
        cfg["size"] = self.integer(cfg, "size", 2)

    def build(self, cfg, cache_dir) -> BuiltTask:
        rng = np.random.default_rng(cfg["seed"])
        bits = rng.integers(0, 2, (cfg["size"], cfg["sequence_length"], 1)).astype(np.float32)
        parity = bits.sum(axis=(1, 2)).astype(np.int64) % 2
        half = cfg["size"] // 2
        arrays = {
            "train_inputs": bits[:half],
            "train_targets": parity[:half],
            "test_inputs": bits[half:],
            "test_targets": parity[half:],
        }
        return BuiltTask(arrays, input_size=1, output_size=2, metadata={"source": "generated"})

    def shape(self, cfg, cache_dir=None) -> TaskShape:
        half = cfg["size"] // 2
        return self.task_shape(half, cfg["size"] - half, cfg["sequence_length"], 1, 2)

    def accuracy(self, outputs: torch.Tensor, targets: torch.Tensor) -> float:
        return classification_accuracy(self.name, outputs, targets)


@pytest.fixture
def toy_task_registered(monkeypatch: pytest.MonkeyPatch) -> Countdown:
    """Countdown in the registry for one test: adding a task is one class plus this entry."""
    task = Countdown()
    monkeypatch.setitem(TASKS, task.name, task)
    return task


def test_a_new_task_is_one_class_and_a_registry_entry(toy_task_registered: Countdown, tmp_path: Path) -> None:
    from lyapunov_rnn.checkpoints import checkpoint_name
    from lyapunov_rnn.config import LyapunovConfig, NetworkSpec, TrainingConfig
    from lyapunov_rnn.spectra import network_spectra
    from lyapunov_rnn.train import train_network

    config = {"name": "countdown", "size": 24}
    assert resolve_task(config) == {"name": "countdown", "sequence_length": 6, "size": 24, "seed": 0}
    with pytest.raises(ValueError, match="'size'"):
        resolve_task({"name": "countdown", "size": 1})
    assert raw_files(config) == []
    task = load_task(prepare_task(config, tmp_path / "countdown.npz"))
    assert task_shape(config) == read_task_shape(tmp_path / "countdown.npz")
    assert (task.readout, task.loss, task.train_inputs.shape) == ("last", "cross_entropy", (12, 6, 1))

    metrics = train_network(
        NetworkSpec("gru", hidden_size=4, init_param=0.5, seed=0),
        task,
        TrainingConfig(epochs=1, batch_size=4),
        tmp_path / "net",
        progress=False,
    )
    assert metrics["val_accuracy"].between(0, 1).all()
    checkpoints = [tmp_path / "net" / checkpoint_name(epoch) for epoch in (0, 1)]
    spectra = network_spectra(checkpoints, task, LyapunovConfig(sequences=4), progress=False)
    assert spectra["exponents"].shape == (2, 4) and spectra["task"].item() == "countdown"
