"""The task file: one uncompressed ``.npz`` archive holding a built task.

Members: ``train_inputs``, ``train_targets``, ``test_inputs``,
``test_targets`` (in the task's compact stored form, e.g. uint8 pixels or
integer character indices) and ``header``, a JSON string with the format tag
``lyapunov_rnn.task/1``, the task's name, readout, loss, sizes, input
encoding and provenance. Archives are written atomically with fixed
timestamps, so the same arrays give a byte-identical file.
"""

from __future__ import annotations

import json
import os
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from lyapunov_rnn.io import atomic_path
from lyapunov_rnn.tasks.base import TaskData, TaskFileError, TaskShape

if TYPE_CHECKING:
    import torch

__all__ = ["FORMAT", "load_task", "read_task_shape", "write_task_file"]

FORMAT = "lyapunov_rnn.task/1"
ARRAYS = ("train_inputs", "train_targets", "test_inputs", "test_targets")
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)


def write_task_file(destination: Path, arrays: Mapping[str, np.ndarray], header: Mapping[str, Any]) -> None:
    """Atomically write ``arrays`` and the JSON ``header`` as an uncompressed ``.npz`` with fixed timestamps."""
    members = {**arrays, "header": np.array(json.dumps({"format": FORMAT, **header}, sort_keys=True))}
    with atomic_path(destination, suffix=".tmp") as temp_path, open(temp_path, "wb") as handle:
        with zipfile.ZipFile(handle, "w", compression=zipfile.ZIP_STORED) as archive:
            for key in sorted(members):
                info = zipfile.ZipInfo(f"{key}.npy", date_time=_ZIP_EPOCH)
                info.external_attr = 0o644 << 16
                with archive.open(info, "w", force_zip64=True) as member:
                    np.lib.format.write_array(member, members[key], allow_pickle=False)
        handle.flush()
        os.fsync(handle.fileno())


def _decode_inputs(stored: np.ndarray, encoding: str, input_size: int) -> torch.Tensor:
    """Expand stored inputs into (N, T, I) float32."""
    import torch

    if encoding == "pixels":
        return torch.from_numpy(stored.astype(np.float32) / np.float32(255.0))
    if encoding == "one_hot":
        indices = torch.from_numpy(stored.astype(np.int64)).unsqueeze(-1)
        return torch.zeros(*stored.shape, input_size, dtype=torch.float32).scatter_(-1, indices, 1.0)
    if encoding == "float32":
        return torch.from_numpy(stored.astype(np.float32, copy=False))
    raise KeyError(f"unknown input encoding {encoding!r}")


def _read_members(path: Path) -> dict[str, np.ndarray]:
    """Every array of a task file, checked to be complete, with the parsed header under ``"header"``."""
    if not path.is_file():
        raise FileNotFoundError(f"task file {path} does not exist (run prepare_task first)")
    try:
        with np.load(path, allow_pickle=False) as archive:
            stored = {key: archive[key] for key in archive.files}
    except (TypeError, OSError, ValueError, EOFError, zipfile.BadZipFile) as error:
        raise TaskFileError(f"{path} is not a readable task file (.npz): {error}") from error
    missing = sorted({"header", *ARRAYS} - set(stored))
    if missing:
        raise TaskFileError(f"{path} is not a task file: it lacks {missing}")
    return stored


def read_task_shape(path: str | Path) -> TaskShape:
    """The :class:`TaskShape` of a task file, read without torch.

    Raises
    ------
    FileNotFoundError, TaskFileError
        As :func:`load_task`.
    """
    path = Path(path)
    stored = _read_members(path)
    try:
        header = json.loads(stored["header"].item())
        return TaskShape(
            name=header["name"],
            train_size=len(stored["train_targets"]),
            test_size=len(stored["test_targets"]),
            sequence_length=stored["test_inputs"].shape[1],
            input_size=header["input_size"],
            output_size=header["output_size"],
            readout=header["readout"],
            loss=header["loss"],
        )
    except (KeyError, TypeError, ValueError, IndexError) as error:
        raise TaskFileError(f"{path} is not a valid task file: {error}") from error


def load_task(path: str | Path) -> TaskData:
    """Load a task file written by :func:`lyapunov_rnn.tasks.prepare_task` (torch tensors on the CPU).

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    TaskFileError
        Naming the file, if it is corrupt or not a task file of this format.
    """
    import torch

    path = Path(path)
    stored = _read_members(path)
    try:
        header = json.loads(stored["header"].item())
        if header.get("format") != FORMAT:
            raise TaskFileError(f"format {header.get('format')!r}, expected {FORMAT!r}")
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
