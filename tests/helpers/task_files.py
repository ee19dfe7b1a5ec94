"""Task data served by a local HTTP server: synthetic MNIST IDX files and a text corpus."""

from __future__ import annotations

import gzip
import hashlib
import struct
from dataclasses import dataclass, field

import numpy as np


@dataclass
class Site:
    """Files served by the local HTTP server, and the paths it was asked for."""

    base: str = ""
    files: dict[str, bytes] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)


def sha256(data: bytes) -> str:
    """Hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def idx_bytes(array: np.ndarray, magic: int | None = None) -> bytes:
    """gzip-compressed IDX bytes of a uint8 array (magic from its rank unless given)."""
    magic = (0x0800 | array.ndim) if magic is None else magic
    header = struct.pack(">I", magic) + struct.pack(f">{array.ndim}I", *array.shape)
    return gzip.compress(header + array.astype(">u1").tobytes(), mtime=0)


def synthetic_mnist(site: Site, *, bad_labels_magic: bool = False) -> tuple[dict, dict[str, np.ndarray]]:
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
        data = idx_bytes(array, magic)
        site.files[f"/mnist/{name}"] = data
        checksums[name] = sha256(data)
    config = {
        "name": "smnist",
        "source": "download",
        "mirrors": [f"{site.base}/missing/", f"{site.base}/mnist"],
        "checksums": checksums,
    }
    return config, arrays


TEXT = "the quick brown fox\r\njumps over the lazy dog. " * 4 + "Ünïcödé!"  # 192 characters


def charlm_config(site: Site, text: str = TEXT, **options) -> dict:
    """Serve ``text`` as /corpus.txt (the configured URL 404s); return a charlm task config."""
    data = text.encode("utf-8")
    site.files["/corpus.txt"] = data
    return {
        "name": "charlm",
        "url": f"{site.base}/gone.txt",
        "mirrors": [f"{site.base}/corpus.txt"],
        "sha256": sha256(data),
        **options,
    }
