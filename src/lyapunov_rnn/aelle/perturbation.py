"""Which part of the spectrum AeLLE reads its prediction from: decoded spectra along the predictor's direction.

The AeLLE papers' "LE features in AeLLE space" (Vogt, Zheng & Shlizerman,
arXiv:2204.04876; ``perturbation()`` in ``LE_clustering.py`` of
shlizee/LyapunovAutoEncode) shift a latent code by the minimum-norm step
that changes the linear predictor's output by a given amount, decode the
shifted code and compare the decoded spectrum with the reconstruction.

Here the predictor is ``sigmoid(w · z + b)`` on the latent code ``z``. The
minimum-norm shift that changes the pre-sigmoid score ``w · z + b`` by
``Δs`` is ``Δs · w / |w|²`` (the pseudo-inverse solution of ``w δ = Δs``);
the predicted (scaled) final loss along it is ``sigmoid(s₀ + Δs)``, monotone
in ``Δs`` but not linear, so the path is parametrised by ``Δs`` and each
step also carries the predicted final loss it reaches, in the target's
units. Two starts are followed: a *typical* high-performing and a typical
low-performing network (:func:`typical_starts`). Both paths use the same
``Δs`` grid, symmetric about 0, wide enough that each start's predicted
loss reaches the other start's and a margin beyond.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
import xarray as xr

from lyapunov_rnn.aelle.adapter import latent_frame
from lyapunov_rnn.aelle.fit import AelleFit
from lyapunov_rnn.aelle.preprocessing import resample_spectra
from lyapunov_rnn.analysis.early_prediction import high_accuracy_labels

__all__ = ["START_COORDS", "STARTS", "latent_perturbation", "typical_starts"]

#: The two starts, in the order of the ``start`` dimension: True for the high-accuracy group.
STARTS: dict[str, bool] = {"high": True, "low": False}
#: Per-start metadata copied from :func:`lyapunov_rnn.aelle.latent_frame` onto the ``start`` dimension.
START_COORDS = (
    "network", "checkpoint", "epoch", "training_fraction", "architecture", "hidden_size", "init_param", "split",
)


def typical_starts(fit: AelleFit, ds: xr.Dataset) -> pd.DataFrame:
    """The typical sample of the high- and of the low-accuracy networks.

    Candidates are the validation networks' samples at the checkpoints the
    AeLLE was trained on (``training_fraction`` in
    ``fit.config.training_fractions``), labelled as in early prediction
    (:func:`lyapunov_rnn.analysis.early_prediction.high_accuracy_labels`:
    final validation loss below the median of the training and validation
    networks'; a diverged network is low). The typical sample of a group is
    the one whose latent code is nearest (Euclidean) to the group's
    coordinate-wise median code. A group without a validation sample (a
    small experiment) takes its candidates from the training networks.

    Returns
    -------
    pd.DataFrame
        Index ``"high"``, ``"low"``; the columns of
        :func:`lyapunov_rnn.aelle.latent_frame` (metadata, ``z0 ..``).
    """
    frame = latent_frame(fit, ds, training_checkpoints=True)
    labels = high_accuracy_labels(ds, fit.split)
    frame = frame.assign(high_accuracy=labels.reindex(frame["network"]).to_numpy())
    codes = frame.filter(regex=r"^z\d+$").columns
    rows = {}
    for start, is_high in STARTS.items():
        group = frame[frame["high_accuracy"] == is_high]
        candidates = next((group[group["split"] == split] for split in ("val", "train")
                           if (group["split"] == split).any()), None)
        if candidates is None:
            raise ValueError(f"no validation or training sample of a {start}-accuracy network")
        z = candidates[codes].to_numpy()
        distance = np.linalg.norm(z - np.median(z, axis=0), axis=1)
        rows[start] = candidates.iloc[int(np.argmin(distance))]
    return pd.DataFrame(rows).T.infer_objects()


@torch.no_grad()
def latent_perturbation(fit: AelleFit, ds: xr.Dataset, *, steps: int = 5, margin: float = 0.25) -> xr.Dataset:
    """Decoded spectra along the predictor's direction from a typical high and low network.

    Parameters
    ----------
    fit : AelleFit
        A trained AeLLE.
    ds : xr.Dataset
        The experiment dataset it was trained on.
    steps : int
        Steps on each side of the start (``2 * steps + 1`` points, the start included).
    margin : float
        How far beyond the other start each path goes, as a fraction of the
        score gap between the two starts: the grid spans
        ``Δs ∈ [-(1 + margin) g, (1 + margin) g]`` with ``g`` the absolute
        difference of the two starts' pre-sigmoid scores (1 when they coincide).

    Returns
    -------
    xr.Dataset
        Dims ``start`` (``"high"``, ``"low"``), ``step`` (``-steps .. steps``)
        and ``exponent`` (index of the resampled spectrum, 1-based).
        Coordinates: ``score_change`` (step; ``Δs``, dimensionless),
        ``latent_shift`` (step; the step's Euclidean length in latent units,
        signed) and the starts' metadata (:data:`START_COORDS`,
        ``final_loss``: the start network's actual final target value, NaN
        if diverged). Variables, spectra in the dataset's units:

        ``actual`` (start, exponent)
            The start sample's spectrum, resampled to the AeLLE's length.
        ``decoded`` (start, step, exponent)
            Decoded shifted code; step 0 is the start's reconstruction.
        ``change`` (start, step, exponent)
            ``decoded`` minus the start's reconstruction.
        ``predicted_final_loss`` (start, step)
            The predictor's output on the shifted code (target units).
        ``predicted_final_loss_of_decoded`` (start, step)
            The AeLLE's prediction for the decoded spectrum fed back through
            the encoder: close to ``predicted_final_loss`` where the path
            stays on spectra the decoder can produce.
    """
    starts = typical_starts(fit, ds)
    codes = starts.filter(regex=r"^z\d+$").to_numpy(float)
    model = fit.model.eval()
    linear = model.predictor[0]
    weight = linear.weight.detach().double().numpy()[0]
    scores = codes @ weight + float(linear.bias)
    gap = abs(scores[0] - scores[1]) or 1.0
    score_change = np.linspace(-(1 + margin) * gap, (1 + margin) * gap, 2 * steps + 1)
    score_change[steps] = 0.0
    direction = weight / (weight @ weight)  # latent shift per unit of score: the pseudo-inverse of w
    shifted = codes[:, None, :] + score_change[None, :, None] * direction[None, None, :]

    z = torch.as_tensor(shifted.reshape(-1, codes.shape[1]), dtype=torch.float32)
    scaled = model.predictor(z).squeeze(-1).numpy()
    decoded = fit.scaler.inverse_standardise(model.decoder(z).numpy().astype(float))
    n_starts, n_steps = shifted.shape[:2]
    decoded = decoded.reshape(n_starts, n_steps, -1)
    predicted = fit.target.inverse(scaled.astype(float)).reshape(n_starts, n_steps)
    predicted_of_decoded = fit.predict(decoded.reshape(n_starts * n_steps, -1)).reshape(n_starts, n_steps)

    networks = starts["network"].to_numpy(str)
    at_start = {name: xr.DataArray(starts[name].to_numpy(), dims="start") for name in ("network", "checkpoint")}
    exponents = ds["exponents"].sel(at_start)
    actual = resample_spectra(
        exponents.transpose("start", "exponent").values, fit.scaler.length, method=fit.scaler.method
    )
    final = ds[fit.config.target].isel(checkpoint=-1).sel(network=networks).values
    unit = ds.attrs.get("units") or ds["exponents"].attrs.get("units", "")
    spectrum = {"units": unit}
    return xr.Dataset(
        {
            "actual": (("start", "exponent"), actual, spectrum),
            "decoded": (("start", "step", "exponent"), decoded, spectrum),
            "change": (("start", "step", "exponent"), decoded - decoded[:, steps : steps + 1], spectrum),
            "predicted_final_loss": (("start", "step"), predicted),
            "predicted_final_loss_of_decoded": (("start", "step"), predicted_of_decoded),
        },
        coords={
            "start": list(STARTS),
            "step": np.arange(-steps, steps + 1),
            "exponent": np.arange(1, fit.scaler.length + 1),
            "score_change": ("step", score_change),
            "latent_shift": ("step", score_change / np.linalg.norm(weight)),
            **{name: ("start", starts[name].to_numpy()) for name in START_COORDS if name in starts},
            "final_loss": ("start", final),
        },
        attrs={
            "title": "AeLLE latent codes moved along the predictor's weight, decoded",
            "units": unit,
            "target": fit.config.target,
            "start_selection": (
                "validation-network sample at the AeLLE's training checkpoints nearest to its group's median latent "
                "code; groups by final loss below/above the median of training and validation networks"
            ),
        },
    )
