"""From the experiment dataset to AeLLE's inputs and targets (numpy, no torch).

* spectra of different lengths are mapped to a common length with
  :func:`resample_spectra` (midpoint insertion, as in the reference, or
  linear interpolation);
* inputs are standardised feature-wise with the mean/std of the training
  split (:class:`SpectrumScaler`);
* the target (final validation loss) is min-max scaled to [0, 1] using the
  training split only; networks whose training diverged (final loss NaN/Inf)
  get the worst target, i.e. the largest finite final loss of the training
  split (scaled value 1), so that their early spectra are kept as examples of
  bad networks (:class:`TargetScaler`);
* the split is by network (no network appears in two splits), deterministic
  in its seed (:func:`split_networks`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
import xarray as xr
from sklearn.model_selection import train_test_split

from lyapunov_rnn.config import aelle_split_sizes
from lyapunov_rnn.dataset import in_fraction_range, valid_spectrum_mask

__all__ = [
    "ResampleMethod",
    "SpectrumScaler",
    "TargetScaler",
    "resample_spectra",
    "spectrum_samples",
    "split_networks",
]

ResampleMethod = Literal["midpoint", "linear"]


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
        One spectrum per row (the dataset's units), sorted descending; the first
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
        Resampled spectra (units of the input); rows without any finite exponent
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
# Samples, split, scaling
# --------------------------------------------------------------------------- #
def spectrum_samples(
    ds: xr.Dataset, length: int, method: ResampleMethod, training_fractions: Sequence[float] = (0.0, 1.0)
) -> tuple[np.ndarray, np.ndarray]:
    """Every valid (network, checkpoint) spectrum in a range of training fractions, resampled, and its network.

    Returns
    -------
    spectra : np.ndarray, shape (n, length)
        Spectra of the checkpoints whose ``training_fraction`` is in the closed range ``training_fractions``.
    networks : np.ndarray of str, shape (n,)
    """
    exponents = ds["exponents"].transpose("network", "checkpoint", "exponent")
    mask = valid_spectrum_mask(ds).transpose("network", "checkpoint").values
    mask = mask & in_fraction_range(ds, training_fractions)[None, :]
    net_idx, ckpt_idx = np.nonzero(mask)
    spectra = exponents.values[net_idx, ckpt_idx]
    return resample_spectra(spectra, length, method=method), ds["network"].values[net_idx].astype(str)


def split_networks(
    networks: Sequence[str], split: Sequence[float] = (0.7, 0.1, 0.2), seed: int = 0
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
    # Whole counts, at least one network in each split, so small sweeps work too (the config check uses the same).
    sizes = aelle_split_sizes(ids.size, fractions)
    if min(sizes) < 1:
        raise ValueError(
            f"AeLLE needs at least one network in each split; split {fractions.tolist()} of {ids.size} networks "
            f"gives {dict(zip(('train', 'val', 'test'), sizes, strict=True))}"
        )
    _, n_val, n_test = sizes
    train, rest = train_test_split(ids, test_size=n_val + n_test, random_state=seed)
    val, test = train_test_split(rest, test_size=n_test, random_state=seed)
    labels = pd.Series("train", index=pd.Index(ids, name="network"), name="split")
    labels[val] = "val"
    labels[test] = "test"
    return labels


@dataclass(frozen=True)
class SpectrumScaler:
    """Resampling to a common length, then feature-wise standardisation.

    Attributes
    ----------
    length : int
        Common spectrum length.
    method : str
        Resampling method (see :func:`resample_spectra`).
    mean, std : np.ndarray, shape (length,)
        Of the training samples (the spectra's units); constant features get std 1.
    """

    length: int
    method: ResampleMethod
    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def fit(cls, resampled: np.ndarray, length: int, method: ResampleMethod) -> SpectrumScaler:
        """Standardisation of the (already resampled) training spectra ``resampled``."""
        std = resampled.std(axis=0)
        return cls(length, method, resampled.mean(axis=0), np.where(std > 1e-12, std, 1.0))

    def standardise(self, resampled: np.ndarray) -> np.ndarray:
        """Standardise spectra already resampled to :attr:`length`."""
        return (resampled - self.mean) / self.std

    def inverse_standardise(self, standardised: np.ndarray) -> np.ndarray:
        """Undo :meth:`standardise`: standardised spectra (n, length) back to the dataset's units."""
        return standardised * self.std + self.mean

    def transform(self, spectra: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Resample and standardise NaN-padded spectra (n, K).

        Returns
        -------
        x : np.ndarray, shape (m, length)
            The standardised valid rows.
        valid : np.ndarray of bool, shape (n,)
            Which rows of ``spectra`` are in ``x`` (fully finite after resampling).
        """
        resampled = resample_spectra(spectra, self.length, method=self.method)
        valid = np.isfinite(resampled).all(axis=1)
        return self.standardise(resampled[valid]), valid


@dataclass(frozen=True)
class TargetScaler:
    """Min-max scaling of the final loss to [0, 1] on the training networks; diverged -> worst (1).

    Attributes
    ----------
    low, high : float
        Smallest and largest finite final value of the training networks
        (loss units); they map to 0 and 1 (a constant target maps to 0).
    """

    low: float
    high: float

    @classmethod
    def fit(cls, final: pd.Series, split: pd.Series) -> TargetScaler:
        """Scale of the finite final values of the training networks of ``split``."""
        train_final = final[split[split == "train"].index]
        finite = train_final[np.isfinite(train_final)]
        if finite.empty:
            raise ValueError("no training network has a finite final loss")
        return cls(float(finite.min()), float(finite.max()))

    @property
    def scale(self) -> float:
        """Loss units per unit of the scaled target (1 for a constant target)."""
        return self.high - self.low if self.high > self.low else 1.0

    def transform(self, final: pd.Series) -> pd.Series:
        """Scaled targets; non-finite (diverged) values get the worst, that of :attr:`high`."""
        filled = final.where(np.isfinite(final), self.high)
        return (filled - self.low) / self.scale

    def inverse(self, scaled: np.ndarray) -> np.ndarray:
        """Target units of scaled values."""
        target_max = self.low + self.scale
        return self.low + scaled * (target_max - self.low)
