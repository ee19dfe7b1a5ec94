"""Experiment configuration: the schema check and one typed, frozen view of a config file.

The JSON schema ``workflow/schemas/config.schema.yaml`` (shipped in the
package as ``config.schema.yaml``) is the single source of the configuration's
structure and defaults. :func:`validate_config` checks a dict against it with
:mod:`jsonschema` and fills in the defaults (the workflow calls it from
``workflow/rules/common.smk``); :func:`experiment_config` then builds an
:class:`ExperimentConfig`, one frozen dataclass per section, whose field
names are the config's keys and whose field defaults are read from the schema.
The checks a schema cannot express (the task's own options, a grid without
repeated networks, options that must fit together and with the task's sizes:
:func:`check_consistency`) happen there too, and every error names the key.

No torch here: the Snakemake process imports this module to build the grid.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import json
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from lyapunov_rnn.conventions import canonical_convention, spectrum_size

__all__ = [
    "GRID_TRAINING_OPTIONS",
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
    "aelle_split_sizes",
    "check_consistency",
    "ensemble_key",
    "experiment_config",
    "format_param",
    "load_config",
    "load_schema",
    "network_columns",
    "network_seed",
    "network_specs",
    "network_table",
    "network_training",
    "schema_path",
    "training_groups",
    "training_options",
    "validate_config",
]

#: The columns that identify a network (its path and the input of its seed) in every experiment.
NETWORK_COLUMNS = ("architecture", "hidden_size", "init_param", "replicate")

#: Training options a grid may list to sweep them. They join the identity (before ``replicate``) only in
#: experiments where some grid lists them, so the paths and seeds of the other experiments stay as they were.
GRID_TRAINING_OPTIONS = ("learning_rate", "dropout")


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
    """The schema's default of ``section.key``; lists become tuples (the dataclasses are frozen).

    ``section`` is a top-level property, or ``grid`` for one grid of ``networks``.
    """
    schema = load_schema()
    properties = schema["$defs"][section] if section == "grid" else schema["properties"][section]
    value = properties["properties"][key]["default"]
    return tuple(value) if isinstance(value, list) else value


# --------------------------------------------------------------------------- #
# Sections
# --------------------------------------------------------------------------- #
@dataclass(frozen=True)
class CellOptions:
    """``cell_options``: options of the recurrent cells and of their initialisation.

    ``bias`` and ``input_init`` are one value for every architecture or a
    mapping architecture -> value; :func:`network_specs` resolves them per
    network (see :func:`lyapunov_rnn.models.make_recurrent` and
    :func:`lyapunov_rnn.models.initialize_uniform`).

    Attributes
    ----------
    bias : bool or mapping
        Whether the recurrent layer has biases (PyTorch's default
        initialisation); architectures missing from a mapping have none.
    input_init : str or mapping
        ``"init_param"`` (input weights ~ U(-p, p)) or ``"unit_uniform"``
        (U(0, 1), the reference code's RNN/LSTM/GRU); missing architectures
        use ``"init_param"``.
    asrnn_eps : float
        Antisymmetric RNN: Euler step size.
    asrnn_gamma : float or str
        Antisymmetric RNN: diffusion constant, or ``"init_param"`` for gamma = p.
    cornn_dt, cornn_gamma, cornn_eps : float
        Coupled oscillatory RNN: time step, stiffness and damping.
    """

    bias: bool | Mapping[str, bool] = _default("cell_options", "bias")
    input_init: str | Mapping[str, str] = _default("cell_options", "input_init")
    asrnn_eps: float = _default("cell_options", "asrnn_eps")
    asrnn_gamma: float | str = _default("cell_options", "asrnn_gamma")
    cornn_dt: float = _default("cell_options", "cornn_dt")
    cornn_gamma: float = _default("cell_options", "cornn_gamma")
    cornn_eps: float = _default("cell_options", "cornn_eps")

    def for_network(self, architecture: str, init_param: float) -> tuple[dict[str, Any], str]:
        """The cell options of one network (for ``make_recurrent``) and its input initialisation.

        Per-architecture values are looked up, and ``asrnn_gamma: init_param`` becomes p.
        """
        options = asdict(self)
        input_init = options.pop("input_init")
        if isinstance(input_init, Mapping):
            input_init = input_init.get(architecture, "init_param")
        if isinstance(options["bias"], Mapping):
            options["bias"] = bool(options["bias"].get(architecture, False))
        if options["asrnn_gamma"] == "init_param":
            options["asrnn_gamma"] = float(init_param)
        return options, input_init


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
        Adam step size (of the networks whose grid lists no ``learning_rate``).
    grad_clip : float or None
        Maximum global gradient 2-norm; None disables clipping.
    dropout : float
        Dropout probability before the readout (of the networks whose grid
        lists no ``dropout``).
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
    rounding_check : bool
        Also mark the exponents that rounding amplified by the dynamics sets
        as unresolved (``rounding_check`` of
        :func:`lyapunov_rnn.lyapunov.lyapunov_spectrum`).
    """

    sequences: int = _default("lyapunov", "sequences")
    warmup: int = _default("lyapunov", "warmup")
    k: int | None = _default("lyapunov", "k")
    convention: str = _default("lyapunov", "convention")
    dtype: str = _default("lyapunov", "dtype")
    rounding_check: bool = _default("lyapunov", "rounding_check")


@dataclass(frozen=True)
class AelleConfig:
    """``aelle``: the autoencoder on the spectra and its training (see :mod:`lyapunov_rnn.aelle`).

    Attributes
    ----------
    target : str
        Per-checkpoint variable whose final value is predicted.
    training_fractions : tuple of float
        ``(low, high)``: AeLLE trains on the spectra of the checkpoints whose
        ``training_fraction`` is in this closed range (default all).
    epochs : int
        Training epochs.
    alpha : float or tuple of float
        Weight of the prediction loss, or a schedule (one value per equal
        block of epochs).
    latent_dim : int
        Width of the latent code.
    hidden_dim : int or tuple of int
        Width(s) of the hidden layer(s) of the encoder (the decoder mirrors them).
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
    training_fractions: tuple[float, float] = _default("aelle", "training_fractions")
    epochs: int = _default("aelle", "epochs")
    alpha: float | tuple[float, ...] = _default("aelle", "alpha")
    latent_dim: int = _default("aelle", "latent_dim")
    hidden_dim: int | tuple[int, ...] = _default("aelle", "hidden_dim")
    learning_rate: float = _default("aelle", "learning_rate")
    batch_size: int = _default("aelle", "batch_size")
    dropout: float = _default("aelle", "dropout")
    resample_length: int | None = _default("aelle", "resample_length")
    resample_method: str = _default("aelle", "resample_method")
    split: tuple[float, float, float] = _default("aelle", "split")
    seed: int = _default("aelle", "seed")

    def __post_init__(self) -> None:
        low, high = self.training_fractions
        if not low <= high:
            raise ConfigError(f"aelle.training_fractions: need low <= high, got {list(self.training_fractions)}")
        # YAML gives lists; keep the frozen dataclass hashable and comparable.
        for name in ("alpha", "split", "hidden_dim", "training_fractions"):
            value = getattr(self, name)
            if isinstance(value, list):
                object.__setattr__(self, name, tuple(value))


@dataclass(frozen=True)
class AnalysisConfig:
    """``analysis``: the early-prediction stages, the 2-D embedding and the convergence check.

    Attributes
    ----------
    stages : tuple of float
        Fractions of training at which networks are classified.
    embedding : str
        ``"umap"`` or ``"pca"``.
    convergence_sequences : int or None
        Test sequences that drive one network per architecture in the
        convergence analysis (:mod:`lyapunov_rnn.convergence`); None: 4 x
        ``lyapunov.sequences``, at most the task's test split.
    novel_inputs : bool
        Compute every spectrum a second time from the next, disjoint
        ``lyapunov.sequences`` test sequences and score the early-prediction
        rules fitted on the first on them
        (:mod:`lyapunov_rnn.analysis.generalisation`); needs
        2 x ``lyapunov.sequences`` test sequences.
    """

    stages: tuple[float, ...] = _default("analysis", "stages")
    embedding: str = _default("analysis", "embedding")
    convergence_sequences: int | None = _default("analysis", "convergence_sequences")
    novel_inputs: bool = _default("analysis", "novel_inputs")

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
        Seed of initialisation, data order and dropout; in an experiment,
        derived from the base seed and the network's identity (:func:`network_seed`).
    cell_options : dict
        Keyword arguments of :func:`lyapunov_rnn.models.make_recurrent`
        (``bias``, ``asrnn_eps``, ...), resolved for this network.
    replicate : int
        Which of the independent networks of its grid point (0, 1, ...).
    input_init : str
        ``"init_param"`` or ``"unit_uniform"``, see
        :func:`lyapunov_rnn.models.initialize_uniform`.
    learning_rate, dropout : float or None
        The network's Adam step size and dropout probability: its grid's
        value, else the ``training`` section's (:func:`network_specs` always
        sets both). None: the training settings it is trained with decide
        (:func:`network_training`).
    """

    architecture: str
    hidden_size: int
    init_param: float
    seed: int
    cell_options: dict[str, Any] = field(default_factory=dict)
    replicate: int = 0
    input_init: str = "init_param"
    learning_rate: float | None = None
    dropout: float | None = None


def network_training(spec: NetworkSpec, training: TrainingConfig) -> tuple[NetworkSpec, TrainingConfig]:
    """The spec and the training settings of one network, both with its learning rate and dropout.

    The spec's ``learning_rate`` and ``dropout`` replace the training
    section's; where the spec has None, it takes the section's value. Both
    results then agree, so a checkpoint records what the network trained with.
    """
    options = {name: getattr(spec, name) for name in GRID_TRAINING_OPTIONS}
    resolved = {name: float(getattr(training, name) if value is None else value) for name, value in options.items()}
    return replace(spec, **resolved), replace(training, **resolved)


def format_param(value: float) -> str:
    """Shortest exact decimal for ``value``: stable in file names (0.1 -> '0.1', 3.0 -> '3')."""
    return np.format_float_positional(float(value), trim="-")


def _significant(values: np.ndarray) -> list[float]:
    """``values`` rounded to 4 significant digits (readable, stable paths)."""
    return [float(f"{value:.4g}") for value in values]


def _random_init_params(spec: Mapping[str, Any], low: float, high: float, count: int) -> tuple[float, ...]:
    """``count`` distinct draws of p from U(low, high) or log-uniform, rounded, in draw order.

    Draws that round to an already drawn value are replaced by further draws of
    the same generator, so the result depends on ``seed`` alone and a larger
    ``count`` extends a smaller one.
    """
    rng = np.random.default_rng(int(spec["seed"]))
    log = spec["distribution"] == "loguniform"
    values: dict[float, None] = {}
    while len(values) < count:
        if log:
            draws = np.exp(rng.uniform(np.log(low), np.log(high), count))
        else:
            draws = rng.uniform(low, high, count)
        for value in _significant(draws):
            if len(values) < count:
                values.setdefault(value, None)
    return tuple(values)


def _init_param_values(spec: Sequence[float] | Mapping[str, Any]) -> tuple[float, ...]:
    """Expand the ``networks.init_param`` entry: a list, a grid or random draws (see the schema)."""
    if not isinstance(spec, Mapping):
        return tuple(float(value) for value in spec)
    low, high, count = float(spec["low"]), float(spec["high"]), int(spec["count"])
    if not 0 < low < high:
        raise ConfigError(f"networks.init_param: need 0 < low < high, got low={low}, high={high}")
    if "distribution" in spec:
        return _random_init_params(spec, low, high, count)
    if spec.get("spacing", "log") == "log":
        return tuple(_significant(np.geomspace(low, high, count)))
    return tuple(_significant(np.linspace(low, high, count)))


@dataclass(frozen=True)
class NetworkGrid:
    """``networks``: the grid; every combination of the lists and replicates is one network.

    Attributes
    ----------
    architecture : tuple of str
    hidden_size : tuple of int
    init_param : tuple of float
        The initialisation scales p (a grid or random draws of the config
        are expanded).
    replicates : int
        Independent networks per grid point.
    seed : int
        The experiment's base seed.
    learning_rate, dropout : tuple of float or None
        Adam step sizes and dropout probabilities to sweep; None when the
        grid does not list them (its networks use the ``training`` section's).
    """

    architecture: tuple[str, ...]
    hidden_size: tuple[int, ...]
    init_param: tuple[float, ...]
    replicates: int = _default("grid", "replicates")
    seed: int = _default("grid", "seed")
    learning_rate: tuple[float, ...] | None = None
    dropout: tuple[float, ...] | None = None

    @classmethod
    def from_dict(cls, grid: Mapping[str, Any]) -> NetworkGrid:
        """The grid of a validated ``networks`` section."""
        return cls(
            architecture=tuple(grid["architecture"]),
            hidden_size=tuple(int(size) for size in grid["hidden_size"]),
            init_param=_init_param_values(grid["init_param"]),
            replicates=int(grid["replicates"]),
            seed=int(grid["seed"]),
            **{
                name: tuple(float(value) for value in grid[name])
                for name in GRID_TRAINING_OPTIONS
                if name in grid
            },
        )

    def rows(self, training: TrainingConfig, options: Sequence[str] = ()) -> Iterator[tuple[str | int, ...]]:
        """Every network as ``(architecture, hidden_size, init_param, *options, replicate)``, in grid order.

        Parameters
        ----------
        training : TrainingConfig
            The ``training`` section: the value of an option this grid does not list.
        options : sequence of str
            The :data:`GRID_TRAINING_OPTIONS` that are columns of the network table.

        Returns
        -------
        iterator of tuple
            ``init_param`` and the options formatted by :func:`format_param`.
        """
        params = [format_param(value) for value in self.init_param]
        swept = [[format_param(value) for value in self.values_of(name, training)] for name in options]
        return itertools.product(self.architecture, self.hidden_size, params, *swept, range(self.replicates))

    def values_of(self, option: str, training: TrainingConfig) -> tuple[float, ...]:
        """The values of the training option ``option`` in this grid: its list, else the ``training`` section's."""
        values = getattr(self, option)
        return (getattr(training, option),) if values is None else values


@dataclass(frozen=True)
class ExperimentConfig:
    """A whole experiment configuration, validated, with defaults filled in.

    Attributes
    ----------
    experiment : str
        Name; outputs go to ``results/<experiment>/``.
    task : Mapping
        The task section with its options resolved (see :func:`lyapunov_rnn.tasks.resolve_task`).
    networks : tuple of NetworkGrid
        The grids of the ``networks`` section (one, or one per entry of a list).
    cell_options, training, lyapunov, aelle, analysis
        The sections.
    group_size : int
        ``training.group_size``: networks per training job
        (:func:`training_groups`); kept out of :class:`TrainingConfig`
        because it does not change what a network's training computes (nor
        the checkpoints' fingerprints).
    batched_groups : bool or None
        ``training.arithmetic``: True for ``batched``, False for
        ``networkwise``, None for ``auto`` (batched on CUDA); the ``batched``
        argument of :func:`lyapunov_rnn.ensemble.train_ensemble`. A
        scheduling key as ``group_size``.
    source : Mapping
        The validated dict this was built from (stored in the experiment
        dataset's ``config`` attribute).
    """

    experiment: str
    task: Mapping[str, Any]
    networks: tuple[NetworkGrid, ...]
    cell_options: CellOptions
    training: TrainingConfig
    lyapunov: LyapunovConfig
    aelle: AelleConfig
    analysis: AnalysisConfig
    source: Mapping[str, Any] = field(repr=False, compare=False)
    group_size: int = _default("training", "group_size")
    batched_groups: bool | None = None


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
        raise ConfigError(
            f"{_location(error.absolute_path)}: {error.message}{_closest_match(error)}{_number_hint(error.instance)}"
        )
    return config


def _closest_match(error: Any) -> str:
    """For a value that fits none of a ``oneOf``'s forms, what is wrong with it in the form it comes closest to.

    The closest form is the one of the value's type with the fewest errors:
    ``{low: 1}`` for ``init_param`` is a mapping, so the list form is not
    meant, and of the two mapping forms the grid misses fewer keys:
    ``(closest: 'high' is a required property)``.
    """
    from jsonschema.exceptions import best_match

    if error.validator not in ("oneOf", "anyOf"):
        return ""
    forms: dict[Any, list] = {}
    for suberror in error.context:
        forms.setdefault(suberror.relative_schema_path[0], []).append(suberror)
    candidates = [errors for errors in forms.values() if all(e.validator != "type" for e in errors)]
    if not candidates:
        return ""
    closest = best_match(min(candidates, key=len))
    where = _location(closest.absolute_path)
    return f" (closest: {where + ': ' if where != _location(error.absolute_path) else ''}{closest.message})"


def _number_hint(value: Any) -> str:
    """How to write a number that YAML read as text: YAML 1.1 needs a dot in ``1.0e-3``, and quotes make text."""
    if not isinstance(value, str) or not any(character.isdigit() for character in value):
        return ""
    try:
        float(value)
    except ValueError:
        return ""
    mantissa, _, exponent = value.lower().partition("e")
    if exponent and "." not in mantissa:
        return f" (YAML reads {value} as text: write {mantissa}.0e{exponent})"
    return " (a number in quotes is text: remove the quotes)"


def experiment_config(config: dict[str, Any]) -> ExperimentConfig:
    """Validate a config dict (defaults filled in place) and return its typed view.

    Everything that the configuration and the task's configuration decide is
    checked here, so that the workflow fails before any job: the schema, the
    task's options, the experiment name, repeated networks, and whether the
    options fit together (:func:`check_consistency`).

    Raises
    ------
    ConfigError
        Naming the offending key.
    """
    from lyapunov_rnn.tasks import resolve_task

    validate_config(config)
    name = config["experiment"]
    if set(name) == {"."}:
        raise ConfigError(f"experiment: {name!r} names no directory of its own; outputs go to results/<experiment>/")
    try:
        task = resolve_task(config["task"])
    except ValueError as err:
        raise ConfigError(f"task: {err}") from err
    experiment = ExperimentConfig(
        experiment=name,
        task=task,
        networks=tuple(NetworkGrid.from_dict(grid) for grid in _as_list(config["networks"])),
        cell_options=CellOptions(**config["cell_options"]),
        training=TrainingConfig(**training_options(config["training"])),
        lyapunov=LyapunovConfig(**config["lyapunov"]),
        aelle=AelleConfig(**config["aelle"]),
        analysis=AnalysisConfig(**config["analysis"]),
        source=config,
        group_size=int(config["training"]["group_size"]),
        batched_groups=ARITHMETICS[config["training"]["arithmetic"]],
    )
    check_consistency(experiment)
    return experiment


def check_consistency(experiment: ExperimentConfig) -> None:
    """Raise if the options of an experiment do not fit together, naming the key.

    Checked: no network appears twice; ``lyapunov.k`` is at most every
    network's spectrum size; ``lyapunov.warmup`` leaves a measured step of the
    task's sequences (Benettin convention); the test split holds
    ``lyapunov.sequences`` sequences (twice as many with
    ``analysis.novel_inputs``) and ``analysis.convergence_sequences``; the
    networks fill AeLLE's train, validation and test splits; some checkpoint
    lies in ``aelle.training_fractions``; ``aelle.alpha`` has no more blocks
    than ``aelle.epochs``; midpoint resampling does not have to shorten a
    spectrum. The task's sizes come from its configuration alone
    (:func:`lyapunov_rnn.tasks.task_shape`); the checks that need them are
    skipped for a corpus whose size is known only once it is downloaded
    (the spectra jobs check them then).

    Raises
    ------
    ConfigError
    """
    from lyapunov_rnn.tasks import task_shape

    specs = network_specs(experiment)
    _check_spectrum_sizes(experiment, specs)
    _check_aelle(experiment, len(specs))
    try:
        shape = task_shape(experiment.task)
    except ValueError:
        return
    _check_sequences(experiment, shape.test_size, shape.sequence_length)


def _check_spectrum_sizes(experiment: ExperimentConfig, specs: Sequence[NetworkSpec]) -> None:
    """``lyapunov.k`` against the smallest spectrum; midpoint resampling against the largest."""
    convention = experiment.lyapunov.convention
    sizes = {
        (spec.architecture, spec.hidden_size): spectrum_size(spec.architecture, spec.hidden_size, convention)
        for spec in specs
    }
    k = experiment.lyapunov.k
    (architecture, hidden_size), smallest = min(sizes.items(), key=lambda item: item[1])
    if k is not None and k > smallest:
        raise ConfigError(
            f"lyapunov.k: {k} exponents exceed the {smallest} of a full spectrum of the {architecture} networks "
            f"with hidden_size {hidden_size} ({convention} convention); set k <= {smallest} or null"
        )
    aelle = experiment.aelle
    longest = k if k is not None else max(sizes.values())
    if aelle.resample_method == "midpoint" and aelle.resample_length is not None and aelle.resample_length < longest:
        raise ConfigError(
            f"aelle.resample_length: {aelle.resample_length} is shorter than the longest spectrum ({longest} "
            "exponents), and midpoint resampling cannot shorten one; raise it or set aelle.resample_method: linear"
        )


def _check_aelle(experiment: ExperimentConfig, networks: int) -> None:
    """AeLLE's split of ``networks`` networks, its training checkpoints and its alpha schedule."""
    aelle = experiment.aelle
    split = [float(value) for value in aelle.split]
    if not np.isclose(sum(split), 1.0):
        raise ConfigError(f"aelle.split: the train, validation and test fractions must sum to 1, got {split}")
    for name, size in zip(("train", "validation", "test"), aelle_split_sizes(networks, split), strict=True):
        if size < 1:
            raise ConfigError(
                f"aelle.split: {split} of the {networks} networks leaves the {name} split empty; AeLLE needs at "
                "least one network in each of train, validation and test (at least 3 networks): add networks "
                "or change aelle.split"
            )
    epochs = experiment.training.epochs
    low, high = aelle.training_fractions
    if not any(low - 1e-9 <= epoch / epochs <= high + 1e-9 for epoch in range(epochs + 1)):
        raise ConfigError(
            f"aelle.training_fractions: no checkpoint of the {epochs} epochs (training fractions 0, "
            f"{1 / epochs:.3g}, ..., 1) lies in [{low}, {high}]; AeLLE would have no spectrum to train on"
        )
    blocks = np.atleast_1d(aelle.alpha).size
    if blocks > aelle.epochs:
        raise ConfigError(
            f"aelle.alpha: a schedule of {blocks} blocks needs at least {blocks} aelle.epochs, got {aelle.epochs}"
        )


def aelle_split_sizes(networks: int, split: Sequence[float]) -> tuple[int, int, int]:
    """Numbers of train, validation and test networks of AeLLE's split (:func:`lyapunov_rnn.aelle.split_networks`).

    The validation and test counts are the fractions of ``networks``
    rounded, at least 1, and the test count is capped so that one training
    network remains. A count below 1 means that split is empty: too few
    networks, or a validation fraction that takes them all.

    Parameters
    ----------
    networks : int
        Networks to split.
    split : sequence of float
        Train, validation and test fractions (summing to 1).

    Returns
    -------
    tuple of int
        ``(train, validation, test)``, summing to ``networks``.
    """
    validation = max(1, round(split[1] * networks))
    test = max(0, min(max(1, round(split[2] * networks)), networks - validation - 1))
    return networks - validation - test, validation, test


def _check_sequences(experiment: ExperimentConfig, test_size: int, sequence_length: int) -> None:
    """The warm-up against the sequence length; the driving sequences against the test split."""
    lyapunov, analysis, task = experiment.lyapunov, experiment.analysis, experiment.task["name"]
    # The reference convention caps its warm-up at T and measures the replayed inputs (lyapunov.algorithms).
    if canonical_convention(lyapunov.convention) == "benettin" and lyapunov.warmup >= sequence_length:
        raise ConfigError(
            f"lyapunov.warmup: {lyapunov.warmup} leaves no measured step of the {sequence_length}-step sequences "
            f"of task {task!r}; set it below {sequence_length}"
        )
    if lyapunov.sequences > test_size:
        raise ConfigError(
            f"lyapunov.sequences: {lyapunov.sequences} exceeds the {test_size} test sequences of task {task!r}"
        )
    if analysis.novel_inputs and 2 * lyapunov.sequences > test_size:
        raise ConfigError(
            f"analysis.novel_inputs: needs 2 x lyapunov.sequences = {2 * lyapunov.sequences} test sequences, but "
            f"task {task!r} has {test_size}; lower lyapunov.sequences or set analysis.novel_inputs: false"
        )
    requested = analysis.convergence_sequences
    if requested is not None and requested > test_size:
        raise ConfigError(
            f"analysis.convergence_sequences: {requested} exceeds the {test_size} test sequences of task {task!r}"
        )
    if requested is not None and requested < lyapunov.sequences:
        raise ConfigError(
            f"analysis.convergence_sequences: {requested} is below lyapunov.sequences = {lyapunov.sequences}; the "
            "convergence figure must reach the configured number of sequences"
        )


def load_config(path: str | Path) -> ExperimentConfig:
    """Read a YAML config file, validate it and return its typed view.

    Raises
    ------
    ConfigError
        For a file that is not valid YAML (naming the line and column) or
        whose content is not a valid configuration (naming the key).
    OSError
        If the file cannot be read.
    """
    with open(path) as handle:
        try:
            config = yaml.safe_load(handle)
        except yaml.YAMLError as err:
            raise ConfigError(f"{path}: not valid YAML: {_yaml_problem(err)}") from None
    if not isinstance(config, dict):
        raise ConfigError(f"{path}: the config must be a mapping, got {type(config).__name__}")
    return experiment_config(config)


def _yaml_problem(error: yaml.YAMLError) -> str:
    """One line for a YAML syntax error: where (line and column, from 1) and what, e.g.

    ``line 2, column 2: expected ',' or ']', but got ':' (while parsing a flow sequence from line 1, column 4)``.
    """
    if not isinstance(error, yaml.MarkedYAMLError) or error.problem_mark is None:
        return str(error).replace("\n", " ")
    mark = error.problem_mark
    text = f"line {mark.line + 1}, column {mark.column + 1}: {error.problem}"
    if error.context and error.context_mark is not None:
        start = error.context_mark
        text += f" ({error.context} from line {start.line + 1}, column {start.column + 1})"
    return text


# --------------------------------------------------------------------------- #
# The grid of networks
# --------------------------------------------------------------------------- #
def _as_list(section: Mapping[str, Any] | Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """A ``networks`` section as a list of grids."""
    return [section] if isinstance(section, Mapping) else list(section)


def network_columns(config: ExperimentConfig) -> tuple[str, ...]:
    """The columns of the network table: :data:`NETWORK_COLUMNS`, with the swept training options before ``replicate``.

    An option of :data:`GRID_TRAINING_OPTIONS` is a column when some grid of
    ``networks`` lists it; otherwise every network has the ``training``
    section's value and the column (and with it a path component and a part
    of every seed's input) is left out.
    """
    swept = {name for grid in config.networks for name in GRID_TRAINING_OPTIONS if getattr(grid, name) is not None}
    return _identity_columns(swept)


def _identity_columns(swept: Collection[str]) -> tuple[str, ...]:
    """:data:`NETWORK_COLUMNS` with the options of :data:`GRID_TRAINING_OPTIONS` in ``swept`` before ``replicate``."""
    options = (name for name in GRID_TRAINING_OPTIONS if name in swept)
    return ("architecture", "hidden_size", "init_param", *options, "replicate")


def _grid_rows(config: ExperimentConfig) -> list[tuple[NetworkGrid, dict[str, str | int]]]:
    """Every network of every grid as a row of :func:`network_columns`, with its grid; raises on repeats."""
    columns = network_columns(config)
    options = [name for name in columns if name in GRID_TRAINING_OPTIONS]
    rows = [(grid, row) for grid in config.networks for row in grid.rows(config.training, options)]
    seen: set[tuple] = set()
    for _, row in rows:
        if row in seen:
            raise ConfigError(f"networks: the grid repeats a network: {dict(zip(columns, row, strict=True))}")
        seen.add(row)
    return [(grid, dict(zip(columns, row, strict=True))) for grid, row in rows]


def network_table(config: ExperimentConfig) -> pd.DataFrame:
    """One row per network: the product of each grid of ``networks``, grids in order.

    The columns are :func:`network_columns`. ``init_param``, ``learning_rate``
    and ``dropout`` are kept as strings formatted by :func:`format_param` so
    that paths built from the table (Snakemake ``Paramspace``) are stable
    across platforms.

    Raises
    ------
    ConfigError
        If a network appears twice.
    """
    columns = network_columns(config)
    table = pd.DataFrame([row for _, row in _grid_rows(config)], columns=list(columns))
    formatted = {name: str for name in ("init_param", *GRID_TRAINING_OPTIONS) if name in columns}
    return table.astype({"hidden_size": int, "replicate": int, **formatted})


#: Keys of the ``training`` section that say how jobs are scheduled, not what a network's training computes.
SCHEDULING_KEYS = ("group_size", "gpu", "arithmetic")
#: ``training.arithmetic`` as the ``batched`` argument of :func:`lyapunov_rnn.ensemble.train_ensemble`.
ARITHMETICS = {"auto": None, "networkwise": False, "batched": True}


def training_options(section: Mapping[str, Any]) -> dict[str, Any]:
    """The ``training`` section without its :data:`SCHEDULING_KEYS`: the keyword arguments of TrainingConfig."""
    return {name: value for name, value in section.items() if name not in SCHEDULING_KEYS}


def ensemble_key(spec: NetworkSpec) -> tuple:
    """What networks must share to be trained as one batched computation (one tensor shape, one cell).

    Architecture, hidden size and ``bias`` (which parameters exist). Init
    parameter, input initialisation, seed, learning rate, dropout and the
    cells' scalar constants (``asrnn_gamma``, which the papers set to p,
    ``cornn_dt``, ...) may differ within a group: the batched cells take each
    network's own.
    """
    return (spec.architecture, spec.hidden_size, json.dumps({"bias": spec.cell_options.get("bias")}))


def training_groups(specs: Sequence[NetworkSpec], group_size: int) -> list[list[int]]:
    """Partition networks into training groups of at most ``group_size`` networks.

    Networks with the same :func:`ensemble_key` are taken in the given order
    and cut into consecutive groups; groups come in the order of their first
    network. Groups of one key are balanced (sizes differ by at most one),
    so that 13 networks with ``group_size=12`` make groups of 7 and 6, not
    12 and 1.

    Parameters
    ----------
    specs : sequence of NetworkSpec
        The experiment's networks (:func:`network_specs`).
    group_size : int
        The largest group, >= 1.

    Returns
    -------
    list of list of int
        Indices into ``specs``, one list per group.
    """
    if group_size < 1:
        raise ValueError(f"training.group_size must be >= 1, got {group_size}")
    by_key: dict[tuple, list[int]] = {}
    for index, spec in enumerate(specs):
        by_key.setdefault(ensemble_key(spec), []).append(index)
    groups = []
    for members in by_key.values():
        count = -(-len(members) // group_size)
        bounds = [round(i * len(members) / count) for i in range(count + 1)]
        groups.extend(members[start:stop] for start, stop in itertools.pairwise(bounds))
    return sorted(groups, key=lambda group: group[0])


def network_specs(config: ExperimentConfig) -> list[NetworkSpec]:
    """The :class:`NetworkSpec` of every network, in the order of :func:`network_table`."""
    return [_spec(row, grid.seed, config) for grid, row in _grid_rows(config)]


def network_seed(base_seed: int, identity: Mapping[str, Any]) -> int:
    """The seed of one network: a hash of the experiment's base seed and the network's identity.

    Parameters
    ----------
    base_seed : int
        ``networks.seed``.
    identity : mapping
        The network's :data:`NETWORK_COLUMNS` and, in experiments that sweep
        them, its :data:`GRID_TRAINING_OPTIONS` (values as in the network
        table: ``init_param``, ``learning_rate`` and ``dropout`` formatted by
        :func:`format_param`). Other keys are ignored.

    Returns
    -------
    int
        In [0, 2**63): the first 8 bytes of the SHA-256 of
        ``"<base_seed>|architecture=...|hidden_size=...|init_param=...|replicate=..."``,
        with ``|learning_rate=...`` and ``|dropout=...`` before ``|replicate``
        when the identity has them. Independent of every other network of
        the grid, so adding or removing networks never changes a network's
        weights.
    """
    key = "|".join([str(int(base_seed)), *(f"{name}={identity[name]}" for name in _identity_columns(identity))])
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "little") >> 1


def _spec(row: Mapping[str, Any], base_seed: int, config: ExperimentConfig) -> NetworkSpec:
    """The :class:`NetworkSpec` of one network-table row of a grid with ``base_seed``.

    Training options that are no column of the table take the ``training`` section's value.
    """
    training = config.training
    options = {name: float(row[name] if name in row else getattr(training, name)) for name in GRID_TRAINING_OPTIONS}
    identity = {
        "architecture": str(row["architecture"]),
        "hidden_size": int(row["hidden_size"]),
        "init_param": format_param(float(row["init_param"])),
        **{name: format_param(value) for name, value in options.items() if name in row},
        "replicate": int(row["replicate"]),
    }
    init_param = float(row["init_param"])
    cell_options, input_init = config.cell_options.for_network(identity["architecture"], init_param)
    return NetworkSpec(
        architecture=identity["architecture"],
        hidden_size=identity["hidden_size"],
        init_param=init_param,
        seed=network_seed(base_seed, identity),
        cell_options=cell_options,
        replicate=identity["replicate"],
        input_init=input_init,
        **options,
    )
