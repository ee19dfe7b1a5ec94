"""The novel-inputs figure: latent codes of both input sets in one embedding, AeLLE F1 on both, lambda_1 agreement."""

from __future__ import annotations

import dataclasses

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import xarray as xr  # noqa: E402
from helpers.synthetic import FAST, make_dataset  # noqa: E402

from lyapunov_rnn.aelle import AelleFit, train_aelle  # noqa: E402
from lyapunov_rnn.analysis.generalisation import (  # noqa: E402
    leading_exponents,
    novel_inputs_embedding,
    novel_inputs_table,
)
from lyapunov_rnn.plots import plot_novel_inputs, save_figure  # noqa: E402
from lyapunov_rnn.plots.base import units_of  # noqa: E402


@pytest.fixture(scope="module")
def pair() -> tuple[xr.Dataset, xr.Dataset]:
    ds = make_dataset(n_per_arch=12, seed=2).assign_attrs(units="bits per step")
    novel = ds.copy(deep=True)
    novel["exponents"] = ds["exponents"] + np.random.default_rng(0).normal(0, 0.05, ds["exponents"].shape)
    return ds, novel


@pytest.fixture(scope="module")
def fit(pair: tuple[xr.Dataset, xr.Dataset]) -> AelleFit:
    return train_aelle(pair[0], dataclasses.replace(FAST, epochs=10), num_threads=1)


def test_novel_inputs_figure(pair: tuple[xr.Dataset, xr.Dataset], fit: AelleFit, tmp_path) -> None:
    ds, novel = pair
    table = novel_inputs_table(ds, novel, fit, (0.0, 0.5), resamples=50)
    points = novel_inputs_embedding(ds, novel, fit, method="pca")
    fig = plot_novel_inputs(points, table, leading_exponents(ds, novel), units=units_of(ds), method="PCA")
    axes = fig.axes
    assert len(axes) == 4
    for ax in axes:
        assert ax.get_xlabel() and ax.get_ylabel() and ax.get_title()
    fitted_panel, novel_panel, f1_panel, leading_panel = axes
    assert "fitted inputs" in fitted_panel.get_title() and "novel inputs" in novel_panel.get_title()
    assert fitted_panel.get_xlim() == novel_panel.get_xlim() and fitted_panel.get_ylim() == novel_panel.get_ylim()
    assert "below-median final loss" in f1_panel.get_title()
    assert len(f1_panel.containers) == 2  # F1 with intervals on the fitted and on the novel inputs
    assert "bits/step" in leading_panel.get_xlabel() and r"$\lambda_1$" in leading_panel.get_ylabel()
    assert "novel inputs" in fig.get_suptitle()
    paths = save_figure(fig, tmp_path / "novel_inputs")
    assert [path.suffix for path in paths] == [".png", ".pdf"]
    assert all(path.stat().st_size > 1000 for path in paths)
