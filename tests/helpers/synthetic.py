"""A synthetic experiment dataset with known signal, for the AeLLE, analysis and plot tests."""

from __future__ import annotations

import numpy as np
import xarray as xr

from lyapunov_rnn.config import AelleConfig

ARCH_STATE = {"rnn": (8, 8), "gru": (8, 8), "lstm": (8, 16)}  # hidden size, state size


def make_dataset(n_per_arch: int = 30, epochs: int = 5, seed: int = 0) -> xr.Dataset:
    """Synthetic experiment in which the final loss grows with the max exponent.

    Each network has an init parameter ``g`` (log-uniform in [0.1, 10]); its
    largest exponent is ``log g`` plus noise and drifts slightly in training.
    The final validation loss increases monotonically with that exponent, so
    spectra carry real signal about performance. Networks with ``g > 7``
    diverge at the last checkpoint (NaN spectra and losses).
    """
    rng = np.random.default_rng(seed)
    architectures = np.repeat(list(ARCH_STATE), n_per_arch)
    n = architectures.size
    hidden = np.array([ARCH_STATE[a][0] for a in architectures])
    state = np.array([ARCH_STATE[a][1] for a in architectures])
    k_max = int(state.max())
    g = np.exp(rng.uniform(np.log(0.1), np.log(10.0), n))
    fraction = np.arange(epochs + 1) / epochs

    lam_max0 = np.log(g) + rng.normal(0, 0.3, n)
    drift = rng.normal(0, 0.1, n)
    lam_max = lam_max0[:, None] + drift[:, None] * fraction[None, :]  # (n, C)
    spacing = rng.uniform(0.1, 0.3, n)
    exponents = np.full((n, epochs + 1, k_max), np.nan)
    for i in range(n):
        steps = np.arange(state[i])
        exponents[i, :, : state[i]] = lam_max[i][:, None] - spacing[i] * steps[None, :]

    final = 0.2 + 0.4 * np.exp(0.6 * lam_max[:, -1]) + rng.normal(0, 0.08, n)
    initial = 2.0 + rng.normal(0, 0.1, n)
    val_loss = final[:, None] + (initial - final)[:, None] * np.exp(-4 * fraction)[None, :]
    diverged = np.zeros((n, epochs + 1), bool)
    diverged[g > 7.0, -1] = True
    val_loss[diverged] = np.nan
    exponents[diverged] = np.nan
    accuracy = np.clip(1.0 - val_loss / 2.5, 0.0, 1.0)

    networks = [f"{a}-{i:03d}" for i, a in enumerate(architectures)]
    return xr.Dataset(
        {
            "exponents": (("network", "checkpoint", "exponent"), exponents),
            "exponents_sem": (("network", "checkpoint", "exponent"), 0.01 * np.abs(exponents)),
            "exponents_resolved": (("network", "checkpoint", "exponent"), np.isfinite(exponents)),
            "val_loss": (("network", "checkpoint"), val_loss),
            "val_accuracy": (("network", "checkpoint"), accuracy),
            "diverged": (("network", "checkpoint"), diverged),
        },
        coords={
            "network": networks,
            "architecture": ("network", architectures),
            "task": ("network", np.full(n, "synthetic")),
            "hidden_size": ("network", hidden),
            "init_param": ("network", g),
            "learning_rate": ("network", np.full(n, 0.01)),
            "dropout": ("network", np.full(n, 0.1)),
            "seed": ("network", np.arange(n)),
            "state_size": ("network", state),
            "checkpoint": np.arange(epochs + 1),
            "epoch": ("checkpoint", np.arange(epochs + 1)),
            "training_fraction": ("checkpoint", fraction),
            "exponent": np.arange(1, k_max + 1),
        },
        attrs={"units": "nats per step", "experiment": "synthetic"},
    )


#: AeLLE settings small enough for unit tests (train with ``num_threads=1``).
FAST = AelleConfig(epochs=60, hidden_dim=32, latent_dim=4, alpha=(10.0, 20.0), batch_size=64)
