"""Two-dimensional embeddings of AeLLE latent codes, for figures."""

from __future__ import annotations

from typing import Literal

import numpy as np
from sklearn.decomposition import PCA

__all__ = ["embed"]


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
