"""Tests for lyapunov_rnn.plots: every figure builds, is labelled and saves."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd  # noqa: E402
import xarray as xr  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from lyapunov_rnn.aelle import AelleFit, latent_frame  # noqa: E402
from lyapunov_rnn.analysis.early_prediction import early_prediction_table  # noqa: E402
from lyapunov_rnn.analysis.embedding import embed  # noqa: E402
from lyapunov_rnn.plots import (  # noqa: E402
    plot_accuracy_vs_init,
    plot_early_prediction,
    plot_latent_embedding,
    plot_spectra,
    plot_statistic_correlations,
    plot_training_curves,
    save_figure,
)
from lyapunov_rnn.plots.base import P_LABEL, units_of  # noqa: E402


def _assert_labelled(fig: Figure) -> None:
    assert isinstance(fig, Figure)
    axes = [ax for ax in fig.axes if ax.get_label() != "<colorbar>"]
    assert axes
    for ax in axes:
        assert ax.get_xlabel() and ax.get_ylabel() and ax.get_title()


def _figures(ds: xr.Dataset, fit: AelleFit) -> dict[str, Figure]:
    frame = latent_frame(fit, ds)
    latent = frame.filter(regex=r"^z\d+$").to_numpy()
    table = early_prediction_table(ds, fit, stages=(0.0, 0.5), resamples=200)
    return {
        "spectra": plot_spectra(ds),
        "spectra_first": plot_spectra(ds, checkpoint=0),
        "latent": plot_latent_embedding(embed(latent, "pca"), frame),
        "early": plot_early_prediction(table),
        "correlations": plot_statistic_correlations(ds, checkpoint=-1),
        "training": plot_training_curves(fit.history),
        "accuracy": plot_accuracy_vs_init(ds),
    }


def test_figures_labelled_and_saved(ds: xr.Dataset, fit: AelleFit, tmp_path) -> None:
    figures = _figures(ds, fit)
    for name, fig in figures.items():
        _assert_labelled(fig)
        paths = save_figure(fig, tmp_path / "figs" / name)
        assert [p.name for p in paths] == [f"{name}.png", f"{name}.pdf"]
        for path in paths:
            assert path.stat().st_size > 1000
        assert paths[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert paths[1].read_bytes()[:4] == b"%PDF"
    written = {p.name for p in (tmp_path / "figs").iterdir()}
    assert written == {f"{name}.{ext}" for name in figures for ext in ("png", "pdf")}  # no temp files


def test_spectra_has_colorbar_and_facets(ds: xr.Dataset) -> None:
    fig = plot_spectra(ds)
    labels = [ax.get_ylabel() for ax in fig.axes]
    assert P_LABEL in labels  # colorbar
    assert sum("nats/step" in label for label in labels) == 3  # one facet per architecture
    titles = [ax.get_title().split(" ")[0] for ax in fig.axes if ax.get_title()]
    assert titles == ["rnn", "lstm", "gru"]  # the one architecture order of every figure


def test_units_read_from_the_dataset(ds: xr.Dataset) -> None:
    in_bits = ds.assign_attrs(units="bits per step")
    labels = [ax.get_ylabel() for ax in plot_spectra(in_bits).axes]
    labels += [ax.get_xlabel() for ax in plot_statistic_correlations(in_bits, checkpoint=-1).axes]
    labelled = [label for label in labels if "/step" in label]
    assert len(labelled) == 5 and all("bits/step" in label for label in labelled)
    assert units_of(ds) == "nats/step"


def test_early_prediction_points_with_intervals(ds: xr.Dataset, fit: AelleFit) -> None:
    table = early_prediction_table(ds, fit, stages=(0.0, 1.0), resamples=200)
    fig = plot_early_prediction(table)
    ax = fig.axes[0]
    legend = {t.get_text() for t in ax.get_legend().get_texts()}
    assert legend == set(table["method"]) | {"all predicted high"}
    assert len(ax.containers) == table["method"].nunique()  # one error-bar series per method
    drawn = sum(len(container.lines[0].get_xdata()) for container in ax.containers)
    assert drawn == len(table)  # a marker (and its interval) per row
    assert [t.get_text().split("\n")[0] for t in ax.get_xticklabels()] == ["0%", "100%"]


def test_latent_embedding_tolerates_nan_rows(ds: xr.Dataset, fit: AelleFit) -> None:
    frame = latent_frame(fit, ds)
    embedding = embed(frame.filter(regex=r"^z\d+$").to_numpy(), "pca")
    embedding[0] = float("nan")
    fig = plot_latent_embedding(embedding, frame, method="UMAP")
    assert fig.axes[0].get_xlabel() == "UMAP 1 (a.u.)"


def test_training_curves_log_scale(fit: AelleFit) -> None:
    fig = plot_training_curves(fit.history)
    assert all(ax.get_yscale() == "log" for ax in fig.axes)
    assert isinstance(fit.history, pd.DataFrame)


def test_training_curves_mark_alpha_schedule_steps() -> None:
    epochs = np.arange(8)
    history = pd.DataFrame(
        {
            "epoch": np.repeat(epochs, 2),
            "split": ["train", "val"] * 8,
            "alpha": np.repeat([5.0, 5.0, 5.0, 5.0, 10.0, 10.0, 20.0, 20.0], 2),
            "total": 1.0, "reconstruction": 0.5, "prediction": 0.1,
        }
    )
    fig = plot_training_curves(history)
    total = fig.axes[0]
    marked = sorted(line.get_xdata()[0] for line in total.lines if line.get_linestyle() == ":")
    assert marked == [4, 6]
    assert [text.get_text() for text in total.texts] == ["α=10", "α=20"]


def _legend_texts(fig: Figure) -> list[str]:
    return [text.get_text() for ax in fig.axes for legend in [ax.get_legend(), *ax.artists] if legend is not None
            and hasattr(legend, "get_texts") for text in legend.get_texts()]


def test_legends_hold_only_entries(ds: xr.Dataset, fit: AelleFit) -> None:
    # seaborn's hue + size/style legends put the variable names in as entries; these figures must not.
    frame = latent_frame(fit, ds)
    figures = (plot_latent_embedding(embed(frame.filter(regex=r"^z\d+$").to_numpy(), "pca"), frame),
               plot_accuracy_vs_init(ds))
    for fig in figures:
        texts = _legend_texts(fig)
        assert {"rnn", "lstm", "gru"} <= set(texts)
        assert not {"architecture", "training_fraction", "outcome", ""} & set(texts), texts
    assert "diverged (drawn at 0)" in _legend_texts(figures[1])  # the synthetic data has diverged networks


def test_p_colorbar_ticks_are_plain_numbers(ds: xr.Dataset, tmp_path) -> None:
    fig = plot_spectra(ds)
    colorbar = next(ax for ax in fig.axes if ax.get_ylabel() == P_LABEL)
    fig.canvas.draw()
    labels = [t.get_text() for t in colorbar.get_yticklabels() + colorbar.yaxis.get_minorticklabels() if t.get_text()]
    assert labels and all("times" not in label and "^" not in label for label in labels), labels
    assert {"1", "2", "5"} & set(labels), labels
