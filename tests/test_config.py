import copy
from pathlib import Path

import pytest
import yaml

from lyapunov_rnn.config import ConfigError, format_param, load_config, network_table, validate_config

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def default_config() -> dict:
    return yaml.safe_load((ROOT / "config.yaml").read_text())


def test_default_and_experiment_configs_validate(default_config):
    validate_config(default_config)
    for path in sorted((ROOT / "experiments").glob("*.yaml")):
        load_config(path)


def test_defaults_are_filled(default_config):
    del default_config["training"]["batch_size"]
    config = validate_config(default_config)
    assert config["training"]["batch_size"] == 128
    assert config["lyapunov"]["convention"] == "benettin"


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
    ],
    ids=["wrong-type", "unknown-architecture", "negative-hidden-size", "missing-key", "bad-enum", "typo", "task-key"],
)
def test_bad_config_error_names_the_key(default_config, mutate, key):
    config = copy.deepcopy(default_config)
    mutate(config)
    with pytest.raises(ConfigError, match=key):
        validate_config(config)


def test_init_param_range_and_table(default_config):
    default_config["networks"]["init_param"] = {"low": 0.1, "high": 10, "count": 3}
    table = network_table(validate_config(default_config))
    assert sorted(set(table["init_param"])) == ["0.1", "1", "10"]
    assert len(table) == 3 * len(default_config["networks"]["architecture"])
    default_config["networks"]["init_param"] = {"low": 5, "high": 1, "count": 3}
    with pytest.raises(ConfigError, match="low < high"):
        validate_config(default_config)


def test_format_param_is_stable_and_exact():
    assert format_param(0.1) == "0.1"
    assert format_param(3.0) == "3"
    assert format_param(1e-5) == "0.00001"
    assert float(format_param(12.345678)) == 12.345678
