"""A fitted AeLLE applied to an experiment dataset: labeled latent codes and predictions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from lyapunov_rnn.aelle.fit import AelleFit
from lyapunov_rnn.dataset import final_values, in_fraction_range, valid_spectrum_mask

__all__ = ["apply_to_dataset", "latent_frame"]


def apply_to_dataset(fit: AelleFit, ds: xr.Dataset) -> xr.Dataset:
    """Apply ``fit`` to every (network, checkpoint) spectrum of ``ds``.

    Returns
    -------
    xr.Dataset
        ``latent`` (network, checkpoint, latent_dim), ``predicted_final_loss``
        (network, checkpoint; target units) and ``split`` (network; ``""``
        for networks unknown to the fit), with the coordinates of ``ds``.
        Invalid (non-finite) spectra give NaN.
    """
    n_net, n_ckpt = ds.sizes["network"], ds.sizes["checkpoint"]
    flat = ds["exponents"].transpose("network", "checkpoint", "exponent").values
    latent, predicted = fit.encode_and_predict(flat.reshape(n_net * n_ckpt, -1))
    coords = {k: v for k, v in ds.coords.items() if "exponent" not in v.dims}
    latent_dim = fit.config.latent_dim
    return xr.Dataset(
        {
            "latent": (("network", "checkpoint", "latent_dim"), latent.reshape(n_net, n_ckpt, latent_dim)),
            "predicted_final_loss": (("network", "checkpoint"), predicted.reshape(n_net, n_ckpt)),
            "split": ("network", fit.split.reindex(ds["network"].values).fillna("").to_numpy(str)),
        },
        coords={**coords, "latent_dim": np.arange(latent_dim)},
        attrs={"target": fit.config.target, "model": "AeLLE"},
    )


def latent_frame(fit: AelleFit, ds: xr.Dataset, *, training_checkpoints: bool = False) -> pd.DataFrame:
    """Long table of the valid samples of ``ds`` with metadata and latent columns ``z0 ..``.

    Columns: ``network, checkpoint, epoch, training_fraction, architecture,
    init_param, hidden_size, split, final_val_loss, final_val_accuracy,
    predicted_final_loss, z0 .. z{latent_dim-1}``; rows with non-finite
    spectra are dropped. Metadata columns missing from ``ds`` are omitted.
    With ``training_checkpoints``, only the checkpoints the AeLLE was trained
    on (``training_fraction`` in ``fit.config.training_fractions``) are kept.
    """
    applied = apply_to_dataset(fit, ds)
    frame = applied["predicted_final_loss"].to_dataframe().reset_index()
    latent = applied["latent"].transpose("network", "checkpoint", "latent_dim").values
    latent = latent.reshape(-1, latent.shape[-1])
    for j in range(latent.shape[1]):
        frame[f"z{j}"] = latent[:, j]
    per_network = pd.DataFrame(
        {
            "split": applied["split"].to_series(),
            "final_val_loss": final_values(ds, "val_loss").to_series(),
            "final_val_accuracy": final_values(ds, "val_accuracy").to_series(),
        }
    )
    frame = frame.drop(columns=[c for c in per_network if c in frame]).join(per_network, on="network")
    mask = valid_spectrum_mask(ds).transpose("network", "checkpoint").values
    if training_checkpoints:
        mask = mask & in_fraction_range(ds, fit.config.training_fractions)[None, :]
    return frame[mask.ravel() & np.isfinite(latent).all(axis=1)].reset_index(drop=True)
