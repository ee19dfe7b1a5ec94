"""The IDX file format of the MNIST distribution (LeCun et al.), gzip-compressed or not."""

from __future__ import annotations

import gzip
from pathlib import Path
from types import MappingProxyType

import numpy as np

from lyapunov_rnn.tasks.base import TaskFileError

__all__ = ["IDX_IMAGES_MAGIC", "IDX_LABELS_MAGIC", "read_idx"]

IDX_IMAGES_MAGIC = 0x00000803  # unsigned bytes, 3 dimensions
IDX_LABELS_MAGIC = 0x00000801  # unsigned bytes, 1 dimension
_IDX_DTYPES = MappingProxyType({0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"})


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
