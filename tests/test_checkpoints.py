"""The checkpoint format: bad files are named, nothing runs on loading."""

import pytest
import torch

from lyapunov_rnn.checkpoints import load_checkpoint


def test_load_checkpoint_names_the_bad_file(tmp_path):
    bad = tmp_path / "epoch_000.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="epoch_000.pt"):
        load_checkpoint(bad)
    with pytest.raises(ValueError, match="does not exist"):
        load_checkpoint(tmp_path / "missing.pt")
    torch.save({"weights": torch.zeros(2)}, bad)
    with pytest.raises(ValueError, match="not a lyapunov_rnn.checkpoint"):
        load_checkpoint(bad)
