"""AeLLE: an autoencoder on Lyapunov spectra that predicts final performance.

Implements the "Autoencoder on Lyapunov Exponents" of Vogt, Zheng & Shlizerman,
*Lyapunov-Guided Representation of Recurrent Neural Network Performance*
(arXiv:2204.04876). Each sample is the Lyapunov spectrum (nats per step) of one
network at one training checkpoint; the model is an autoencoder whose latent
code also feeds a small predictor head that regresses the network's **final**
validation loss. Training minimises::

    L = L1(reconstruction, spectrum) + alpha * MSE(prediction, scaled target)

where ``alpha`` may follow a schedule (the reference uses
``[200, 200, 300, 400]`` over four equal blocks of 1000 epochs).

Design decisions (all documented in the function docstrings):

* spectra of different lengths are mapped to a common length with
  :func:`resample_spectra` (midpoint insertion, as in the reference, or linear
  interpolation);
* inputs are standardised feature-wise with the mean/std of the training split;
* the target (final validation loss) is min-max scaled to [0, 1] using the
  training split only; networks whose training diverged (final loss NaN/Inf)
  get the worst target, i.e. the largest finite final loss of the training
  split (scaled value 1), so that their early spectra are kept as examples of
  bad networks;
* the split is by network (no network appears in two splits), deterministic in
  ``seed``; training runs inside :func:`torch.random.fork_rng` so the global
  torch RNG state of the caller is left untouched.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import torch
import xarray as xr
from sklearn.decomposition import PCA
from sklearn.model_selection import train_test_split
from torch import nn

from lyapunov_rnn.io import atomic_torch_save

ResampleMethod = Literal["midpoint", "linear"]
SPLITS: tuple[str, ...] = ("train", "val", "test")


# --------------------------------------------------------------------------- #
# Resampling of spectra to a common length
# --------------------------------------------------------------------------- #
def _midpoint_block(values: np.ndarray, length: int) -> np.ndarray:
    """Midpoint-insert the rows of ``values`` (m, k) up to ``length`` columns."""
    m, k = values.shape
    if k > length:
        raise ValueError(
            f"midpoint insertion cannot shorten a spectrum of {k} exponents to "
            f"{length}; use method='linear' or a larger length"
        )
    if k == 1:
        return np.repeat(values, length, axis=1)
    x = values
    while 2 * x.shape[1] - 1 <= length:
        doubled = np.empty((m, 2 * x.shape[1] - 1))
        doubled[:, ::2] = x
        doubled[:, 1::2] = 0.5 * (x[:, :-1] + x[:, 1:])
        x = doubled
    missing = length - x.shape[1]
    if missing:
        n_gaps = x.shape[1] - 1
        gaps = ((np.arange(missing) + 0.5) * n_gaps / missing).astype(int)
        mids = 0.5 * (x[:, gaps] + x[:, gaps + 1])
        x = np.insert(x, gaps + 1, mids, axis=1)
    return x


def _linear_block(values: np.ndarray, length: int) -> np.ndarray:
    """Linearly interpolate rows of ``values`` (m, k) on a normalised index."""
    k = values.shape[1]
    if k == 1:
        return np.repeat(values, length, axis=1)
    source = np.linspace(0.0, 1.0, k)
    target = np.linspace(0.0, 1.0, length)
    return np.stack([np.interp(target, source, row) for row in values])


def resample_spectra(
    spectra: np.ndarray,
    length: int | None,
    *,
    method: ResampleMethod = "midpoint",
) -> np.ndarray:
    """Map NaN-padded Lyapunov spectra of different sizes to one common length.

    Parameters
    ----------
    spectra : np.ndarray, shape (n, K)
        One spectrum per row (nats per step), sorted descending; the first
        ``K_i`` entries of row ``i`` are finite and the rest are NaN padding.
    length : int or None
        Common output length. ``None`` is allowed only when all rows have the
        same number of finite exponents; the compacted spectra are then
        returned unchanged.
    method : {"midpoint", "linear"}
        ``"midpoint"``: as in the reference AeLLE, new exponents are inserted
        as the mean of two neighbours. Full passes (one midpoint in every gap,
        ``k -> 2k - 1``) are repeated while they do not overshoot ``length``;
        the remaining ``r < k - 1`` midpoints are inserted into ``r`` gaps
        spread evenly along the spectrum so the output has exactly ``length``
        entries (this exact-length completion is this implementation's
        choice). Endpoints (largest and smallest exponent) and the descending
        order are preserved. A spectrum longer than ``length`` raises
        ``ValueError``. ``"linear"`` interpolates piecewise-linearly over the
        exponent index normalised to [0, 1] (also able to shorten spectra).

    Returns
    -------
    np.ndarray, shape (n, length)
        Resampled spectra (nats per step); rows without any finite exponent
        are all NaN.
    """
    spectra = np.atleast_2d(np.asarray(spectra, dtype=float))
    finite = np.isfinite(spectra)
    sizes = finite.sum(axis=1)
    if length is None:
        present = np.unique(sizes[sizes > 0])
        if present.size > 1:
            raise ValueError(f"spectra have different sizes {present.tolist()}; give a length")
        length = int(present[0]) if present.size else spectra.shape[1]
    if length < 1:
        raise ValueError("length must be positive")
    block = {"midpoint": _midpoint_block, "linear": _linear_block}[method]
    out = np.full((spectra.shape[0], length), np.nan)
    for k in np.unique(sizes[sizes > 0]):
        rows = np.flatnonzero(sizes == k)
        values = spectra[rows][finite[rows]].reshape(rows.size, k)
        out[rows] = block(values, length)
    return out


# --------------------------------------------------------------------------- #
# Model
# --------------------------------------------------------------------------- #
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


# --------------------------------------------------------------------------- #
# Dataset helpers
# --------------------------------------------------------------------------- #
def valid_spectrum_mask(ds: xr.Dataset) -> xr.DataArray:
    """True for (network, checkpoint) whose spectrum is fully finite.

    A spectrum is valid when its first ``state_size`` exponents (the computed
    ones; all finite exponents if the coordinate is absent) are finite and
    there is at least one of them; diverged checkpoints are NaN and invalid.
    """
    finite = np.isfinite(ds["exponents"])
    if "state_size" in ds.coords:
        needed = ds["exponent"] <= ds["state_size"]
        return (finite | ~needed).all("exponent") & (ds["state_size"] > 0)
    return finite.any("exponent")


def final_values(ds: xr.Dataset, variable: str = "val_loss") -> xr.DataArray:
    """``variable`` at the last checkpoint, per network (NaN if diverged)."""
    return ds[variable].isel(checkpoint=-1, drop=True)


def split_networks(
    networks: Sequence[str], split: tuple[float, float, float] = (0.7, 0.1, 0.2), seed: int = 0
) -> pd.Series:
    """Randomly assign whole networks to train/val/test.

    Parameters
    ----------
    networks : sequence of str
        Network ids.
    split : (float, float, float)
        Fractions of networks for train, val and test (summing to 1).
    seed : int
        ``random_state`` of :func:`sklearn.model_selection.train_test_split`.

    Returns
    -------
    pd.Series
        Index network id, values ``"train"``, ``"val"`` or ``"test"``.
    """
    fractions = np.asarray(split, dtype=float)
    if fractions.shape != (3,) or np.any(fractions <= 0) or not np.isclose(fractions.sum(), 1):
        raise ValueError("split must be three positive fractions summing to 1")
    ids = np.asarray(networks, dtype=str)
    if ids.size < 3:
        raise ValueError(f"AeLLE needs at least 3 networks (one per split), got {ids.size}")
    # Whole counts, at least one network in each split, so small sweeps work too.
    n_test = max(1, round(fractions[2] * ids.size))
    n_val = max(1, round(fractions[1] * ids.size))
    n_test = min(n_test, ids.size - n_val - 1)
    train, rest = train_test_split(ids, test_size=n_val + n_test, random_state=seed)
    val, test = train_test_split(rest, test_size=n_test, random_state=seed)
    labels = pd.Series("train", index=pd.Index(ids, name="network"), name="split")
    labels[val] = "val"
    labels[test] = "test"
    return labels


def _alpha_per_epoch(alpha: float | Sequence[float], epochs: int) -> np.ndarray:
    """Expand an alpha schedule (one value per equal block of epochs)."""
    values = np.atleast_1d(np.asarray(alpha, dtype=float))
    if values.size > epochs:
        raise ValueError("alpha schedule has more blocks than epochs")
    block = np.minimum(np.arange(epochs) * values.size // epochs, values.size - 1)
    return values[block]


# --------------------------------------------------------------------------- #
# Fitted model
# --------------------------------------------------------------------------- #
@dataclass
class AelleFit:
    """A trained AeLLE model with everything needed to apply it.

    Attributes
    ----------
    model : AeLLE
        The trained network, in eval mode.
    config : dict
        Hyper-parameters: ``input_dim``, ``hidden_dim``, ``latent_dim``,
        ``dropout``, ``resample_method``, ``target``, ``epochs``, ``lr``,
        ``batch_size``, ``alpha``, ``split_fractions``, ``seed``.
    input_mean, input_std : np.ndarray, shape (input_dim,)
        Feature-wise standardisation of the resampled spectra (training split).
    target_min, target_max : float
        Min-max scaling of the target (final validation loss, training split).
    history : pd.DataFrame
        Columns ``epoch, split, alpha, total, reconstruction, prediction``;
        losses evaluated in eval mode on the whole train and val splits after
        each epoch.
    split : pd.Series
        Network id -> ``"train"`` / ``"val"`` / ``"test"``.
    """

    model: AeLLE
    config: dict[str, Any]
    input_mean: np.ndarray
    input_std: np.ndarray
    target_min: float
    target_max: float
    history: pd.DataFrame = field(repr=False)
    split: pd.Series = field(repr=False)

    def _inputs(self, spectra: np.ndarray) -> tuple[torch.Tensor, np.ndarray]:
        """Resample + standardise; return tensor of valid rows and the row mask."""
        resampled = resample_spectra(
            spectra, self.config["input_dim"], method=self.config["resample_method"]
        )
        valid = np.isfinite(resampled).all(axis=1)
        x = (resampled[valid] - self.input_mean) / self.input_std
        return torch.as_tensor(x, dtype=torch.float32), valid

    @torch.no_grad()
    def _apply(self, spectra: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Latent codes (n, latent_dim) and scaled predictions (n,), NaN if invalid."""
        x, valid = self._inputs(spectra)
        n = valid.size
        latent = np.full((n, self.config["latent_dim"]), np.nan)
        scaled = np.full(n, np.nan)
        if x.shape[0]:
            self.model.eval()
            _, prediction, z = self.model(x)
            latent[valid] = z.numpy()
            scaled[valid] = prediction.numpy()
        return latent, scaled

    def encode(self, spectra: np.ndarray) -> np.ndarray:
        """Latent codes of NaN-padded spectra (n, K) -> (n, latent_dim); NaN rows stay NaN."""
        return self._apply(spectra)[0]

    def predict(self, spectra: np.ndarray) -> np.ndarray:
        """Predicted final validation loss (target units, unscaled) for spectra (n, K)."""
        scaled = self._apply(spectra)[1]
        return self.target_min + scaled * (self.target_max - self.target_min)

    def to_dataset(self, ds: xr.Dataset) -> xr.Dataset:
        """Apply the model to every (network, checkpoint) of ``ds``.

        Returns
        -------
        xr.Dataset
            ``latent`` (network, checkpoint, latent_dim), ``predicted_final_loss``
            (network, checkpoint; target units) and ``split`` (network; ``""``
            for networks unknown to the fit), with the coordinates of ``ds``.
            Invalid (non-finite) spectra give NaN.
        """
        n_net, n_ckpt = ds.sizes["network"], ds.sizes["checkpoint"]
        flat = ds["exponents"].transpose("network", "checkpoint", "exponent").values
        flat = flat.reshape(n_net * n_ckpt, -1)
        latent, scaled = self._apply(flat)
        predicted = self.target_min + scaled * (self.target_max - self.target_min)
        coords = {k: v for k, v in ds.coords.items() if "exponent" not in v.dims}
        latent_dim = self.config["latent_dim"]
        return xr.Dataset(
            {
                "latent": (
                    ("network", "checkpoint", "latent_dim"),
                    latent.reshape(n_net, n_ckpt, latent_dim),
                ),
                "predicted_final_loss": (("network", "checkpoint"), predicted.reshape(n_net, n_ckpt)),
                "split": ("network", self.split.reindex(ds["network"].values).fillna("").to_numpy(str)),
            },
            coords={**coords, "latent_dim": np.arange(latent_dim)},
            attrs={"target": self.config["target"], "model": "AeLLE"},
        )

    def latent_frame(self, ds: xr.Dataset) -> pd.DataFrame:
        """Long table of valid samples with metadata and latent columns ``z0 ..``.

        Columns: ``network, checkpoint, epoch, training_fraction, architecture,
        init_param, hidden_size, split, final_val_loss, final_val_accuracy,
        predicted_final_loss, z0 .. z{latent_dim-1}``; rows with non-finite
        spectra are dropped. Metadata columns missing from ``ds`` are omitted.
        """
        applied = self.to_dataset(ds)
        frame = applied["predicted_final_loss"].to_dataframe().reset_index()
        latent = applied["latent"].transpose("network", "checkpoint", "latent_dim").values
        latent = latent.reshape(-1, latent.shape[-1])
        for j in range(latent.shape[1]):
            frame[f"z{j}"] = latent[:, j]
        per_network = pd.DataFrame(
            {
                "split": applied["split"].to_series(),
                "final_val_loss": final_values(ds, "val_loss").to_series(),
                "final_val_accuracy": final_values(ds, "val_accuracy").to_series(),
            }
        )
        frame = frame.drop(columns=[c for c in per_network if c in frame]).join(per_network, on="network")
        mask = valid_spectrum_mask(ds).transpose("network", "checkpoint").values.ravel()
        return frame[mask & np.isfinite(latent).all(axis=1)].reset_index(drop=True)

    def save(self, path: str | os.PathLike) -> Path:
        """Write the fit atomically (:func:`lyapunov_rnn.io.atomic_torch_save`); return ``path``."""
        path = Path(path)
        state = {
            "config": self.config,
            "state_dict": self.model.state_dict(),
            "input_mean": torch.as_tensor(self.input_mean),
            "input_std": torch.as_tensor(self.input_std),
            "target_min": float(self.target_min),
            "target_max": float(self.target_max),
            "history": self.history.to_dict(orient="list"),
            "split": {str(k): str(v) for k, v in self.split.items()},
        }
        atomic_torch_save(state, path)
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> AelleFit:
        """Read a fit written by :meth:`save` (``weights_only`` safe load)."""
        state = torch.load(Path(path), map_location="cpu", weights_only=True)
        config = state["config"]
        model = AeLLE(config["input_dim"], config["hidden_dim"], config["latent_dim"], config["dropout"])
        model.load_state_dict(state["state_dict"])
        split = pd.Series(state["split"], name="split")
        split.index.name = "network"
        return cls(
            model=model.eval(),
            config=config,
            input_mean=state["input_mean"].numpy(),
            input_std=state["input_std"].numpy(),
            target_min=state["target_min"],
            target_max=state["target_max"],
            history=pd.DataFrame(state["history"]),
            split=split,
        )


# --------------------------------------------------------------------------- #
# Training
# --------------------------------------------------------------------------- #
def _samples(ds: xr.Dataset, length: int, method: ResampleMethod) -> tuple[np.ndarray, np.ndarray]:
    """Resampled valid spectra (n, length) and their network ids (n,)."""
    exponents = ds["exponents"].transpose("network", "checkpoint", "exponent")
    mask = valid_spectrum_mask(ds).transpose("network", "checkpoint").values
    net_idx, ckpt_idx = np.nonzero(mask)
    spectra = exponents.values[net_idx, ckpt_idx]
    return resample_spectra(spectra, length, method=method), ds["network"].values[net_idx].astype(str)


def _scaled_targets(
    final: pd.Series, split: pd.Series
) -> tuple[pd.Series, float, float]:
    """Min-max scale final losses on the training split; diverged -> worst (1)."""
    train_final = final[split[split == "train"].index]
    finite = train_final[np.isfinite(train_final)]
    if finite.empty:
        raise ValueError("no training network has a finite final loss")
    low, high = float(finite.min()), float(finite.max())
    filled = final.where(np.isfinite(final), high)
    scale = high - low if high > low else 1.0
    return (filled - low) / scale, low, low + scale


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
    lr: float,
    batch_size: int,
    generator: torch.Generator,
    progress: bool,
) -> list[tuple]:
    """Adam on the ``train`` samples; per-epoch eval-mode losses of train and val as rows."""
    optimiser = torch.optim.Adam(model.parameters(), lr=lr)
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
    *,
    target: str = "val_loss",
    alpha: float | Sequence[float] = (10.0, 10.0, 15.0, 20.0),
    epochs: int = 400,
    lr: float = 1e-3,
    batch_size: int = 128,
    latent_dim: int = 16,
    hidden_dim: int = 128,
    dropout: float = 0.1,
    split: tuple[float, float, float] = (0.7, 0.1, 0.2),
    resample_length: int | None = None,
    resample_method: ResampleMethod = "midpoint",
    seed: int = 0,
    progress: bool = False,
    device: str | torch.device | None = None,
    num_threads: int | None = None,
) -> AelleFit:
    """Train AeLLE on all (network, checkpoint) spectra of an experiment.

    Parameters
    ----------
    ds : xr.Dataset
        Experiment dataset (``exponents`` (network, checkpoint, exponent) in
        nats per step and the per-checkpoint metric ``target``).
    target : str
        Per-checkpoint variable whose value at the **final** checkpoint is the
        regression target of every sample of that network.
    alpha : float or sequence of float
        Weight of the prediction loss; a sequence is a schedule with one value
        per equal block of epochs (reference: ``[200, 200, 300, 400]`` over
        4000 epochs on raw spectra; the default keeps its shape, scaled for
        standardised inputs).
    epochs, lr, batch_size : int, float, int
        Adam optimisation settings.
    latent_dim, hidden_dim, dropout : int, int, float
        Architecture (see :class:`AeLLE`).
    split : (float, float, float)
        Train/val/test fractions of **networks** (see :func:`split_networks`).
    resample_length : int or None
        Common spectrum length; ``None`` uses the largest state size ``K``
        (the ``exponent`` dimension), so networks of equal size are unchanged.
    resample_method : {"midpoint", "linear"}
        See :func:`resample_spectra`.
    seed : int
        Seeds the split, weight initialisation, dropout and batch order.
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
        Trained model (eval mode, CPU), normalisation, history and split.

    Notes
    -----
    Samples are all (network, checkpoint) pairs with a valid spectrum (see
    :func:`valid_spectrum_mask`). Networks whose final ``target`` is not finite
    (diverged) are assigned the largest finite final value of the training
    split, i.e. the worst target.
    """
    length = int(resample_length or ds.sizes["exponent"])
    spectra, sample_networks = _samples(ds, length, resample_method)
    networks = np.unique(sample_networks)
    if networks.size < 3:
        raise ValueError("need at least 3 networks with valid spectra to split")
    labels = split_networks(networks, split, seed)
    final = final_values(ds, target).to_series()
    scaled, target_min, target_max = _scaled_targets(final.loc[networks], labels)

    in_train = labels.loc[sample_networks].to_numpy() == "train"
    mean = spectra[in_train].mean(axis=0)
    std = spectra[in_train].std(axis=0)
    std = np.where(std > 1e-12, std, 1.0)
    device = torch.device(device or "cpu")
    x_all = torch.as_tensor((spectra - mean) / std, dtype=torch.float32, device=device)
    y_all = torch.tensor(scaled.loc[sample_networks].to_numpy(), dtype=torch.float32, device=device)
    parts = {
        name: torch.as_tensor(np.flatnonzero(labels.loc[sample_networks].to_numpy() == name), device=device)
        for name in ("train", "val")
    }
    alphas = _alpha_per_epoch(alpha, epochs)

    threads = torch.get_num_threads()
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.set_num_threads(num_threads or threads)
        try:
            torch.manual_seed(seed)
            model = AeLLE(length, hidden_dim, latent_dim, dropout).to(device)
            rows = _optimise(
                model, x_all, y_all, parts, alphas, lr=lr, batch_size=batch_size,
                generator=torch.Generator().manual_seed(seed), progress=progress,
            )
        finally:
            torch.set_num_threads(threads)

    history = pd.DataFrame(rows, columns=["epoch", "split", "alpha", "total", "reconstruction", "prediction"])
    config = {
        "input_dim": length,
        "hidden_dim": hidden_dim,
        "latent_dim": latent_dim,
        "dropout": dropout,
        "resample_method": resample_method,
        "target": target,
        "epochs": epochs,
        "lr": lr,
        "batch_size": batch_size,
        "alpha": [float(a) for a in np.atleast_1d(alpha)],
        "split_fractions": [float(f) for f in split],
        "seed": seed,
    }
    return AelleFit(
        model=model.cpu().eval(),
        config=config,
        input_mean=mean,
        input_std=std,
        target_min=target_min,
        target_max=target_max,
        history=history,
        split=labels,
    )


# --------------------------------------------------------------------------- #
# 2-D embeddings
# --------------------------------------------------------------------------- #
def embed(latent: np.ndarray, method: Literal["pca", "umap"] = "pca", seed: int = 0) -> np.ndarray:
    """Two-dimensional embedding of latent codes for plotting.

    Parameters
    ----------
    latent : np.ndarray, shape (n, d)
        Latent codes; rows with non-finite values are returned as NaN.
    method : {"pca", "umap"}
        :class:`sklearn.decomposition.PCA` or ``umap.UMAP(random_state=seed)``
        (the first UMAP call in a process JIT-compiles for ~30 s).
    seed : int
        Random state of the embedding.

    Returns
    -------
    np.ndarray, shape (n, 2)
        Embedding coordinates (arbitrary units).
    """
    latent = np.asarray(latent, dtype=float)
    valid = np.isfinite(latent).all(axis=1)
    if valid.sum() < 3:
        raise ValueError("need at least 3 finite latent codes to embed")
    if method == "pca":
        reducer = PCA(n_components=2, random_state=seed)
    elif method == "umap":
        import umap

        reducer = umap.UMAP(
            n_components=2, random_state=seed, n_neighbors=min(15, int(valid.sum()) - 1), n_jobs=1
        )
    else:
        raise ValueError(f"unknown embedding method {method!r}")
    out = np.full((latent.shape[0], 2), np.nan)
    out[valid] = reducer.fit_transform(latent[valid])
    return out
