"""Experiment configuration: the JSON schema check and the grid of networks.

The Snakefile validates ``config.yaml`` with ``snakemake.utils.validate``
against ``workflow/schemas/config.schema.yaml``; :func:`validate_config` does
the same for library and CLI users, plus the checks a schema cannot express.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import yaml

if TYPE_CHECKING:
    from lyapunov_rnn.train import NetworkSpec, TrainingConfig

NETWORK_COLUMNS = ("architecture", "hidden_size", "init_param", "seed")


class ConfigError(ValueError):
    """A configuration value is missing or invalid; the message names the key."""


def schema_path() -> Path:
    """Path of the JSON schema (YAML) shipped with the workflow."""
    return Path(str(resources.files("lyapunov_rnn") / "config.schema.yaml"))


def load_config(path: str | Path) -> dict[str, Any]:
    """Read a YAML config file and validate it (defaults filled in)."""
    with open(path) as handle:
        config = yaml.safe_load(handle)
    if not isinstance(config, dict):
        raise ConfigError(f"{path}: the config must be a mapping, got {type(config).__name__}")
    return validate_config(config)


def validate_config(config: dict[str, Any]) -> dict[str, Any]:
    """Validate ``config`` against the schema, fill defaults, and check the grid.

    Raises
    ------
    ConfigError
        Naming the offending key.
    """
    from snakemake.exceptions import WorkflowError
    from snakemake.utils import validate

    try:
        validate(config, str(schema_path()), set_default=True)
    except WorkflowError as err:
        raise ConfigError(str(err)) from err
    check_config(config)
    return config


def check_config(config: Mapping[str, Any]) -> None:
    """Checks beyond the schema: the network grid and the task's own options.

    Raises
    ------
    ConfigError
        Naming the offending key.
    """
    from lyapunov_rnn.data import resolve_task

    network_table(config)
    try:
        resolve_task(config["task"])
    except ValueError as err:
        raise ConfigError(f"task: {err}") from err


def format_param(value: float) -> str:
    """Shortest exact decimal for ``value``: stable in file names (0.1 -> '0.1', 3.0 -> '3')."""
    return np.format_float_positional(float(value), trim="-")


def init_param_values(spec: list[float] | Mapping[str, Any]) -> list[float]:
    """Expand the ``networks.init_param`` entry into a list of values.

    Either an explicit list, or ``{low, high, count, spacing}`` with spacing
    ``linear`` or ``log`` (values rounded to 4 significant digits so that paths
    stay readable).
    """
    if isinstance(spec, Mapping):
        low, high, count = float(spec["low"]), float(spec["high"]), int(spec["count"])
        if not 0 < low < high:
            raise ConfigError(f"networks.init_param: need 0 < low < high, got low={low}, high={high}")
        if spec.get("spacing", "log") == "log":
            values = np.geomspace(low, high, count)
        else:
            values = np.linspace(low, high, count)
        return [float(f"{value:.4g}") for value in values]
    return [float(value) for value in spec]


def network_table(config: Mapping[str, Any]) -> pd.DataFrame:
    """One row per network: the full product of the ``networks`` grid.

    ``init_param`` is kept as its formatted string so that paths built from
    the table (Snakemake ``Paramspace``) are stable across platforms.
    """
    grid = config["networks"]
    values = init_param_values(grid["init_param"])
    rows = itertools.product(
        grid["architecture"], grid["hidden_size"], [format_param(v) for v in values], grid["seed"]
    )
    table = pd.DataFrame(list(rows), columns=list(NETWORK_COLUMNS))
    duplicated = table.duplicated()
    if duplicated.any():
        first = table[duplicated].iloc[0].to_dict()
        raise ConfigError(f"networks: the grid repeats a network: {first}")
    return table.astype({"hidden_size": int, "seed": int, "init_param": str})


def network_spec(row: Mapping[str, Any], config: Mapping[str, Any]) -> NetworkSpec:
    """Build a :class:`NetworkSpec` from a network-table row and the config."""
    from lyapunov_rnn.train import NetworkSpec  # torch-free import of this module for the Snakefile

    return NetworkSpec(
        architecture=str(row["architecture"]),
        hidden_size=int(row["hidden_size"]),
        init_param=float(row["init_param"]),
        seed=int(row["seed"]),
        cell_options=dict(config.get("cell_options", {})),
    )


def training_config(config: Mapping[str, Any]) -> TrainingConfig:
    """The ``training`` section as a :class:`TrainingConfig`."""
    from lyapunov_rnn.train import TrainingConfig

    return TrainingConfig(**config["training"])
