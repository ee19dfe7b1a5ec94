"""The AeLLE network: an autoencoder with a performance-prediction head on its latent code."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import torch
from torch import nn

__all__ = ["AeLLE"]


class AeLLE(nn.Module):
    """Autoencoder with a performance-prediction head on its latent code.

    Encoder ``in -> hidden (tanh, dropout) [-> hidden ...] -> latent``,
    decoder mirrored ``latent -> hidden (tanh, dropout) ... -> in``, predictor
    ``latent -> 1 (linear + sigmoid)`` (target scaled to [0, 1]). The
    reference's SMNIST model is ``1024 -> 512 -> 256 -> 32``; the defaults
    here suit small data.

    Parameters
    ----------
    input_dim : int
        Length of the (resampled) spectrum.
    hidden_dim : int or sequence of int
        Width of the hidden layer, or of each hidden layer of the encoder
        (input side first).
    latent_dim : int
        Width of the latent code.
    dropout : float
        Dropout probability after the hidden activations.
    """

    def __init__(
        self, input_dim: int, hidden_dim: int | Sequence[int] = 128, latent_dim: int = 16, dropout: float = 0.1
    ) -> None:
        super().__init__()
        widths = [hidden_dim] if isinstance(hidden_dim, int) else list(hidden_dim)
        self.encoder = _stack([input_dim, *widths], latent_dim, dropout)
        self.decoder = _stack([latent_dim, *widths[::-1]], input_dim, dropout)
        self.predictor = nn.Sequential(nn.Linear(latent_dim, 1), nn.Sigmoid())

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Return ``(reconstruction, scaled prediction (B,), latent)`` for ``x`` (B, in)."""
        latent = self.encoder(x)
        return self.decoder(latent), self.predictor(latent).squeeze(-1), latent


def _stack(widths: list[int], output_dim: int, dropout: float) -> nn.Sequential:
    """``Linear, Tanh, Dropout`` from each width to the next, then a linear map to ``output_dim``."""
    layers: list[nn.Module] = []
    for width_in, width_out in itertools.pairwise(widths):
        layers += [nn.Linear(width_in, width_out), nn.Tanh(), nn.Dropout(dropout)]
    return nn.Sequential(*layers, nn.Linear(widths[-1], output_dim))
