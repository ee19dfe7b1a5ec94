"""Training AeLLE on an experiment's spectra, and the fitted model.

Each sample is the Lyapunov spectrum of one network at one training
checkpoint; the autoencoder's latent code also feeds a predictor head that
regresses the network's **final** validation loss. Training minimises::

    L = L1(reconstruction, spectrum) + alpha * MSE(prediction, scaled target)

where ``alpha`` may follow a schedule (the reference uses
``[200, 200, 300, 400]`` over four equal blocks of 1000 epochs). The data
preparation is :mod:`lyapunov_rnn.aelle.preprocessing`; training runs inside
:func:`torch.random.fork_rng`, so the global torch RNG state of the caller
is left untouched.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import xarray as xr
from torch import nn

from lyapunov_rnn.aelle.model import AeLLE
from lyapunov_rnn.aelle.preprocessing import SpectrumScaler, TargetScaler, spectrum_samples, split_networks
from lyapunov_rnn.config import AelleConfig
from lyapunov_rnn.dataset import final_values
from lyapunov_rnn.io import atomic_torch_save

__all__ = ["HISTORY_COLUMNS", "AelleFit", "AelleNotFitted", "save_not_fitted", "train_aelle"]

HISTORY_COLUMNS = ("epoch", "split", "alpha", "total", "reconstruction", "prediction")


class AelleNotFitted(ValueError):
    """AeLLE cannot be trained on an experiment's spectra, e.g. because every network diverged; the message says why.

    :func:`train_aelle` raises it; the workflow then records the reason in the
    model file (:func:`save_not_fitted`), and :meth:`AelleFit.load` raises it
    again with that reason, so that every table and figure built on AeLLE can
    say why it is empty.
    """


@dataclass
class AelleFit:
    """A trained AeLLE model with everything needed to apply it.

    Attributes
    ----------
    model : AeLLE
        The trained network, in eval mode, on the CPU.
    config : AelleConfig
        The settings it was trained with.
    scaler : SpectrumScaler
        Resampling and standardisation of the spectra (training split).
    target : TargetScaler
        Scaling of the target (final validation loss, training split).
    history : pd.DataFrame
        Columns :data:`HISTORY_COLUMNS`; losses evaluated in eval mode on the
        whole train and val splits after each epoch.
    split : pd.Series
        Network id -> ``"train"`` / ``"val"`` / ``"test"``.
    """

    model: AeLLE
    config: AelleConfig
    scaler: SpectrumScaler
    target: TargetScaler
    history: pd.DataFrame = field(repr=False)
    split: pd.Series = field(repr=False)

    @torch.no_grad()
    def _apply(self, spectra: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Latent codes (n, latent_dim) and scaled predictions (n,), NaN if invalid."""
        x, valid = self.scaler.transform(spectra)
        n = valid.size
        latent = np.full((n, self.config.latent_dim), np.nan)
        scaled = np.full(n, np.nan)
        if x.shape[0]:
            self.model.eval()
            _, prediction, z = self.model(torch.as_tensor(x, dtype=torch.float32))
            latent[valid] = z.numpy()
            scaled[valid] = prediction.numpy()
        return latent, scaled

    def encode(self, spectra: np.ndarray) -> np.ndarray:
        """Latent codes of NaN-padded spectra (n, K) -> (n, latent_dim); NaN rows stay NaN."""
        return self._apply(spectra)[0]

    def predict(self, spectra: np.ndarray) -> np.ndarray:
        """Predicted final validation loss (target units, unscaled) for spectra (n, K)."""
        return self.target.inverse(self._apply(spectra)[1])

    def encode_and_predict(self, spectra: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`encode` and :meth:`predict` of the same spectra in one pass."""
        latent, scaled = self._apply(spectra)
        return latent, self.target.inverse(scaled)

    def save(self, path: str | os.PathLike) -> Path:
        """Write the fit atomically (:func:`lyapunov_rnn.io.atomic_torch_save`); return ``path``."""
        path = Path(path)
        state = {
            "config": asdict(self.config),
            "state_dict": self.model.state_dict(),
            "input_length": self.scaler.length,
            "input_mean": torch.as_tensor(self.scaler.mean),
            "input_std": torch.as_tensor(self.scaler.std),
            "target_low": float(self.target.low),
            "target_high": float(self.target.high),
            "history": self.history.to_dict(orient="list"),
            "split": {str(k): str(v) for k, v in self.split.items()},
        }
        atomic_torch_save(state, path)
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> AelleFit:
        """Read a fit written by :meth:`save` (``weights_only`` safe load).

        Raises
        ------
        AelleNotFitted
            With the recorded reason, for a file written by :func:`save_not_fitted`.
        """
        state = torch.load(Path(path), map_location="cpu", weights_only=True)
        if "not_fitted" in state:
            raise AelleNotFitted(state["not_fitted"])
        config = AelleConfig(**state["config"])
        model = AeLLE(state["input_length"], config.hidden_dim, config.latent_dim, config.dropout)
        model.load_state_dict(state["state_dict"])
        split = pd.Series(state["split"], name="split")
        split.index.name = "network"
        return cls(
            model=model.eval(),
            config=config,
            scaler=SpectrumScaler(
                state["input_length"],
                config.resample_method,
                state["input_mean"].numpy(),
                state["input_std"].numpy(),
            ),
            target=TargetScaler(state["target_low"], state["target_high"]),
            history=pd.DataFrame(state["history"]),
            split=split,
        )


def save_not_fitted(path: str | os.PathLike, reason: str, config: AelleConfig) -> Path:
    """Write, in place of a fit, a model file that records why AeLLE was not trained; return ``path``.

    :meth:`AelleFit.load` of it raises :class:`AelleNotFitted` with ``reason``.
    """
    path = Path(path)
    atomic_torch_save({"config": asdict(config), "not_fitted": str(reason)}, path)
    return path


def alpha_per_epoch(alpha: float | Sequence[float], epochs: int) -> np.ndarray:
    """Expand an alpha schedule (one value per equal block of epochs) to one value per epoch."""
    values = np.atleast_1d(np.asarray(alpha, dtype=float))
    if values.size > epochs:
        raise ValueError("alpha schedule has more blocks than epochs")
    block = np.minimum(np.arange(epochs) * values.size // epochs, values.size - 1)
    return values[block]


def _losses(
    model: AeLLE, x: torch.Tensor, y: torch.Tensor, alpha: float
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(total, L1 reconstruction, MSE prediction) for one batch."""
    reconstruction, prediction, _ = model(x)
    rec = nn.functional.l1_loss(reconstruction, x)
    pred = nn.functional.mse_loss(prediction, y)
    return rec + alpha * pred, rec, pred


def _optimise(
    model: AeLLE,
    x: torch.Tensor,
    y: torch.Tensor,
    parts: dict[str, torch.Tensor],
    alphas: np.ndarray,
    *,
    learning_rate: float,
    batch_size: int,
    generator: torch.Generator,
    progress: bool,
) -> list[tuple]:
    """Adam on the ``train`` samples; per-epoch eval-mode losses of train and val as rows."""
    optimiser = torch.optim.Adam(model.parameters(), lr=learning_rate)
    epochs = range(alphas.size)
    if progress:
        from tqdm.auto import tqdm

        epochs = tqdm(epochs, desc="AeLLE", unit="epoch")
    rows = []
    for epoch in epochs:
        alpha = float(alphas[epoch])
        model.train()
        order = parts["train"][torch.randperm(parts["train"].numel(), generator=generator).to(x.device)]
        for batch in order.split(batch_size):
            loss = _losses(model, x[batch], y[batch], alpha)[0]
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
        model.eval()
        with torch.no_grad():
            for name, index in parts.items():
                if index.numel():
                    values = _losses(model, x[index], y[index], alpha)
                    rows.append((epoch, name, alpha, *(float(v) for v in values)))
    return rows


def train_aelle(
    ds: xr.Dataset,
    config: AelleConfig | None = None,
    *,
    progress: bool = False,
    device: str | torch.device | None = None,
    num_threads: int | None = None,
) -> AelleFit:
    """Train AeLLE on all (network, checkpoint) spectra of an experiment.

    Parameters
    ----------
    ds : xr.Dataset
        Experiment dataset (``exponents`` (network, checkpoint, exponent) and
        the per-checkpoint metric ``config.target``).
    config : AelleConfig, optional
        Target, schedule, sizes, optimisation, split and seed (default: the
        configuration schema's defaults). ``resample_length=None`` uses the
        largest state size ``K`` (the ``exponent`` dimension), so networks of
        equal size are unchanged.
    progress : bool
        Show a tqdm progress bar over epochs.
    device : str, torch.device or None
        Torch device for training (default CPU); the returned model is on CPU.
    num_threads : int or None
        Torch intra-op CPU threads during training (restored afterwards);
        ``None`` keeps the current setting. The model is small, so 1 thread is
        often fastest, especially on shared (oversubscribed) machines.

    Returns
    -------
    AelleFit
        Trained model (eval mode, CPU), preprocessing, history and split.

    Raises
    ------
    AelleNotFitted
        Saying why, if fewer than 3 networks have a valid spectrum at the
        training checkpoints, or no training network has a finite final
        target (every one diverged).

    Notes
    -----
    Samples are all (network, checkpoint) pairs with a valid spectrum (see
    :func:`lyapunov_rnn.dataset.valid_spectrum_mask`) and a ``training_fraction``
    in the range ``config.training_fractions``, split by network.
    Networks whose final target is not finite (diverged) are assigned the
    largest finite final value of the training split, i.e. the worst target.
    """
    config = config or AelleConfig()
    length = int(config.resample_length or ds.sizes["exponent"])
    spectra, sample_networks = spectrum_samples(ds, length, config.resample_method, config.training_fractions)
    networks = np.unique(sample_networks)
    low, high = config.training_fractions
    if networks.size < 3:
        raise AelleNotFitted(
            f"{networks.size} of the {ds.sizes['network']} networks have a finite spectrum at the checkpoints AeLLE "
            f"trains on (training fraction in [{low}, {high}]), and it needs at least 3 (one per split)"
        )
    final = final_values(ds, config.target).to_series().loc[networks]
    if not np.isfinite(final).any():
        raise AelleNotFitted(
            f"every network diverged: none of the {networks.size} networks has a finite final {config.target} "
            "for AeLLE to predict"
        )
    labels = split_networks(networks, config.split, config.seed)
    training = labels.index[labels == "train"]
    if not np.isfinite(final.loc[training]).any():
        raise AelleNotFitted(
            f"every one of the {training.size} training networks diverged: none has a finite final {config.target} "
            "to scale AeLLE's target"
        )
    target = TargetScaler.fit(final, labels)
    sample_split = labels.loc[sample_networks].to_numpy()
    scaler = SpectrumScaler.fit(spectra[sample_split == "train"], length, config.resample_method)

    device = torch.device(device or "cpu")
    x_all = torch.as_tensor(scaler.standardise(spectra), dtype=torch.float32, device=device)
    y_all = torch.tensor(target.transform(final).loc[sample_networks].to_numpy(), dtype=torch.float32, device=device)
    parts = {name: torch.as_tensor(np.flatnonzero(sample_split == name), device=device) for name in ("train", "val")}
    alphas = alpha_per_epoch(config.alpha, config.epochs)

    threads = torch.get_num_threads()
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.set_num_threads(num_threads or threads)
        try:
            torch.manual_seed(config.seed)
            model = AeLLE(length, config.hidden_dim, config.latent_dim, config.dropout).to(device)
            rows = _optimise(
                model, x_all, y_all, parts, alphas, learning_rate=config.learning_rate,
                batch_size=config.batch_size, generator=torch.Generator().manual_seed(config.seed), progress=progress,
            )
        finally:
            torch.set_num_threads(threads)

    return AelleFit(
        model=model.cpu().eval(),
        config=config,
        scaler=scaler,
        target=target,
        history=pd.DataFrame(rows, columns=list(HISTORY_COLUMNS)),
        split=labels,
    )
