import copy
import dataclasses
from pathlib import Path

import pytest
import yaml

from lyapunov_rnn.config import (
    AelleConfig,
    AnalysisConfig,
    CellOptions,
    ConfigError,
    ExperimentConfig,
    LyapunovConfig,
    NetworkSpec,
    TrainingConfig,
    experiment_config,
    format_param,
    load_config,
    load_schema,
    network_seed,
    network_specs,
    network_table,
)
from lyapunov_rnn.conventions import ALIASES, CONVENTIONS
from lyapunov_rnn.models import ARCHITECTURES

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def default_config() -> dict:
    return yaml.safe_load((ROOT / "config.yaml").read_text())


def test_default_and_experiment_configs_validate(default_config):
    assert isinstance(experiment_config(default_config), ExperimentConfig)
    for path in sorted((ROOT / "experiments").glob("*.yaml")):
        load_config(path)


def test_defaults_are_filled(default_config):
    del default_config["training"]["batch_size"]
    config = experiment_config(default_config)
    assert config.training.batch_size == 128
    assert config.lyapunov.convention == "benettin"
    assert default_config["training"]["batch_size"] == 128  # filled in place, as Snakemake's validate does


@pytest.mark.parametrize(
    "mutate, key",
    [
        (lambda c: c["training"].__setitem__("epochs", "ten"), "epochs"),
        (lambda c: c["networks"].__setitem__("architecture", ["lstm", "transformer"]), "transformer"),
        (lambda c: c["networks"].__setitem__("hidden_size", [-4]), "hidden_size"),
        (lambda c: c.pop("training"), "training"),
        (lambda c: c["lyapunov"].__setitem__("convention", "qr"), "convention"),
        (lambda c: c["training"].__setitem__("learnin_rate", 0.1), "learnin_rate"),
        (lambda c: c["task"].__setitem__("test_fractoin", 0.1), "test_fractoin"),
        (lambda c: c["task"].__setitem__("name", "mnist"), "name"),
    ],
    ids=[
        "wrong-type", "unknown-architecture", "negative-hidden-size", "missing-key", "bad-enum", "typo", "task-key",
        "unknown-task",
    ],
)
def test_bad_config_error_names_the_key(default_config, mutate, key):
    config = copy.deepcopy(default_config)
    mutate(config)
    with pytest.raises(ConfigError, match=key):
        experiment_config(config)


def test_init_param_range_and_table(default_config):
    default_config["networks"]["init_param"] = {"low": 0.1, "high": 10, "count": 3}
    table = network_table(experiment_config(default_config))
    assert sorted(set(table["init_param"])) == ["0.1", "1", "10"]
    assert len(table) == 3 * len(default_config["networks"]["architecture"])
    default_config["networks"]["init_param"] = {"low": 5, "high": 1, "count": 3}
    with pytest.raises(ConfigError, match="low < high"):
        experiment_config(default_config)


def test_format_param_is_stable_and_exact():
    assert format_param(0.1) == "0.1"
    assert format_param(3.0) == "3"
    assert format_param(1e-5) == "0.00001"
    assert float(format_param(12.345678)) == 12.345678


@pytest.mark.parametrize(
    "section, cls",
    [
        ("cell_options", CellOptions),
        ("training", TrainingConfig),
        ("lyapunov", LyapunovConfig),
        ("aelle", AelleConfig),
        ("analysis", AnalysisConfig),
    ],
)
def test_sections_have_the_schema_keys_and_defaults(section, cls):
    """One name per option: the dataclass fields are the schema's keys, their defaults the schema's."""
    properties = load_schema()["properties"][section]["properties"]
    fields = {field.name: field for field in dataclasses.fields(cls)}
    assert set(fields) == set(properties)
    for name, schema in properties.items():
        if "default" in schema:
            default = schema["default"]
            expected = tuple(default) if isinstance(default, list) else default
            assert fields[name].default == expected, name


def test_schema_enums_match_the_library():
    properties = load_schema()["properties"]
    architectures = load_schema()["$defs"]["grid"]["properties"]["architecture"]["items"]["enum"]
    assert tuple(architectures) == ARCHITECTURES
    assert set(properties["lyapunov"]["properties"]["convention"]["enum"]) == {*CONVENTIONS, *ALIASES}


def test_typed_sections_equal_the_dict(default_config):
    config = experiment_config(default_config)
    assert config.training == TrainingConfig(**default_config["training"])
    assert config.aelle.alpha == tuple(default_config["aelle"]["alpha"])
    assert config.networks[0].init_param[0] == default_config["networks"]["init_param"][0]
    assert config.task["source"] == "embedded" and config.task["subset"] is None  # task defaults resolved
    assert config.source is default_config
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.training.epochs = 3


def _specs(config: dict) -> dict[tuple, NetworkSpec]:
    specs = network_specs(experiment_config(copy.deepcopy(config)))
    return {(spec.architecture, spec.hidden_size, spec.init_param, spec.replicate): spec for spec in specs}


def test_network_seeds_are_distinct_and_stable_under_grid_changes(default_config):
    specs = _specs(default_config)
    seeds = [spec.seed for spec in specs.values()]
    assert len(set(seeds)) == len(seeds) == 36
    assert all(0 <= seed < 2**63 for seed in seeds)
    assert _specs(default_config) == specs  # deterministic

    # Removing an architecture and some p, adding others: the networks that remain keep their seeds.
    changed = copy.deepcopy(default_config)
    changed["networks"]["architecture"] = ["gru", "asrnn"]
    changed["networks"]["init_param"] = [0.1, 0.3, 7.5]
    for key, spec in _specs(changed).items():
        if key in specs:
            assert spec.seed == specs[key].seed, key
    assert (("gru", 32, 0.1, 0) in specs) and (("gru", 32, 0.1, 0) in _specs(changed))

    replicated = copy.deepcopy(default_config)
    replicated["networks"]["replicates"] = 3
    more = _specs(replicated)
    assert len(more) == 3 * 36 and len({spec.seed for spec in more.values()}) == 3 * 36
    assert all(more[key].seed == spec.seed for key, spec in specs.items())  # replicate 0 is the network of before

    reseeded = copy.deepcopy(default_config)
    reseeded["networks"]["seed"] = 1
    assert not {spec.seed for spec in _specs(reseeded).values()} & set(seeds)


def test_network_seed_hashes_the_whole_identity():
    identity = {"architecture": "lstm", "hidden_size": 64, "init_param": "0.5", "replicate": 0}
    seed = network_seed(0, identity)
    for key, other in (("architecture", "gru"), ("hidden_size", 32), ("init_param", "0.51"), ("replicate", 1)):
        assert network_seed(0, {**identity, key: other}) != seed, key
    assert network_seed(1, identity) != seed
    assert network_seed(0, dict(identity)) == seed


@pytest.mark.parametrize("distribution", ["uniform", "loguniform"])
def test_random_init_params_are_reproducible_distinct_and_in_range(default_config, distribution):
    spec = {"distribution": distribution, "low": 0.1, "high": 30, "count": 200, "seed": 0}
    default_config["networks"]["init_param"] = spec
    values = experiment_config(copy.deepcopy(default_config)).networks[0].init_param
    assert len(values) == len(set(values)) == 200
    assert all(0.1 <= value <= 30 for value in values)
    assert all(float(f"{value:.4g}") == value for value in values)  # 4 significant digits
    default_config["networks"]["init_param"] = {**spec, "count": 50}
    assert experiment_config(copy.deepcopy(default_config)).networks[0].init_param == values[:50]
    default_config["networks"]["init_param"] = {**spec, "seed": 1}
    assert experiment_config(copy.deepcopy(default_config)).networks[0].init_param != values
    # The draws follow the distribution: about half below the median of U(0.1, 30) or of the log-uniform.
    median = (0.1 + 30) / 2 if distribution == "uniform" else (0.1 * 30) ** 0.5
    assert 70 < sum(value < median for value in values) < 130


def test_old_seed_lists_are_rejected_naming_the_key(default_config):
    default_config["networks"]["seed"] = [0]
    with pytest.raises(ConfigError, match=r"networks\.seed"):
        experiment_config(default_config)


def test_cell_options_are_resolved_per_network(default_config):
    default_config["networks"]["architecture"] = ["rnn", "asrnn", "cornn"]
    default_config["cell_options"] = {
        "bias": {"asrnn": True, "cornn": True},
        "input_init": {"rnn": "unit_uniform"},
        "asrnn_gamma": "init_param",
    }
    specs = _specs(default_config)
    rnn, asrnn, cornn = (specs[(arch, 32, 0.5, 0)] for arch in ("rnn", "asrnn", "cornn"))
    assert (rnn.cell_options["bias"], asrnn.cell_options["bias"], cornn.cell_options["bias"]) == (False, True, True)
    assert (rnn.input_init, asrnn.input_init, cornn.input_init) == ("unit_uniform", "init_param", "init_param")
    assert asrnn.cell_options["asrnn_gamma"] == 0.5 and specs[("asrnn", 32, 8.0, 0)].cell_options["asrnn_gamma"] == 8
    assert "input_init" not in asrnn.cell_options  # the cell options are make_recurrent's arguments
    default_config["cell_options"] = {"asrnn_gamma": "p"}
    with pytest.raises(ConfigError, match="asrnn_gamma"):
        experiment_config(default_config)


def test_networks_may_be_a_list_of_grids(default_config):
    default_config["networks"] = [
        {"architecture": ["rnn", "gru"], "hidden_size": [8], "init_param": [0.5, 1.0]},
        {"architecture": ["asrnn"], "hidden_size": [8], "init_param": [0.5, 40.0], "replicates": 2},
    ]
    config = experiment_config(copy.deepcopy(default_config))
    assert [grid.replicates for grid in config.networks] == [1, 2]
    table = network_table(config)
    assert len(table) == 2 * 2 + 2 * 2
    assert table["architecture"].tolist() == ["rnn"] * 2 + ["gru"] * 2 + ["asrnn"] * 4
    single = copy.deepcopy(default_config)
    single["networks"] = default_config["networks"][1]
    # A network's seed depends on its grid's base seed and identity only, not on the other grids.
    asrnn = {spec.seed for spec in network_specs(config) if spec.architecture == "asrnn"}
    assert asrnn == {spec.seed for spec in network_specs(experiment_config(single))}
    default_config["networks"].append({"architecture": ["gru"], "hidden_size": [8], "init_param": [1.0]})
    with pytest.raises(ConfigError, match="repeats a network"):
        experiment_config(default_config)
