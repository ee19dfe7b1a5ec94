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
    TrainingConfig,
    experiment_config,
    format_param,
    load_config,
    load_schema,
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
    architectures = properties["networks"]["properties"]["architecture"]["items"]["enum"]
    assert tuple(architectures) == ARCHITECTURES
    assert set(properties["lyapunov"]["properties"]["convention"]["enum"]) == {*CONVENTIONS, *ALIASES}


def test_typed_sections_equal_the_dict(default_config):
    config = experiment_config(default_config)
    assert config.training == TrainingConfig(**default_config["training"])
    assert config.aelle.alpha == tuple(default_config["aelle"]["alpha"])
    assert config.networks.init_param[0] == default_config["networks"]["init_param"][0]
    assert config.task["source"] == "embedded" and config.task["subset"] is None  # task defaults resolved
    assert config.source is default_config
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.training.epochs = 3
