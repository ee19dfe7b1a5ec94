"""The experiment dataset: one labeled xarray Dataset in netCDF4.

Layout (see README, "Outputs")::

    dims    network, checkpoint, exponent
    coords  network: architecture, task, hidden_size, init_param, seed, state_size
            checkpoint: epoch, training_fraction
    vars    exponents, exponents_sem     (network, checkpoint, exponent)
            train_loss, val_loss, val_accuracy, diverged  (network, checkpoint)

Networks of different state sizes share the ``exponent`` axis: spectra are
NaN-padded beyond each network's ``state_size``.
"""

from __future__ import annotations

import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import xarray as xr
import yaml

from lyapunov_rnn.io import atomic_path
from lyapunov_rnn.spectra import UNITS

NETWORK_COORDS = ("architecture", "task", "hidden_size", "init_param", "seed", "state_size")
REQUIRED_VARIABLES = {
    "exponents": ("network", "checkpoint", "exponent"),
    "exponents_sem": ("network", "checkpoint", "exponent"),
    "val_loss": ("network", "checkpoint"),
    "val_accuracy": ("network", "checkpoint"),
    "diverged": ("network", "checkpoint"),
}


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
    config: Mapping[str, Any],
    lyapunov_options: Mapping[str, Any],
    sequence_length: int,
) -> xr.Dataset:
    """Concatenate per-network spectra into the experiment dataset.

    Parameters
    ----------
    network_files : mapping or sequence of (network id, path)
        Files written by :func:`lyapunov_rnn.spectra.network_spectra`.
    config : mapping
        The experiment config, stored as YAML in the ``config`` attribute.
    lyapunov_options : mapping
        ``sequences``, ``warmup``, ``k``, ``convention``, ``dtype``.
    sequence_length : int
        Length T of the driving sequences (time steps).
    """
    from lyapunov_rnn import __version__

    items = list(network_files.items()) if isinstance(network_files, Mapping) else list(network_files)
    if not items:
        raise ValueError("assemble: no network files given")
    parts = []
    for network, path in items:
        part = xr.load_dataset(path, engine="netcdf4")
        missing = [name for name in NETWORK_COORDS if name not in part.coords]
        if missing:
            raise ValueError(f"{path}: not a network spectra file (missing {missing})")
        labels = {name: ("network", [part[name].item()]) for name in NETWORK_COORDS}
        parts.append(part.drop_vars(NETWORK_COORDS).expand_dims(network=[network]).assign_coords(labels))
    ds = xr.concat(parts, dim="network", join="outer", combine_attrs="drop")
    ds["diverged"] = ds["diverged"].astype(bool)
    convention = lyapunov_options["convention"]
    ds.attrs = {
        "title": f"Lyapunov spectra of experiment {config['experiment']}",
        "experiment": config["experiment"],
        "units": UNITS[convention],
        "convention": convention,
        "warmup": int(lyapunov_options["warmup"]),
        "sequences": int(lyapunov_options["sequences"]),
        "sequence_length": int(sequence_length),
        "dtype": str(lyapunov_options["dtype"]),
        "package_version": __version__,
        "git_commit": git_commit(Path(__file__).parent),
        "config": yaml.safe_dump(dict(config), sort_keys=False),
    }
    check_schema(ds)
    return ds


def check_schema(ds: xr.Dataset) -> None:
    """Raise ``ValueError`` naming what is missing if ``ds`` is not an experiment dataset."""
    for name, dims in REQUIRED_VARIABLES.items():
        if name not in ds:
            raise ValueError(f"dataset has no variable {name!r}")
        if ds[name].dims != dims:
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
    ds["diverged"] = ds["diverged"].astype(bool)
    check_schema(ds)
    return ds
