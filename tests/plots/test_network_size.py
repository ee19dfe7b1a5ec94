"""The network-size figure: latent space, predictions and final loss vs p by hidden size."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import xarray as xr  # noqa: E402
from helpers.figures import panels as plot_panels  # noqa: E402
from helpers.synthetic import make_dataset  # noqa: E402

from lyapunov_rnn.aelle import AelleFit, latent_frame  # noqa: E402
from lyapunov_rnn.analysis.embedding import embed  # noqa: E402
from lyapunov_rnn.plots import plot_network_size, save_figure  # noqa: E402
from lyapunov_rnn.plots.base import P_LABEL  # noqa: E402

SIZES = (16, 32)


@pytest.fixture(scope="module")
def ds() -> xr.Dataset:
    """Synthetic experiment whose networks alternate between two hidden sizes (relabelled; spectra unchanged)."""
    ds = make_dataset(n_per_arch=12, seed=2)
    return ds.assign_coords(hidden_size=("network", np.resize(SIZES, ds.sizes["network"])))


def test_network_size_figure(ds: xr.Dataset, fit: AelleFit, tmp_path) -> None:
    frame = latent_frame(fit, ds, training_checkpoints=True)
    fig = plot_network_size(ds, frame, embed(frame.filter(regex=r"^z\d+$").to_numpy(), "pca"))
    panels = plot_panels(fig)
    assert len(panels) == 2 + 3  # embedding, prediction, one per architecture
    for ax in panels:
        assert ax.get_xlabel() and ax.get_ylabel() and ax.get_title()
    embedding, prediction, *per_architecture = panels
    assert embedding.get_xlabel() == "PCA 1 (a.u.)"
    assert prediction.get_xlabel() == "actual final validation loss"
    assert "Spearman" in prediction.get_title()
    final = ds["val_loss"].isel(checkpoint=-1)
    for ax, arch in zip(per_architecture, ("rnn", "lstm", "gru"), strict=True):
        n_diverged = int((~np.isfinite(final.where(ds["architecture"] == arch, 0.0))).sum())
        assert ax.get_title() == f"{arch} (n = 12" + (f", {n_diverged} diverged: x at top)" if n_diverged else ")")
        assert ax.get_xlabel() == P_LABEL and ax.get_xscale() == "log"
    assert len({ax.get_xlim() for ax in per_architecture}) == 1  # one p axis
    legend = [ax for ax in fig.axes if not ax.axison][0].get_legend()
    labels = [text.get_text() for text in legend.get_texts()]
    assert labels[: len(SIZES)] == [str(size) for size in SIZES]
    assert "test network" in labels and "diverged" in labels
    paths = save_figure(fig, tmp_path / "network_size")
    assert all(path.stat().st_size > 1000 for path in paths)
