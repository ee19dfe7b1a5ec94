"""The task file: loading errors name the file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lyapunov_rnn.tasks import TaskFileError, load_task, prepare_task


@pytest.fixture(scope="module")
def adding_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return prepare_task({"name": "adding", "train_size": 8, "test_size": 4}, tmp_path_factory.mktemp("a") / "a.npz")


def test_load_task_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="absent.npz"):
        load_task(tmp_path / "absent.npz")


def test_load_task_rejects_foreign_and_corrupt_files(tmp_path: Path, adding_file: Path) -> None:
    text = tmp_path / "text.npz"
    text.write_text("not a task")
    foreign = tmp_path / "foreign.npz"
    np.savez(foreign, x=np.zeros(3))
    array = tmp_path / "array.npz"
    with open(array, "wb") as handle:
        np.save(handle, np.zeros(3))
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(adding_file.read_bytes()[:1000])
    for path in (text, foreign, array, truncated):
        with pytest.raises(TaskFileError, match=path.name):
            load_task(path)
