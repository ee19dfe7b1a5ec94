"""Character-level language modelling: corpus download, vocabulary and windows."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from helpers.task_files import TEXT, Site, charlm_config

from lyapunov_rnn.download import DownloadError
from lyapunov_rnn.tasks import load_task, prepare_task


def test_charlm_windows_and_vocabulary(site: Site, tmp_path: Path) -> None:
    config = charlm_config(site, sequence_length=9, val_fraction=0.25)
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
    config = charlm_config(site, sequence_length=4, val_fraction=0.5, max_characters=20)
    task = load_task(prepare_task(config, tmp_path / "c.npz", cache_dir=tmp_path / "cache"))
    assert task.metadata["vocabulary"] == sorted(set(TEXT[:20]))
    assert task.train_inputs.shape[0] == task.test_inputs.shape[0] == 2


def test_charlm_text_too_short(site: Site, tmp_path: Path) -> None:
    config = charlm_config(site, sequence_length=100, val_fraction=0.5)
    with pytest.raises(ValueError, match="sequence_length"):
        prepare_task(config, tmp_path / "c.npz", cache_dir=tmp_path / "cache")


def test_charlm_checksum_mismatch(site: Site, tmp_path: Path) -> None:
    config = {**charlm_config(site), "sha256": "0" * 64}
    with pytest.raises(DownloadError, match="0{64}"):
        prepare_task(config, tmp_path / "c.npz", cache_dir=tmp_path / "cache")
    assert not (tmp_path / "c.npz").exists()
