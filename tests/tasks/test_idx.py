"""The IDX reader (the MNIST file format)."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest
from helpers.task_files import idx_bytes

from lyapunov_rnn.tasks import TaskFileError, read_idx


def test_read_idx_plain_and_errors(tmp_path: Path) -> None:
    array = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    plain = tmp_path / "plain.idx"
    plain.write_bytes(gzip.decompress(idx_bytes(array)))
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
