"""Experiment configuration: the schema check and one typed, frozen view of a config file.

The JSON schema ``workflow/schemas/config.schema.yaml`` (shipped in the
package as ``config.schema.yaml``) is the single source of the configuration's
structure and defaults. :func:`validate_config` checks a dict against it with
:mod:`jsonschema` and fills in the defaults (the Snakefile does the same with
Snakemake's ``validate``); :func:`experiment_config` then builds an
:class:`ExperimentConfig`, one frozen dataclass per section, whose field
names are the config's keys and whose field defaults are read from the schema.
The checks a schema cannot express (the task's own options, a grid without
repeated networks) happen there too, and every error names the key.

No torch here: the Snakemake process imports this module to build the grid.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

__all__ = [
    "NETWORK_COLUMNS",
    "AelleConfig",
    "AnalysisConfig",
    "CellOptions",
    "ConfigError",
    "ExperimentConfig",
    "LyapunovConfig",
    "NetworkGrid",
    "NetworkSpec",
    "TrainingConfig",
    "experiment_config",
    "format_param",
    "load_config",
    "load_schema",
    "network_spec",
    "network_table",
    "schema_path",
    "validate_config",
]

NETWORK_COLUMNS = ("architecture", "hidden_size", "init_param", "seed")


class ConfigError(ValueError):
    """A configuration value is missing or invalid; the message names the key."""


def schema_path() -> Path:
    """Path of the JSON schema (YAML) shipped with the workflow."""
    return Path(str(resources.files("lyapunov_rnn") / "config.schema.yaml"))


@functools.cache
def load_schema() -> Mapping[str, Any]:
    """The configuration schema as a dict (read once per process)."""
    with open(schema_path()) as handle:
        return yaml.safe_load(handle)


def _default(section: str, key: str) -> Any:
    """The schema's default of ``section.key``; lists become tuples (the dataclasses are frozen)."""
    value = load_schema()["properties"][section]["properties"][key]["default"]
    return tuple(value) if isinstance(value, list) else value


# --------------------------------------------------------------------------- #
# Sections
# --------------------------------------------------------------------------- #
@dataclass(frozen=True)
class CellOptions:
    """``cell_options``: options of the recurrent cells (see :func:`lyapunov_rnn.models.make_recurrent`).

    Attributes
    ----------
    bias : bool
        Whether the recurrent layer has biases.
    asrnn_eps, asrnn_gamma : float
        Antisymmetric RNN: Euler step size and diffusion constant.
    cornn_dt, cornn_gamma, cornn_eps : float
        Coupled oscillatory RNN: time step, stiffness and damping.
    """

    bias: bool = _default("cell_options", "bias")
    asrnn_eps: float = _default("cell_options", "asrnn_eps")
    asrnn_gamma: float = _default("cell_options", "asrnn_gamma")
    cornn_dt: float = _default("cell_options", "cornn_dt")
    cornn_gamma: float = _default("cell_options", "cornn_gamma")
    cornn_eps: float = _default("cell_options", "cornn_eps")


@dataclass(frozen=True)
class TrainingConfig:
    """``training``: optimisation settings shared by all networks of an experiment.

    Attributes
    ----------
    epochs : int
        Number of passes over the training set (checkpoints: epochs + 1).
    batch_size : int
        Mini-batch size (sequences).
    learning_rate : float
        Adam step size.
    grad_clip : float or None
        Maximum global gradient 2-norm; None disables clipping.
    dropout : float
        Dropout probability before the readout.
    """

    epochs: int
    batch_size: int = _default("training", "batch_size")
    learning_rate: float = _default("training", "learning_rate")
    grad_clip: float | None = _default("training", "grad_clip")
    dropout: float = _default("training", "dropout")


@dataclass(frozen=True)
class LyapunovConfig:
    """``lyapunov``: how the spectrum of each checkpoint is computed.

    Attributes
    ----------
    sequences : int
        Number of test sequences whose spectra are averaged.
    warmup : int
        Time steps that advance the state before exponents are measured.
    k : int or None
        Number of exponents (None: the full state).
    convention : str
        ``"benettin"`` or ``"reference"`` (alias ``"aelle"``), see
        :mod:`lyapunov_rnn.conventions`.
    dtype : str
        ``"float32"`` or ``"float64"``, the compute precision.
    """

    sequences: int = _default("lyapunov", "sequences")
    warmup: int = _default("lyapunov", "warmup")
    k: int | None = _default("lyapunov", "k")
    convention: str = _default("lyapunov", "convention")
    dtype: str = _default("lyapunov", "dtype")


@dataclass(frozen=True)
class AelleConfig:
    """``aelle``: the autoencoder on the spectra and its training (see :mod:`lyapunov_rnn.aelle`).

    Attributes
    ----------
    target : str
        Per-checkpoint variable whose final value is predicted.
    epochs : int
        Training epochs.
    alpha : float or tuple of float
        Weight of the prediction loss, or a schedule (one value per equal
        block of epochs).
    latent_dim, hidden_dim : int
        Widths of the latent code and of the hidden layers.
    learning_rate : float
        Adam step size.
    batch_size : int
        Samples (network, checkpoint spectra) per batch.
    dropout : float
        Dropout after the hidden activations.
    resample_length : int or None
        Common spectrum length (None: the longest spectrum).
    resample_method : str
        ``"midpoint"`` or ``"linear"``, see :func:`lyapunov_rnn.aelle.resample_spectra`.
    split : tuple of float
        Train, validation and test fractions of the networks.
    seed : int
        Seeds the split, initialisation, dropout and batch order.
    """

    target: str = _default("aelle", "target")
    epochs: int = _default("aelle", "epochs")
    alpha: float | tuple[float, ...] = _default("aelle", "alpha")
    latent_dim: int = _default("aelle", "latent_dim")
    hidden_dim: int = _default("aelle", "hidden_dim")
    learning_rate: float = _default("aelle", "learning_rate")
    batch_size: int = _default("aelle", "batch_size")
    dropout: float = _default("aelle", "dropout")
    resample_length: int | None = _default("aelle", "resample_length")
    resample_method: str = _default("aelle", "resample_method")
    split: tuple[float, float, float] = _default("aelle", "split")
    seed: int = _default("aelle", "seed")

    def __post_init__(self) -> None:
        # YAML gives lists; keep the frozen dataclass hashable and comparable.
        for name in ("alpha", "split"):
            value = getattr(self, name)
            if isinstance(value, list):
                object.__setattr__(self, name, tuple(value))


@dataclass(frozen=True)
class AnalysisConfig:
    """``analysis``: the early-prediction stages and the 2-D embedding.

    Attributes
    ----------
    stages : tuple of float
        Fractions of training at which networks are classified.
    embedding : str
        ``"umap"`` or ``"pca"``.
    """

    stages: tuple[float, ...] = _default("analysis", "stages")
    embedding: str = _default("analysis", "embedding")

    def __post_init__(self) -> None:
        object.__setattr__(self, "stages", tuple(self.stages))


@dataclass(frozen=True)
class NetworkSpec:
    """What distinguishes one network of a sweep.

    Attributes
    ----------
    architecture : str
        ``rnn``, ``lstm``, ``gru``, ``asrnn`` or ``cornn``.
    hidden_size : int
        Number of hidden units N.
    init_param : float
        Weights of the recurrent layer are drawn from U(-p, p), p = init_param.
    seed : int
        Seed of initialisation, data order and dropout.
    cell_options : dict
        Extra cell arguments (the fields of :class:`CellOptions`).
    """

    architecture: str
    hidden_size: int
    init_param: float
    seed: int
    cell_options: dict[str, Any] = field(default_factory=dict)


def format_param(value: float) -> str:
    """Shortest exact decimal for ``value``: stable in file names (0.1 -> '0.1', 3.0 -> '3')."""
    return np.format_float_positional(float(value), trim="-")


def _init_param_values(spec: Sequence[float] | Mapping[str, Any]) -> tuple[float, ...]:
    """Expand the ``networks.init_param`` entry: a list, or ``{low, high, count, spacing}``.

    Values of a range are rounded to 4 significant digits so that paths stay readable.
    """
    if isinstance(spec, Mapping):
        low, high, count = float(spec["low"]), float(spec["high"]), int(spec["count"])
        if not 0 < low < high:
            raise ConfigError(f"networks.init_param: need 0 < low < high, got low={low}, high={high}")
        if spec.get("spacing", "log") == "log":
            values = np.geomspace(low, high, count)
        else:
            values = np.linspace(low, high, count)
        return tuple(float(f"{value:.4g}") for value in values)
    return tuple(float(value) for value in spec)


@dataclass(frozen=True)
class NetworkGrid:
    """``networks``: the grid; every combination of the four lists is one network.

    Attributes
    ----------
    architecture : tuple of str
    hidden_size : tuple of int
    init_param : tuple of float
        The initialisation scales p (a ``{low, high, count, spacing}`` range
        of the config is expanded).
    seed : tuple of int
    """

    architecture: tuple[str, ...]
    hidden_size: tuple[int, ...]
    init_param: tuple[float, ...]
    seed: tuple[int, ...]

    @classmethod
    def from_dict(cls, grid: Mapping[str, Any]) -> NetworkGrid:
        """The grid of a validated ``networks`` section."""
        return cls(
            architecture=tuple(grid["architecture"]),
            hidden_size=tuple(int(size) for size in grid["hidden_size"]),
            init_param=_init_param_values(grid["init_param"]),
            seed=tuple(int(seed) for seed in grid["seed"]),
        )

    def rows(self) -> Iterator[tuple[str, int, str, int]]:
        """Every network as ``(architecture, hidden_size, formatted init_param, seed)``, in grid order."""
        params = [format_param(value) for value in self.init_param]
        return itertools.product(self.architecture, self.hidden_size, params, self.seed)


@dataclass(frozen=True)
class ExperimentConfig:
    """A whole experiment configuration, validated, with defaults filled in.

    Attributes
    ----------
    experiment : str
        Name; outputs go to ``results/<experiment>/``.
    task : Mapping
        The task section with its options resolved (see :func:`lyapunov_rnn.tasks.resolve_task`).
    networks, cell_options, training, lyapunov, aelle, analysis
        The sections.
    source : Mapping
        The validated dict this was built from (stored in the experiment
        dataset's ``config`` attribute).
    """

    experiment: str
    task: Mapping[str, Any]
    networks: NetworkGrid
    cell_options: CellOptions
    training: TrainingConfig
    lyapunov: LyapunovConfig
    aelle: AelleConfig
    analysis: AnalysisConfig
    source: Mapping[str, Any] = field(repr=False, compare=False)


# --------------------------------------------------------------------------- #
# Validation
# --------------------------------------------------------------------------- #
def _location(path: Sequence[Any]) -> str:
    """``networks.hidden_size[0]`` for the path ``('networks', 'hidden_size', 0)``."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else f".{part}" if text else str(part)
    return text or "config"


def _validator_with_defaults() -> type:
    """The schema's validator class, extended to fill in defaults (the jsonschema FAQ recipe).

    Defaults are set only on mappings: a wrong type (a list where a mapping
    belongs) is then reported by the validator instead of crashing it.
    """
    from jsonschema import Draft202012Validator, validators

    validate_properties = Draft202012Validator.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for name, subschema in properties.items():
                if "default" in subschema:
                    instance.setdefault(name, subschema["default"])
        yield from validate_properties(validator, properties, instance, schema)

    return validators.extend(Draft202012Validator, {"properties": set_defaults})


def validate_config(config: dict[str, Any]) -> dict[str, Any]:
    """Validate ``config`` against the schema and fill in its defaults, in place.

    Returns
    -------
    dict
        ``config``.

    Raises
    ------
    ConfigError
        Naming the offending key, e.g. ``networks.hidden_size[0]: -4 is less
        than the minimum of 1``.
    """
    from jsonschema.exceptions import best_match

    if not isinstance(config, dict):
        raise ConfigError(f"the config must be a mapping, got {type(config).__name__}")
    error = best_match(_validator_with_defaults()(load_schema()).iter_errors(config))
    if error is not None:
        raise ConfigError(f"{_location(error.absolute_path)}: {error.message}")
    return config


def experiment_config(config: dict[str, Any]) -> ExperimentConfig:
    """Validate a config dict (defaults filled in place) and return its typed view.

    Raises
    ------
    ConfigError
        Naming the offending key: schema violations, invalid task options, a
        grid that repeats a network.
    """
    from lyapunov_rnn.tasks import resolve_task

    validate_config(config)
    try:
        task = resolve_task(config["task"])
    except ValueError as err:
        raise ConfigError(f"task: {err}") from err
    experiment = ExperimentConfig(
        experiment=config["experiment"],
        task=task,
        networks=NetworkGrid.from_dict(config["networks"]),
        cell_options=CellOptions(**config["cell_options"]),
        training=TrainingConfig(**config["training"]),
        lyapunov=LyapunovConfig(**config["lyapunov"]),
        aelle=AelleConfig(**config["aelle"]),
        analysis=AnalysisConfig(**config["analysis"]),
        source=config,
    )
    network_table(experiment)
    return experiment


def load_config(path: str | Path) -> ExperimentConfig:
    """Read a YAML config file, validate it and return its typed view."""
    with open(path) as handle:
        config = yaml.safe_load(handle)
    if not isinstance(config, dict):
        raise ConfigError(f"{path}: the config must be a mapping, got {type(config).__name__}")
    return experiment_config(config)


# --------------------------------------------------------------------------- #
# The grid of networks
# --------------------------------------------------------------------------- #
def network_table(config: ExperimentConfig | NetworkGrid) -> pd.DataFrame:
    """One row per network: the full product of the ``networks`` grid.

    ``init_param`` is kept as its formatted string so that paths built from
    the table (Snakemake ``Paramspace``) are stable across platforms.

    Raises
    ------
    ConfigError
        If the grid repeats a network.
    """
    grid = config.networks if isinstance(config, ExperimentConfig) else config
    table = pd.DataFrame(list(grid.rows()), columns=list(NETWORK_COLUMNS))
    duplicated = table.duplicated()
    if duplicated.any():
        first = table[duplicated].iloc[0].to_dict()
        raise ConfigError(f"networks: the grid repeats a network: {first}")
    return table.astype({"hidden_size": int, "seed": int, "init_param": str})


def network_spec(row: Mapping[str, Any], cell_options: CellOptions) -> NetworkSpec:
    """The :class:`NetworkSpec` of a network-table row (values may be strings, as in Snakemake wildcards)."""
    return NetworkSpec(
        architecture=str(row["architecture"]),
        hidden_size=int(row["hidden_size"]),
        init_param=float(row["init_param"]),
        seed=int(row["seed"]),
        cell_options=asdict(cell_options),
    )
