"""The AeLLE network: an autoencoder with a performance-prediction head on its latent code."""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["AeLLE"]


class AeLLE(nn.Module):
    """Autoencoder with a performance-prediction head on its latent code.

    Encoder ``in -> hidden (tanh, dropout) -> latent``, decoder mirrored
    ``latent -> hidden (tanh, dropout) -> in``, predictor
    ``latent -> 1 (linear + sigmoid)`` (target scaled to [0, 1]). The
    reference uses ``1024 -> 256 -> 32``; the defaults here suit small data.

    Parameters
    ----------
    input_dim : int
        Length of the (resampled) spectrum.
    hidden_dim, latent_dim : int
        Width of the hidden layer and of the latent code.
    dropout : float
        Dropout probability after the hidden activations.
    """

    def __init__(
        self, input_dim: int, hidden_dim: int = 128, latent_dim: int = 16, dropout: float = 0.1
    ) -> None:
        super().__init__()
        self.encoder = nn.Sequential(
            nn.Linear(input_dim, hidden_dim), nn.Tanh(), nn.Dropout(dropout),
            nn.Linear(hidden_dim, latent_dim),
        )
        self.decoder = nn.Sequential(
            nn.Linear(latent_dim, hidden_dim), nn.Tanh(), nn.Dropout(dropout),
            nn.Linear(hidden_dim, input_dim),
        )
        self.predictor = nn.Sequential(nn.Linear(latent_dim, 1), nn.Sigmoid())

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Return ``(reconstruction, scaled prediction (B,), latent)`` for ``x`` (B, in)."""
        latent = self.encoder(x)
        return self.decoder(latent), self.predictor(latent).squeeze(-1), latent
