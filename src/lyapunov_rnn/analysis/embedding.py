"""Two-dimensional embeddings of AeLLE latent codes, for figures."""

from __future__ import annotations

from typing import Literal

import numpy as np
from sklearn.decomposition import PCA

__all__ = ["embed", "embed_and_transform"]


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
    reducer = _reducer(method, seed, int(valid.sum()))
    out = np.full((latent.shape[0], 2), np.nan)
    out[valid] = reducer.fit_transform(latent[valid])
    return out


def embed_and_transform(
    latent: np.ndarray, other: np.ndarray, method: Literal["pca", "umap"] = "pca", seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """One 2-D embedding fitted on ``latent`` and applied unchanged to ``other``.

    The codes of ``other`` (e.g. of the same networks' spectra from other
    input sequences) are mapped with the embedding of ``latent``
    (``PCA.transform``, ``UMAP.transform``), so both share one space and
    ``other`` never moves it.

    Parameters
    ----------
    latent, other : np.ndarray, shape (n, d) and (m, d)
        Latent codes; rows with non-finite values are returned as NaN.
    method, seed
        As in :func:`embed`.

    Returns
    -------
    tuple of np.ndarray, shapes (n, 2) and (m, 2)
        Coordinates of ``latent`` (as :func:`embed`) and of ``other`` (arbitrary units).
    """
    latent, other = np.asarray(latent, dtype=float), np.asarray(other, dtype=float)
    valid, other_valid = np.isfinite(latent).all(axis=1), np.isfinite(other).all(axis=1)
    reducer = _reducer(method, seed, int(valid.sum()))
    out, other_out = np.full((latent.shape[0], 2), np.nan), np.full((other.shape[0], 2), np.nan)
    out[valid] = reducer.fit_transform(latent[valid])
    if other_valid.any():
        other_out[other_valid] = reducer.transform(other[other_valid])
    return out, other_out


def _reducer(method: str, seed: int, n_valid: int):
    """An unfitted 2-D PCA or UMAP for ``n_valid`` finite codes; raises for fewer than 3 or an unknown method."""
    if n_valid < 3:
        raise ValueError("need at least 3 finite latent codes to embed")
    if method == "pca":
        return PCA(n_components=2, random_state=seed)
    if method == "umap":
        import umap

        return umap.UMAP(n_components=2, random_state=seed, n_neighbors=min(15, n_valid - 1), n_jobs=1)
    raise ValueError(f"unknown embedding method {method!r}")
