"""2-D embeddings of latent codes."""

from __future__ import annotations

import numpy as np
import pytest

from lyapunov_rnn.analysis.embedding import embed


def test_embed_pca_and_nan_rows() -> None:
    latent = np.random.default_rng(0).normal(size=(30, 5))
    latent[3] = np.nan
    out = embed(latent, "pca")
    assert out.shape == (30, 2) and np.isnan(out[3]).all() and np.isfinite(np.delete(out, 3, 0)).all()
    with pytest.raises(ValueError):
        embed(latent, "tsne")


def test_embed_umap_small() -> None:
    """Single UMAP call in the suite (first call JIT-compiles, ~30 s)."""
    latent = np.random.default_rng(0).normal(size=(25, 4))
    out = embed(latent, "umap", seed=0)
    assert out.shape == (25, 2) and np.isfinite(out).all()
