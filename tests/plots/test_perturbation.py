"""The latent-perturbation figure: decoded spectra along the AeLLE predictor's direction."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import xarray as xr  # noqa: E402
from helpers.figures import panels as plot_panels  # noqa: E402

from lyapunov_rnn.aelle import AelleFit  # noqa: E402
from lyapunov_rnn.aelle.perturbation import latent_perturbation  # noqa: E402
from lyapunov_rnn.plots import plot_latent_perturbation, save_figure  # noqa: E402


def test_latent_perturbation_figure(ds: xr.Dataset, fit: AelleFit, tmp_path) -> None:
    result = latent_perturbation(fit, ds, steps=3)
    fig = plot_latent_perturbation(result)
    panels = plot_panels(fig)
    assert len(panels) == 4  # two starts, the change, the check of the path
    for ax in panels:
        assert ax.get_xlabel() and ax.get_ylabel() and ax.get_title()
    high, low, change, check = panels
    for ax in (high, low, change):
        assert "(nats/step)" in ax.get_ylabel()
    assert "final loss below the median" in high.get_title() and "final loss above the median" in low.get_title()
    assert len(high.get_lines()) == result.sizes["step"] + 2  # the path, the actual spectrum, the reconstruction
    assert "Delta" in change.get_ylabel()
    assert check.get_ylabel() == "predicted final validation loss" and "Delta s" in check.get_xlabel()
    assert len(check.get_lines()) == 2 * 2 + 1  # per start: predictor line and re-encoded markers; the zero line
    colorbars = [ax for ax in fig.axes if ax.get_label() == "<colorbar>"]
    assert [ax.get_ylabel() for ax in colorbars] == ["predicted final validation loss"]
    assert "validation loss" in fig.get_suptitle()
    # Units come from the data: a reference-convention experiment is in bits per step.
    in_bits = plot_latent_perturbation(result.assign_attrs(units="bits per step"))
    assert all("(bits/step)" in ax.get_ylabel() for ax in plot_panels(in_bits)[:3])
    assert [p.name for p in save_figure(fig, tmp_path / "latent_perturbation")] == [
        "latent_perturbation.png", "latent_perturbation.pdf"]
