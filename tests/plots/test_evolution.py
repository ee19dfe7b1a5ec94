"""Figures over training: spectra and λ_1 per epoch, rank correlations with the final loss per epoch."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
import xarray as xr  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.collections import LineCollection  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from lyapunov_rnn.analysis.statistics import correlation_table  # noqa: E402
from lyapunov_rnn.plots import (  # noqa: E402
    plot_correlations_over_training,
    plot_largest_exponent_over_training,
    plot_spectra_over_training,
    plot_statistic_correlations,
    save_figure,
)
from lyapunov_rnn.plots.base import P_LABEL, STATISTIC_SYMBOLS  # noqa: E402
from lyapunov_rnn.plots.evolution import nearest_checkpoints  # noqa: E402


@pytest.fixture(scope="module")
def table(ds: xr.Dataset) -> pd.DataFrame:
    return correlation_table(ds, resamples=200)


def _panels(fig: Figure) -> list[Axes]:
    return [ax for ax in fig.axes if ax.get_label() != "<colorbar>"]


def _colorbar_labels(fig: Figure) -> list[str]:
    return [ax.get_ylabel() for ax in fig.axes if ax.get_label() == "<colorbar>"]


def test_nearest_checkpoints_without_repeats(ds: xr.Dataset) -> None:
    assert nearest_checkpoints(ds, (0, 1, 2, 5, 10)) == [0, 1, 2, 5]  # 10 falls on the last checkpoint, epoch 5
    assert nearest_checkpoints(ds, (4.6, 0.2, 2.4)) == [0, 2, 5]  # training order whatever the request


def test_spectra_over_training_grid(ds: xr.Dataset) -> None:
    fig = plot_spectra_over_training(ds, epochs=(0, 1, 2, 5, 10))
    panels = np.array(_panels(fig)).reshape(3, 4)  # architectures x available epochs
    for row, arch in zip(panels, ("rnn", "lstm", "gru"), strict=True):
        assert [ax.get_title().split(" (")[0] for ax in row] == [f"{arch}, epoch {e}" for e in (0, 1, 2, 5)]
        assert len({ax.get_ylim() for ax in row}) == 1  # y shared along the row
        assert row[0].get_ylabel() == r"Lyapunov exponent $\lambda_i$ (nats/step)"
        members = ds["architecture"].values == arch
        diverged = int(ds["diverged"].values[members, -1].sum())
        segments = [c for c in row[-1].collections if isinstance(c, LineCollection)][0].get_segments()
        assert len(segments) == members.sum() - diverged  # diverged spectra are not drawn
        assert (f"({diverged} diverged)" in row[-1].get_title()) == (diverged > 0)
    assert any("diverged" in ax.get_title() for ax in panels[:, -1])  # the dataset has diverged networks
    lstm_lengths = {len(s) for s in panels[1, 0].collections[0].get_segments()}
    assert lstm_lengths == {16}  # the LSTM state (h, c) has 16 exponents, drawn without the NaN padding
    assert panels[0, 0].get_ylim() != panels[1, 0].get_ylim()  # rows scale separately
    assert _colorbar_labels(fig) == [P_LABEL]


def test_largest_exponent_over_training_leaves_gaps(ds: xr.Dataset) -> None:
    fig = plot_largest_exponent_over_training(ds)
    panels = _panels(fig)
    assert [ax.get_title().split(" ")[0] for ax in panels] == ["rnn", "lstm", "gru"]
    assert _colorbar_labels(fig) == [P_LABEL]
    diverged = ds["diverged"].values
    for ax, arch in zip(panels, ("rnn", "lstm", "gru"), strict=True):
        members = ds["architecture"].values == arch
        lines = [line for line in ax.lines if len(line.get_xdata()) == ds.sizes["checkpoint"]]
        assert len(lines) == members.sum()  # one line per network (the zero line has two points)
        gaps = sorted(int(np.isnan(line.get_ydata()).sum()) for line in lines)
        assert gaps == sorted(diverged[members].sum(axis=1))  # a gap exactly where the checkpoint diverged
        assert ax.get_xlabel() == "epoch" and ax.get_ylabel() == r"Lyapunov exponent $\lambda_1$ (nats/step)"


def test_correlations_over_training_panels_and_intervals(ds: xr.Dataset, table: pd.DataFrame) -> None:
    fig = plot_correlations_over_training(table, ds)
    panels = _panels(fig)
    titles = [ax.get_title() for ax in panels]
    assert [title.split(" (")[0] for title in titles] == ["all networks", "rnn", "lstm", "gru"]
    n_all = table.query("architecture == 'all'")["n"]
    assert titles[0] == f"all networks (n = {n_all.min()}–{n_all.max()})"  # fewer where networks diverged
    legend = [text.get_text() for text in fig.legends[0].get_texts()]
    assert legend == [STATISTIC_SYMBOLS[s] for s in ("le_max", "le_mean", "le_std", "le_sum")]
    for ax, group in zip(panels, ("all", "rnn", "lstm", "gru"), strict=True):
        assert ax.get_xlabel() == "epoch" and "rho" in ax.get_ylabel()
        assert ax.get_ylim() == (-1.05, 1.05)
        curves = [line for line in ax.lines if line.get_label() in legend]
        assert len(curves) == 4
        expected = table[(table["architecture"] == group) & (table["statistic"] == "le_max")].sort_values("epoch")
        np.testing.assert_allclose(curves[0].get_xdata(), expected["epoch"])
        np.testing.assert_allclose(curves[0].get_ydata(), expected["rho"])
        assert len(ax.collections) == 4  # a shaded interval per statistic
        assert any(np.allclose(line.get_ydata(), 0.0) for line in ax.lines if line not in curves)


def test_statistic_correlations_reuses_a_given_table(ds: xr.Dataset, table: pd.DataFrame) -> None:
    given = plot_statistic_correlations(ds, checkpoint=-1, table=table)
    computed = plot_statistic_correlations(ds, checkpoint=-1)
    assert [ax.get_title() for ax in given.axes] == [ax.get_title() for ax in computed.axes]


def test_units_read_from_the_dataset(ds: xr.Dataset) -> None:
    in_bits = ds.assign_attrs(units="bits per step")
    labels = [ax.get_ylabel() for ax in plot_spectra_over_training(in_bits).axes]
    labels += [ax.get_ylabel() for ax in plot_largest_exponent_over_training(in_bits).axes]
    labelled = [label for label in labels if "/step" in label]
    assert len(labelled) == 3 + 3 and all("bits/step" in label for label in labelled)


def test_figures_save(ds: xr.Dataset, table: pd.DataFrame, tmp_path) -> None:
    figures = {
        "spectra_over_training": plot_spectra_over_training(ds),
        "largest_exponent_over_training": plot_largest_exponent_over_training(ds),
        "correlations_over_training": plot_correlations_over_training(table, ds),
    }
    for name, fig in figures.items():
        png, pdf = save_figure(fig, tmp_path / name)
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and pdf.read_bytes()[:4] == b"%PDF"
