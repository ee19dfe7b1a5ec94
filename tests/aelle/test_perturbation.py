"""Decoded spectra along the AeLLE predictor's direction: the path, the starts, the units."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
import xarray as xr

from lyapunov_rnn.aelle import AelleFit
from lyapunov_rnn.aelle.perturbation import latent_perturbation, typical_starts
from lyapunov_rnn.aelle.preprocessing import SpectrumScaler, resample_spectra
from lyapunov_rnn.analysis.early_prediction import high_accuracy_labels
from lyapunov_rnn.dataset import write_netcdf

STEPS = 4


@pytest.fixture(scope="module")
def result(fit: AelleFit, ds: xr.Dataset) -> xr.Dataset:
    return latent_perturbation(fit, ds, steps=STEPS)


def test_inverse_standardise_undoes_standardise() -> None:
    rng = np.random.default_rng(0)
    spectra = rng.normal(-1.0, 0.5, (20, 6)) - np.arange(6)
    spectra[:, 2] = 0.3  # a constant feature (std replaced by 1)
    scaler = SpectrumScaler.fit(spectra, 6, "midpoint")
    standardised = scaler.standardise(spectra)
    np.testing.assert_allclose(standardised.mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(scaler.inverse_standardise(standardised), spectra, rtol=1e-12)
    np.testing.assert_allclose(scaler.inverse_standardise(np.zeros((1, 6)))[0], spectra.mean(axis=0))


def test_layout(result: xr.Dataset, ds: xr.Dataset, fit: AelleFit) -> None:
    assert result["decoded"].dims == ("start", "step", "exponent")
    assert list(result["start"].values) == ["high", "low"]
    assert result.sizes == {"start": 2, "step": 2 * STEPS + 1, "exponent": fit.scaler.length}
    score_change = result["score_change"].values
    assert score_change[STEPS] == 0.0
    np.testing.assert_allclose(score_change, -score_change[::-1])
    for name in ("decoded", "change", "actual"):
        assert result[name].attrs["units"] == ds.attrs["units"]


def test_predicted_loss_is_monotone_in_the_step(result: xr.Dataset) -> None:
    assert (result["predicted_final_loss"].diff("step") > 0).all()


def test_path_sweeps_between_the_two_starts(result: xr.Dataset) -> None:
    at_start = result["predicted_final_loss"].sel(step=0)
    high, low = float(at_start.sel(start="high")), float(at_start.sel(start="low"))
    assert high < low
    path = result["predicted_final_loss"]
    assert float(path.sel(start="high").max()) > low
    assert float(path.sel(start="low").min()) < high


def test_typical_starts_are_validation_networks_of_their_group(fit: AelleFit, ds: xr.Dataset) -> None:
    starts = typical_starts(fit, ds)
    labels = high_accuracy_labels(ds, fit.split)
    assert list(starts.index) == ["high", "low"]
    assert (starts["split"] == "val").all()
    assert bool(labels[starts.loc["high", "network"]]) and not bool(labels[starts.loc["low", "network"]])


def test_a_group_without_validation_networks_starts_from_a_training_network(fit: AelleFit, ds: xr.Dataset) -> None:
    labels = high_accuracy_labels(ds, fit.split)
    split = fit.split.where(~(labels.reindex(fit.split.index) & (fit.split == "val")), "train")
    starts = typical_starts(dataclasses.replace(fit, split=split), ds)
    assert list(starts["split"]) == ["train", "val"]
    assert bool(labels[starts.loc["high", "network"]])


def test_zero_step_is_the_reconstruction_in_dataset_units(result: xr.Dataset, fit: AelleFit, ds: xr.Dataset) -> None:
    at = {name: xr.DataArray(result[name].values, dims="start") for name in ("network", "checkpoint")}
    spectra = ds["exponents"].sel(at)
    spectra = spectra.transpose("start", "exponent").values
    resampled = resample_spectra(spectra, fit.scaler.length, method=fit.scaler.method)
    np.testing.assert_allclose(result["actual"].values, resampled)
    with torch.no_grad():
        x = torch.as_tensor((resampled - fit.scaler.mean) / fit.scaler.std, dtype=torch.float32)
        reconstruction = fit.model(x)[0].numpy() * fit.scaler.std + fit.scaler.mean
    np.testing.assert_allclose(result["decoded"].sel(step=0).values, reconstruction, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(result["change"].sel(step=0).values, 0.0)
    # Reconstructed in the dataset's units: close to the actual spectrum on the scale of the spectrum's spread.
    error = np.abs(reconstruction - resampled).mean()
    assert error < 0.2 * np.ptp(resampled)


def test_largest_exponent_falls_when_the_predicted_loss_improves(result: xr.Dataset) -> None:
    # In the synthetic data the final loss grows with the largest exponent (helpers.synthetic.make_dataset).
    largest = result["decoded"].isel(exponent=0)
    assert (largest.diff("step") > 0).all()


def test_written_and_read_back(result: xr.Dataset, tmp_path) -> None:
    path = tmp_path / "perturbation.nc"
    write_netcdf(result, path)
    back = xr.load_dataset(path, engine="netcdf4")
    np.testing.assert_allclose(back["decoded"].values, result["decoded"].values)
    assert list(back["network"].values) == list(result["network"].values)
