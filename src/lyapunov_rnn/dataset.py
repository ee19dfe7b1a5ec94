"""The experiment dataset: one labeled xarray Dataset in netCDF4, and what every reader needs of it.

Layout (see README, "The dataset")::

    dims    network, checkpoint, exponent
    coords  network: architecture, task, hidden_size, init_param, learning_rate, dropout, replicate, seed,
                     state_size
            checkpoint: epoch, training_fraction
    vars    exponents, exponents_sem, exponents_resolved     (network, checkpoint, exponent)
            train_loss, val_loss, val_accuracy, diverged  (network, checkpoint)

Networks of different state sizes share the ``exponent`` axis: spectra are
NaN-padded beyond each network's ``state_size`` (``exponents_resolved``
False there). ``exponents_resolved`` (:data:`RESOLVED_DESCRIPTION`) marks the
exponents that floating-point arithmetic determines. ``learning_rate`` (Adam's
step size) and ``dropout`` (probability before the readout) are what each
network trained with: its grid's value where the grid sweeps them, else the
``training`` section's. The same layout without the ``network`` dimension is
one network's file (:func:`network_dataset`).

This is the bottom layer of the package: it imports neither torch nor the
Lyapunov engine, so figure and table jobs that only read the dataset start
fast.
"""

from __future__ import annotations

import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import xarray as xr
import yaml

from lyapunov_rnn.conventions import UNITS, canonical_convention
from lyapunov_rnn.io import atomic_path

if TYPE_CHECKING:
    from lyapunov_rnn.config import ExperimentConfig

__all__ = [
    "NETWORK_COORDS",
    "OPTIONAL_VARIABLES",
    "REQUIRED_VARIABLES",
    "RESOLVED_DESCRIPTION",
    "assemble",
    "check_schema",
    "final_loss_for_ranking",
    "final_values",
    "git_commit",
    "in_fraction_range",
    "network_dataset",
    "open_experiment",
    "units",
    "valid_spectrum_mask",
    "write_netcdf",
]

NETWORK_COORDS = (
    "architecture", "task", "hidden_size", "init_param", "learning_rate", "dropout", "replicate", "seed", "state_size"
)
REQUIRED_VARIABLES = {
    "exponents": ("network", "checkpoint", "exponent"),
    "exponents_sem": ("network", "checkpoint", "exponent"),
    "val_loss": ("network", "checkpoint"),
    "val_accuracy": ("network", "checkpoint"),
    "diverged": ("network", "checkpoint"),
}
#: Optional variables (files written before they existed lack them) and their dims.
OPTIONAL_VARIABLES = {"exponents_resolved": ("network", "checkpoint", "exponent")}
#: The ``description`` attribute of ``exponents_resolved``.
RESOLVED_DESCRIPTION = (
    "True where the exponent is numerically resolved for every driving sequence. An exponent is unresolved "
    "when, at some QR step of the Lyapunov iteration (or, in the reference convention, at the QR after its "
    "warm-up), its direction or an earlier QR column was stretched by |R_jj| <= sqrt(eps) * ||J_t Q||_F, "
    "eps the machine epsilon of the compute dtype: a one-step contraction by more than 18.0 nats (float64) "
    "or 8.0 nats (float32) relative to the leading directions. With the rounding check (attribute "
    "rounding_check), also when a second run, its state and tangent vectors perturbed by 1024 eps at every "
    "step, moved the exponent by more than 8 sqrt(eps) per step: rounding amplified by the dynamics. "
    "Unresolved values are set partly by rounding and change with the thread count, BLAS library or device. "
    "False also for diverged checkpoints and for padding beyond state_size."
)


def units(convention: str) -> str:
    """Units of the exponents of a Lyapunov convention (``"nats per step"`` or ``"bits per step"``)."""
    return UNITS[canonical_convention(convention)]


# --------------------------------------------------------------------------- #
# Writing
# --------------------------------------------------------------------------- #
def network_dataset(
    exponents: np.ndarray,
    exponents_sem: np.ndarray,
    checkpoints: Sequence[Mapping[str, Any]],
    *,
    task: str,
    convention: str,
    exponents_resolved: np.ndarray,
) -> xr.Dataset:
    """One network's spectra at each of its checkpoints, as a labeled dataset.

    Parameters
    ----------
    exponents, exponents_sem : numpy.ndarray, shape (checkpoints, k)
        Mean spectrum over the driving sequences and its standard error, in
        :func:`units` of ``convention``; NaN for diverged checkpoints.
    checkpoints : sequence of mapping
        The metadata of each checkpoint, in epoch order
        (:func:`lyapunov_rnn.checkpoints.load_checkpoint`'s ``info``):
        ``epoch``, ``epochs``, ``spec``, ``training``, ``train_loss``,
        ``val_loss``, ``val_accuracy``, ``diverged``. The learning rate and
        dropout are the spec's, or the training settings' in checkpoints
        whose spec lacks them.
    task : str
        The task's name.
    convention : str
        The Lyapunov convention of the spectra.
    exponents_resolved : numpy.ndarray of bool, shape (checkpoints, k)
        True where the exponent is resolved for every driving sequence
        (:data:`RESOLVED_DESCRIPTION`); False for diverged checkpoints.

    Returns
    -------
    xarray.Dataset
        Dims ``checkpoint``, ``exponent``; the variables of the experiment
        dataset and scalar coordinates for the network's labels.
    """
    epochs = np.array([info["epoch"] for info in checkpoints])
    spec = checkpoints[0]["spec"]
    trained_with = {
        name: spec[name] if spec.get(name) is not None else checkpoints[0]["training"][name]
        for name in ("learning_rate", "dropout")
    }
    per_checkpoint = ("checkpoint",)
    unit = units(convention)

    def metric(name: str, dtype: type = float) -> tuple:
        return per_checkpoint, np.array([info[name] for info in checkpoints], dtype=dtype)

    return xr.Dataset(
        {
            "exponents": (("checkpoint", "exponent"), exponents, {"units": unit}),
            "exponents_sem": (("checkpoint", "exponent"), exponents_sem, {"units": unit}),
            "exponents_resolved": (
                ("checkpoint", "exponent"),
                np.asarray(exponents_resolved, dtype=bool),
                {"description": RESOLVED_DESCRIPTION},
            ),
            "train_loss": metric("train_loss"),
            "val_loss": metric("val_loss"),
            "val_accuracy": metric("val_accuracy"),
            "diverged": metric("diverged", bool),
        },
        coords={
            "checkpoint": np.arange(len(checkpoints)),
            "epoch": (per_checkpoint, epochs),
            "training_fraction": (per_checkpoint, epochs / checkpoints[-1]["epochs"]),
            "exponent": np.arange(1, exponents.shape[1] + 1),
            "architecture": spec["architecture"],
            "task": task,
            "hidden_size": int(spec["hidden_size"]),
            "init_param": float(spec["init_param"]),
            "learning_rate": float(trained_with["learning_rate"]),
            "dropout": float(trained_with["dropout"]),
            "replicate": int(spec["replicate"]),
            "seed": int(spec["seed"]),
            "state_size": exponents.shape[1],
        },
    )


def write_netcdf(ds: xr.Dataset, path: str | Path) -> None:
    """Write ``ds`` to netCDF4 atomically (temp file + rename)."""
    with atomic_path(path) as temporary:
        ds.to_netcdf(temporary, engine="netcdf4")


def git_commit(directory: str | Path = ".") -> str:
    """Commit hash of the checkout at ``directory`` (``+dirty`` if modified), or ``unknown``."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=directory, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=directory, capture_output=True, text=True, check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return commit + ("+dirty" if dirty else "")


def assemble(
    network_files: Mapping[str, str | Path] | Sequence[tuple[str, str | Path]],
    *,
    config: ExperimentConfig,
    sequence_length: int,
) -> xr.Dataset:
    """Concatenate per-network spectra into the experiment dataset.

    Parameters
    ----------
    network_files : mapping or sequence of (network id, path)
        Files written from :func:`network_dataset` (e.g. by
        :func:`lyapunov_rnn.spectra.network_spectra`).
    config : ExperimentConfig
        The experiment: its name, ``lyapunov`` section and the validated dict
        (stored as YAML in the ``config`` attribute).
    sequence_length : int
        Length T of the driving sequences (time steps).

    The attributes ``input_set`` and ``first_sequence`` record which test
    sequences drove the networks (the same for every file, else
    ``ValueError``; files without them were driven by the first ones).
    """
    from lyapunov_rnn import __version__

    items = list(network_files.items()) if isinstance(network_files, Mapping) else list(network_files)
    if not items:
        raise ValueError("assemble: no network files given")
    parts, input_sets = [], set()
    for network, path in items:
        part = xr.load_dataset(path, engine="netcdf4")
        input_sets.add((int(part.attrs.get("input_set", 0)), int(part.attrs.get("first_sequence", 0))))
        missing = [name for name in NETWORK_COORDS if name not in part.coords]
        if missing:
            raise ValueError(f"{path}: not a network spectra file (missing {missing})")
        labels = {name: ("network", [part[name].item()]) for name in NETWORK_COORDS}
        parts.append(part.drop_vars(NETWORK_COORDS).expand_dims(network=[network]).assign_coords(labels))
    if len(input_sets) > 1:
        raise ValueError(f"assemble: the networks were driven by different input sets {sorted(input_sets)}")
    ((input_set, first_sequence),) = input_sets
    ds = xr.concat(parts, dim="network", join="outer", combine_attrs="drop")
    ds["diverged"] = ds["diverged"].astype(bool)
    if "exponents_resolved" in ds:
        # The outer join pads the spectra of smaller networks; padding is no resolved exponent.
        ds["exponents_resolved"] = ds["exponents_resolved"].fillna(False).astype(bool)
        ds["exponents_resolved"].attrs["description"] = RESOLVED_DESCRIPTION
    lyapunov = config.lyapunov
    ds.attrs = {
        "title": f"Lyapunov spectra of experiment {config.experiment}",
        "experiment": config.experiment,
        "units": units(lyapunov.convention),
        "convention": canonical_convention(lyapunov.convention),
        "warmup": int(lyapunov.warmup),
        "sequences": int(lyapunov.sequences),
        "input_set": input_set,
        "first_sequence": first_sequence,
        "sequence_length": int(sequence_length),
        "dtype": str(lyapunov.dtype),
        "rounding_check": int(lyapunov.rounding_check),
        "package_version": __version__,
        "git_commit": git_commit(Path(__file__).parent),
        "config": yaml.safe_dump(dict(config.source), sort_keys=False),
    }
    check_schema(ds)
    return ds


# --------------------------------------------------------------------------- #
# Reading
# --------------------------------------------------------------------------- #
def check_schema(ds: xr.Dataset) -> None:
    """Raise ``ValueError`` naming what is missing if ``ds`` is not an experiment dataset."""
    for name, dims in REQUIRED_VARIABLES.items():
        if name not in ds:
            raise ValueError(f"dataset has no variable {name!r}")
        if ds[name].dims != dims:
            raise ValueError(f"variable {name!r} has dims {ds[name].dims}, expected {dims}")
    for name, dims in OPTIONAL_VARIABLES.items():
        if name in ds and ds[name].dims != dims:
            raise ValueError(f"variable {name!r} has dims {ds[name].dims}, expected {dims}")
    for name in NETWORK_COORDS:
        if name not in ds.coords or ds[name].dims != ("network",):
            raise ValueError(f"dataset lacks the network coordinate {name!r}")
    for name in ("epoch", "training_fraction"):
        if name not in ds.coords or ds[name].dims != ("checkpoint",):
            raise ValueError(f"dataset lacks the checkpoint coordinate {name!r}")


def open_experiment(path: str | Path) -> xr.Dataset:
    """Load an experiment dataset into memory and check its schema."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"experiment dataset {path} does not exist")
    ds = xr.load_dataset(path, engine="netcdf4")
    try:
        check_schema(ds)
    except ValueError as error:
        raise ValueError(f"{path} is not an experiment dataset: {error}") from None
    # netCDF has no bool type: booleans come back as integers.
    for name in ("diverged", "exponents_resolved"):
        if name in ds:
            ds[name] = ds[name].astype(bool)
    return ds


def valid_spectrum_mask(ds: xr.Dataset) -> xr.DataArray:
    """True for (network, checkpoint) whose spectrum is fully finite.

    A spectrum is valid when its first ``state_size`` exponents (the computed
    ones; all finite exponents if the coordinate is absent) are finite and
    there is at least one of them; diverged checkpoints are NaN and invalid.
    """
    finite = np.isfinite(ds["exponents"])
    if "state_size" in ds.coords:
        needed = ds["exponent"] <= ds["state_size"]
        return (finite | ~needed).all("exponent") & (ds["state_size"] > 0)
    return finite.any("exponent")


def final_values(ds: xr.Dataset, variable: str = "val_loss") -> xr.DataArray:
    """``variable`` at the last checkpoint, per network (NaN if diverged)."""
    return ds[variable].isel(checkpoint=-1, drop=True)


def final_loss_for_ranking(ds: xr.Dataset) -> pd.Series:
    """Final validation loss per network with diverged (non-finite) values as ``+inf``."""
    final = final_values(ds, "val_loss").to_series()
    return final.where(np.isfinite(final), np.inf)


def in_fraction_range(ds: xr.Dataset, training_fractions: Sequence[float]) -> np.ndarray:
    """True for the checkpoints of ``ds`` whose ``training_fraction`` is in the closed range ``(low, high)``."""
    low, high = training_fractions
    fractions = ds["training_fraction"].values
    return (fractions >= low - 1e-9) & (fractions <= high + 1e-9)
