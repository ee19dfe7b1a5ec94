"""The AeLLE network."""

from __future__ import annotations

import torch

from lyapunov_rnn.aelle import AeLLE


def test_model_shapes() -> None:
    model = AeLLE(20, hidden_dim=8, latent_dim=3)
    rec, pred, z = model(torch.zeros(5, 20))
    assert rec.shape == (5, 20) and pred.shape == (5,) and z.shape == (5, 3)
    assert torch.all((pred > 0) & (pred < 1))
