"""Atomic writes and job logs (lyapunov_rnn.io)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
import torch

from lyapunov_rnn.io import atomic_path, atomic_torch_save, redirect_output


def test_atomic_path_replaces_the_destination_on_success(tmp_path: Path) -> None:
    destination = tmp_path / "sub" / "result.txt"
    with atomic_path(destination) as temporary:
        assert temporary.parent == destination.parent and temporary != destination
        temporary.write_text("new")
        assert not destination.exists()
    assert destination.read_text() == "new"
    assert sorted(p.name for p in destination.parent.iterdir()) == ["result.txt"]


def test_atomic_path_keeps_the_old_file_when_the_writer_fails(tmp_path: Path) -> None:
    destination = tmp_path / "result.txt"
    destination.write_text("old")
    with pytest.raises(RuntimeError, match="writer died"):
        with atomic_path(destination) as temporary:
            temporary.write_text("half")
            raise RuntimeError("writer died")
    assert destination.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["result.txt"]  # no temporary left behind


@pytest.mark.parametrize("umask", [0o022, 0o077])
def test_atomic_path_gives_the_permissions_of_a_plain_file(tmp_path: Path, umask: int) -> None:
    previous = os.umask(umask)
    try:
        with atomic_path(tmp_path / "result.txt") as temporary:
            temporary.write_text("x")
        (tmp_path / "plain.txt").write_text("x")
    finally:
        os.umask(previous)
    mode = stat.S_IMODE((tmp_path / "result.txt").stat().st_mode)
    assert mode == stat.S_IMODE((tmp_path / "plain.txt").stat().st_mode) == 0o666 & ~umask


def test_atomic_torch_save_round_trips(tmp_path: Path) -> None:
    atomic_torch_save({"weight": torch.arange(3.0)}, tmp_path / "model.pt")
    assert torch.equal(torch.load(tmp_path / "model.pt")["weight"], torch.arange(3.0))


def test_redirect_output_logs_output_and_the_traceback(tmp_path: Path) -> None:
    log = tmp_path / "logs" / "job.log"
    with pytest.raises(ValueError, match="bad checkpoint"):
        with redirect_output(log):
            print("progress 50%")
            raise ValueError("bad checkpoint")
    text = log.read_text()
    assert "progress 50%" in text
    assert "Traceback" in text and "ValueError: bad checkpoint" in text
