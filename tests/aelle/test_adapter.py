"""A fit applied to an experiment dataset."""

from __future__ import annotations

import dataclasses

import numpy as np
import xarray as xr

from lyapunov_rnn.aelle import AelleFit, apply_to_dataset, latent_frame
from lyapunov_rnn.dataset import valid_spectrum_mask


def test_apply_to_dataset_and_latent_frame(fit: AelleFit, ds: xr.Dataset) -> None:
    spectra = ds["exponents"].isel(checkpoint=-1).values
    latent = fit.encode(spectra)
    out = apply_to_dataset(fit, ds)
    assert out["latent"].dims == ("network", "checkpoint", "latent_dim")
    assert out["predicted_final_loss"].dims == ("network", "checkpoint")
    assert set(out["split"].values) == {"train", "val", "test"}
    np.testing.assert_allclose(out["latent"].isel(checkpoint=-1).values, latent)
    assert "architecture" in out.coords

    frame = latent_frame(fit, ds)
    assert len(frame) == int(valid_spectrum_mask(ds).sum())
    assert {"final_val_accuracy", "architecture", "init_param", "training_fraction", "z0"} <= set(frame)
    np.testing.assert_allclose(out["predicted_final_loss"].isel(checkpoint=-1).values, fit.predict(spectra))


def test_latent_frame_at_training_checkpoints(fit: AelleFit, ds: xr.Dataset) -> None:
    early = dataclasses.replace(fit, config=dataclasses.replace(fit.config, training_fractions=(0.0, 0.5)))
    frame = latent_frame(early, ds, training_checkpoints=True)
    kept = ds["training_fraction"].values <= 0.5
    assert set(frame["checkpoint"]) == set(ds["checkpoint"].values[kept])
    assert len(frame) == int(valid_spectrum_mask(ds).isel(checkpoint=kept).sum())
