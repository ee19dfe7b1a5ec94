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
    network_training,
    training_groups,
    training_options,
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
    if section == "training":  # the scheduling keys are the experiment's (ExperimentConfig.group_size), not training's
        properties = training_options(properties)
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
    assert config.training == TrainingConfig(**training_options(default_config["training"]))
    assert config.group_size == default_config["training"]["group_size"] == 12
    assert config.batched_groups is None and default_config["training"]["arithmetic"] == "auto"
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


# --------------------------------------------------------------------------- #
# Grids that sweep the learning rate and dropout
# --------------------------------------------------------------------------- #
#: The network ids (Snakemake Paramspace wildcards) and derived seeds of config.yaml, computed with the code
#: before grids could sweep learning_rate and dropout: experiments that do not sweep them keep paths and seeds.
DEFAULT_NETWORK_IDS_AND_SEEDS = [
    ('architecture~rnn_hidden_size~32_init_param~0.02_replicate~0', 3873752457818586458),
    ('architecture~rnn_hidden_size~32_init_param~0.05_replicate~0', 6307274081855986644),
    ('architecture~rnn_hidden_size~32_init_param~0.1_replicate~0', 3586354804699612359),
    ('architecture~rnn_hidden_size~32_init_param~0.2_replicate~0', 1074543060895659392),
    ('architecture~rnn_hidden_size~32_init_param~0.3_replicate~0', 281313450036343189),
    ('architecture~rnn_hidden_size~32_init_param~0.5_replicate~0', 799227126858252080),
    ('architecture~rnn_hidden_size~32_init_param~0.8_replicate~0', 770858195289897593),
    ('architecture~rnn_hidden_size~32_init_param~1.2_replicate~0', 8187085782507838971),
    ('architecture~rnn_hidden_size~32_init_param~2_replicate~0', 4600729901905887008),
    ('architecture~rnn_hidden_size~32_init_param~3_replicate~0', 5834272321506219093),
    ('architecture~rnn_hidden_size~32_init_param~5_replicate~0', 1394473466793506273),
    ('architecture~rnn_hidden_size~32_init_param~8_replicate~0', 8478354885823962121),
    ('architecture~lstm_hidden_size~32_init_param~0.02_replicate~0', 6511522529482633678),
    ('architecture~lstm_hidden_size~32_init_param~0.05_replicate~0', 2306483970687582684),
    ('architecture~lstm_hidden_size~32_init_param~0.1_replicate~0', 9221317009165081767),
    ('architecture~lstm_hidden_size~32_init_param~0.2_replicate~0', 2667067593147000686),
    ('architecture~lstm_hidden_size~32_init_param~0.3_replicate~0', 134153137965126034),
    ('architecture~lstm_hidden_size~32_init_param~0.5_replicate~0', 518715218397891712),
    ('architecture~lstm_hidden_size~32_init_param~0.8_replicate~0', 6237102587174975644),
    ('architecture~lstm_hidden_size~32_init_param~1.2_replicate~0', 6509312883247838662),
    ('architecture~lstm_hidden_size~32_init_param~2_replicate~0', 6532315410151058426),
    ('architecture~lstm_hidden_size~32_init_param~3_replicate~0', 3290996810393583235),
    ('architecture~lstm_hidden_size~32_init_param~5_replicate~0', 5789445060019566846),
    ('architecture~lstm_hidden_size~32_init_param~8_replicate~0', 5393205889628275844),
    ('architecture~gru_hidden_size~32_init_param~0.02_replicate~0', 7555073438902288255),
    ('architecture~gru_hidden_size~32_init_param~0.05_replicate~0', 9072853954517069012),
    ('architecture~gru_hidden_size~32_init_param~0.1_replicate~0', 2203092198129346486),
    ('architecture~gru_hidden_size~32_init_param~0.2_replicate~0', 1926798144055799255),
    ('architecture~gru_hidden_size~32_init_param~0.3_replicate~0', 6547007439005463755),
    ('architecture~gru_hidden_size~32_init_param~0.5_replicate~0', 5705142604956632972),
    ('architecture~gru_hidden_size~32_init_param~0.8_replicate~0', 3269127167731662096),
    ('architecture~gru_hidden_size~32_init_param~1.2_replicate~0', 6416484201309182587),
    ('architecture~gru_hidden_size~32_init_param~2_replicate~0', 4168812069691880320),
    ('architecture~gru_hidden_size~32_init_param~3_replicate~0', 6406018679838036371),
    ('architecture~gru_hidden_size~32_init_param~5_replicate~0', 6013849195434513961),
    ('architecture~gru_hidden_size~32_init_param~8_replicate~0', 5624184281620977602),
]


def test_default_network_ids_and_seeds_are_unchanged(default_config):
    from snakemake.utils import Paramspace

    config = experiment_config(default_config)
    table = network_table(config)
    assert list(table.columns) == ["architecture", "hidden_size", "init_param", "replicate"]
    ids = list(Paramspace(table, filename_params="*", single_wildcard="network").instance_patterns)
    seeds = [spec.seed for spec in network_specs(config)]
    assert list(zip(ids, seeds, strict=True)) == DEFAULT_NETWORK_IDS_AND_SEEDS


def test_grids_may_sweep_learning_rate_and_dropout(default_config):
    default_config["training"].update(learning_rate=0.01, dropout=0.1)
    default_config["networks"] = [
        {"architecture": ["rnn"], "hidden_size": [8], "init_param": [0.5, 2.0], "learning_rate": [0.001, 0.1]},
        {"architecture": ["lstm"], "hidden_size": [8], "init_param": [0.5]},
    ]
    config = experiment_config(copy.deepcopy(default_config))
    table = network_table(config)
    # Only the swept option is a column, before replicate; the grid that does not list it has the training value.
    assert list(table.columns) == ["architecture", "hidden_size", "init_param", "learning_rate", "replicate"]
    assert table["learning_rate"].tolist() == ["0.001", "0.1", "0.001", "0.1", "0.01"]
    assert table["init_param"].tolist() == ["0.5", "0.5", "2", "2", "0.5"]
    specs = network_specs(config)
    assert [(spec.learning_rate, spec.dropout) for spec in specs] == [(0.001, 0.1), (0.1, 0.1)] * 2 + [(0.01, 0.1)]
    assert len({spec.seed for spec in specs}) == 5  # networks differing in learning rate are independent

    default_config["networks"][1]["dropout"] = [0.0, 0.5]
    table = network_table(experiment_config(copy.deepcopy(default_config)))
    assert list(table.columns)[3:5] == ["learning_rate", "dropout"]
    assert table["dropout"].tolist() == ["0.1"] * 4 + ["0", "0.5"]


def test_swept_networks_seeds_hash_the_training_options(default_config):
    identity = {"architecture": "lstm", "hidden_size": 64, "init_param": "0.5", "replicate": 0}
    with_rate = {**identity, "learning_rate": "0.01"}
    assert network_seed(0, with_rate) != network_seed(0, identity)
    assert network_seed(0, {**with_rate, "learning_rate": "0.1"}) != network_seed(0, with_rate)
    assert network_seed(0, {**with_rate, "dropout": "0.1"}) != network_seed(0, with_rate)

    default_config["networks"]["learning_rate"] = [0.001, 0.01]
    config = experiment_config(default_config)
    for row, spec in zip(network_table(config).to_dict("records"), network_specs(config), strict=True):
        assert spec.seed == network_seed(0, row)


def test_a_listed_training_value_equal_to_the_section_repeats_a_network(default_config):
    default_config["training"]["learning_rate"] = 0.01
    default_config["networks"] = [
        {"architecture": ["rnn"], "hidden_size": [8], "init_param": [0.5], "learning_rate": [0.01, 0.1]},
        {"architecture": ["rnn"], "hidden_size": [8], "init_param": [0.5]},
    ]
    with pytest.raises(ConfigError, match="repeats a network.*'learning_rate': '0.01'"):
        experiment_config(default_config)


@pytest.mark.parametrize(
    "key, value, message",
    [
        ("learning_rate", [], r"networks\.learning_rate: \[\] should be non-empty"),
        ("learning_rate", [0.01, 0], r"networks\.learning_rate\[1\]"),
        ("learning_rate", 0.01, r"networks\.learning_rate: 0.01 is not of type 'array'"),
        ("dropout", [1.0], r"networks\.dropout\[0\]"),
        ("dropout", [-0.1], r"networks\.dropout\[0\]"),
        ("dropout", [], r"networks\.dropout: \[\] should be non-empty"),
    ],
    ids=["empty-rate", "zero-rate", "scalar-rate", "dropout-one", "negative-dropout", "empty-dropout"],
)
def test_bad_swept_training_options_name_the_key(default_config, key, value, message):
    default_config["networks"][key] = value
    with pytest.raises(ConfigError, match=message):
        experiment_config(default_config)


def test_network_training_takes_the_spec_values_over_the_section():
    training = TrainingConfig(epochs=2, learning_rate=0.01, dropout=0.1)
    spec, resolved = network_training(NetworkSpec("gru", 4, 0.5, 0, learning_rate=0.3, dropout=0.0), training)
    assert (resolved.learning_rate, resolved.dropout) == (spec.learning_rate, spec.dropout) == (0.3, 0.0)
    assert resolved.epochs == 2 and resolved.grad_clip == training.grad_clip
    spec, resolved = network_training(NetworkSpec("gru", 4, 0.5, 0), training)
    assert (resolved.learning_rate, resolved.dropout) == (spec.learning_rate, spec.dropout) == (0.01, 0.1)


def test_novel_inputs_need_a_second_set_of_test_sequences(default_config):
    """analysis.novel_inputs drives every network with 2 x lyapunov.sequences test sequences: checked before any job."""
    default_config["task"]["subset"] = 20  # 20 test sequences
    default_config["lyapunov"]["sequences"] = 10
    assert experiment_config(copy.deepcopy(default_config)).analysis.novel_inputs  # 2 x 10 fit exactly
    default_config["lyapunov"]["sequences"] = 11
    with pytest.raises(ConfigError, match=r"analysis\.novel_inputs: needs 2 x lyapunov\.sequences = 22 .* has 20"):
        experiment_config(copy.deepcopy(default_config))
    default_config["analysis"]["novel_inputs"] = False
    assert not experiment_config(default_config).analysis.novel_inputs


def test_the_learning_rate_example_sweeps_both_options(capsys):
    from lyapunov_rnn.cli import main

    path = ROOT / "experiments" / "grid-learning-rate.yaml"
    assert main(["check-config", str(path)]) == 0
    out = capsys.readouterr().out
    assert "48 networks x 11 checkpoints" in out
    assert "learning_rate swept: 0.001, 0.01, 0.1" in out and "dropout swept: 0, 0.1" in out
    specs = network_specs(load_config(path))
    assert {(spec.learning_rate, spec.dropout) for spec in specs} == {
        (rate, dropout) for rate in (0.001, 0.01, 0.1) for dropout in (0.0, 0.1)
    }


# --------------------------------------------------------------------------- #
# Everything the config decides is checked before any job (issue 15)
# --------------------------------------------------------------------------- #
def _grid(config: dict, **values) -> None:
    config["networks"].update(values)


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda c: _grid(c, init_param=[]), r"networks\.init_param: \[\] should be non-empty"),
        (lambda c: _grid(c, init_param=[0.1, "big"]), r"networks\.init_param\[1\]: 'big' is not of type 'number'"),
        (lambda c: _grid(c, init_param=[0.5, 0]), r"networks\.init_param\[1\]: 0 is less than or equal to"),
        (lambda c: _grid(c, init_param=[-1.0]), r"networks\.init_param\[0\]: -1\.0 is less than or equal to"),
        (lambda c: c.__setitem__("networks", [{"architecture": ["rnn"], "hidden_size": [4], "init_param": []}]),
         r"networks"),
        (lambda c: c["analysis"].__setitem__("stages", []), r"analysis\.stages: \[\] should be non-empty"),
        (lambda c: c.__setitem__("experiment", ".."), r"experiment: '\.\.' names no directory"),
        (lambda c: c.__setitem__("experiment", "."), r"experiment: '\.' names no directory"),
        (lambda c: c.__setitem__("experiment", "a/b"), r"experiment: 'a/b' does not match"),
        (lambda c: _grid(c, architecture=["rnn"], init_param=[0.5, 1.0]),
         r"aelle\.split: .* of the 2 networks leaves the test split empty"),
        (lambda c: c["aelle"].__setitem__("split", [0.1, 0.8, 0.1]),
         r"aelle\.split: \[0\.1, 0\.8, 0\.1\] of the 6 networks leaves the test split empty"),
        (lambda c: c["aelle"].__setitem__("split", [0.7, 0.1, 0.1]), r"aelle\.split: .* must sum to 1"),
        (lambda c: c["lyapunov"].__setitem__("k", 9),
         r"lyapunov\.k: 9 exponents exceed the 8 of a full spectrum of the rnn networks with hidden_size 8"),
        (lambda c: c["lyapunov"].__setitem__("warmup", 28),
         r"lyapunov\.warmup: 28 leaves no measured step of the 28-step sequences of task 'smnist'"),
        (lambda c: c["lyapunov"].__setitem__("sequences", 21), r"lyapunov\.sequences: 21 exceeds the 20 test"),
        (lambda c: c["analysis"].__setitem__("convergence_sequences", 21),
         r"analysis\.convergence_sequences: 21 exceeds the 20 test"),
        (lambda c: c["analysis"].__setitem__("convergence_sequences", 3),
         r"analysis\.convergence_sequences: 3 is below lyapunov\.sequences = 5"),
        (lambda c: c["aelle"].__setitem__("training_fractions", [0.3, 0.4]),
         r"aelle\.training_fractions: no checkpoint of the 2 epochs .* lies in \[0\.3, 0\.4\]"),
        (lambda c: c["aelle"].update(epochs=3, alpha=[1, 2, 3, 4]),
         r"aelle\.alpha: a schedule of 4 blocks needs at least 4 aelle\.epochs, got 3"),
        (lambda c: c["aelle"].__setitem__("resample_length", 12),
         r"aelle\.resample_length: 12 is shorter than the longest spectrum \(16 exponents\)"),
    ],
    ids=[
        "init-param-empty", "init-param-not-a-number", "init-param-zero", "init-param-negative",
        "init-param-empty-in-a-list-of-grids", "stages-empty", "experiment-dotdot", "experiment-dot",
        "experiment-separator", "too-few-networks-for-the-split", "split-leaves-test-empty", "split-sum",
        "k-above-state-size", "warmup-not-below-length", "sequences-above-test-split",
        "convergence-sequences-above-test-split", "convergence-sequences-below-sequences",
        "training-fractions-without-checkpoint", "alpha-schedule-longer-than-epochs", "midpoint-cannot-shorten",
    ],
)
def test_inconsistent_config_is_rejected_naming_the_key(small_config, mutate, message):
    mutate(small_config)
    with pytest.raises(ConfigError, match=message):
        experiment_config(small_config)


@pytest.fixture
def small_config(default_config) -> dict:
    """6 networks (rnn, lstm x 3 p, hidden 8: spectra of 8 and 16 exponents), 2 epochs, 20 test sequences."""
    default_config["task"]["subset"] = 20
    default_config["networks"].update(architecture=["rnn", "lstm"], hidden_size=[8], init_param=[0.1, 0.5, 2.0])
    default_config["training"]["epochs"] = 2
    default_config["lyapunov"]["sequences"] = 5
    default_config["aelle"]["training_fractions"] = [0.0, 1.0]
    return default_config


def test_small_config_is_valid_at_the_limits(small_config):
    """The checks above reject only what fails: the same config at each limit is accepted."""
    small_config["lyapunov"].update(k=8, warmup=27, sequences=10)  # 2 x 10 = the 20 test sequences, novel inputs
    small_config["analysis"]["convergence_sequences"] = 20
    small_config["aelle"].update(training_fractions=[0.5, 0.5], epochs=4, alpha=[1, 2, 3, 4], resample_length=16)
    config = experiment_config(copy.deepcopy(small_config))
    assert config.lyapunov.k == 8 and config.analysis.convergence_sequences == 20
    small_config["aelle"]["resample_length"] = 12  # linear resampling may shorten spectra
    small_config["aelle"]["resample_method"] = "linear"
    experiment_config(copy.deepcopy(small_config))
    # The reference convention: the LSTM's spectrum is its N hidden exponents, and a warm-up of T or more is capped.
    small_config["lyapunov"].update(convention="reference", k=8, warmup=40)
    experiment_config(copy.deepcopy(small_config))
    small_config["lyapunov"]["k"] = 9
    with pytest.raises(ConfigError, match=r"lyapunov\.k: 9 exponents exceed the 8 .* \(reference convention\)"):
        experiment_config(small_config)


@pytest.mark.parametrize("convention", [*CONVENTIONS, *ALIASES])
@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_spectrum_size_from_the_config_is_the_tangent_size_of_the_built_network(architecture, convention):
    from lyapunov_rnn.conventions import spectrum_size
    from lyapunov_rnn.lyapunov import tangent_size
    from lyapunov_rnn.models import SequenceModel

    model = SequenceModel(architecture, input_size=3, hidden_size=5, output_size=2)
    assert spectrum_size(architecture, 5, convention) == tangent_size(model, convention)


@pytest.mark.parametrize("networks", range(1, 40))
@pytest.mark.parametrize("split", [(0.7, 0.1, 0.2), (0.6, 0.2, 0.2), (0.1, 0.8, 0.1), (0.8, 0.1, 0.1)])
def test_the_config_check_predicts_the_aelle_split(networks, split):
    """aelle_split_sizes (checked before any job) gives exactly the sizes of split_networks (run by the aelle rule)."""
    from lyapunov_rnn.aelle.preprocessing import split_networks
    from lyapunov_rnn.config import aelle_split_sizes

    sizes = aelle_split_sizes(networks, split)
    assert sum(sizes) == networks
    ids = [f"net{i}" for i in range(networks)]
    if min(sizes) < 1:
        with pytest.raises(ValueError, match="at least one network in each split"):
            split_networks(ids, split)
        return
    counts = split_networks(ids, split).value_counts()
    assert (counts["train"], counts["val"], counts["test"]) == sizes


def test_invalid_yaml_names_the_line(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("experiment: x\nnetworks:\n  architecture: [rnn, lstm\n  hidden_size: [8]\n")
    with pytest.raises(ConfigError, match=r"broken\.yaml: not valid YAML: line 4, column 14: .*flow sequence"):
        load_config(path)


def test_a_number_yaml_reads_as_text_gets_a_hint(default_config):
    default_config["networks"]["init_param"] = yaml.safe_load("[0.5, 1e-3]")  # YAML 1.1: no dot, no float
    with pytest.raises(ConfigError, match=r"init_param\[1\]: '1e-3' is not of type 'number' .*write 1\.0e-3"):
        experiment_config(default_config)


@pytest.mark.parametrize(
    "init_param, closest",
    [
        ({"low": 1}, r"\(closest: 'high' is a required property\)"),
        ({"low": 1, "high": 2, "count": 0}, r"\(closest: networks\.init_param\.count: 0 is less than the minimum"),
    ],
)
def test_a_value_that_fits_no_form_names_the_closest_forms_problem(default_config, init_param, closest):
    default_config["networks"]["init_param"] = init_param
    with pytest.raises(ConfigError, match=r"^networks\.init_param: .* under any of the given schemas " + closest):
        experiment_config(default_config)


def _spec(architecture: str, hidden_size: int = 8, **cell_options) -> NetworkSpec:
    return NetworkSpec(architecture, hidden_size, init_param=0.5, seed=0, cell_options=cell_options)


def test_training_groups_share_architecture_size_and_cell_options():
    specs = (
        [_spec("rnn") for _ in range(5)]
        + [_spec("lstm") for _ in range(3)]
        + [_spec("rnn", hidden_size=16)]
        + [_spec("rnn") for _ in range(2)]  # the same key as the first five, later in the list
        + [_spec("asrnn", asrnn_gamma=0.1), _spec("asrnn", asrnn_gamma=0.2)]  # scalar constants may differ
        + [_spec("lstm", asrnn_gamma=0.3)]  # another cell's option does not split a group either
        + [_spec("asrnn", bias=True)]  # a bias does: other parameters
    )
    groups = training_groups(specs, group_size=4)
    assert sorted(index for group in groups for index in group) == list(range(len(specs)))
    assert groups == [[0, 1, 2, 3], [4, 9, 10], [5, 6, 7, 13], [8], [11, 12], [14]]  # 7 rnn: balanced 4 + 3
    assert training_groups(specs, group_size=1) == [[index] for index in range(len(specs))]
    assert training_groups(specs[:5], group_size=100) == [[0, 1, 2, 3, 4]]
    with pytest.raises(ValueError, match="group_size"):
        training_groups(specs, group_size=0)


@pytest.mark.parametrize("arithmetic, batched", [("auto", None), ("networkwise", False), ("batched", True)])
def test_the_arithmetic_is_train_ensembles_batched_argument(default_config, arithmetic, batched):
    default_config["training"]["arithmetic"] = arithmetic
    experiment = experiment_config(default_config)
    assert experiment.batched_groups is batched
    assert experiment.training == load_config(ROOT / "config.yaml").training  # not a training option


def test_default_experiment_has_one_training_group_per_architecture(default_config):
    experiment = experiment_config(default_config)
    specs = network_specs(experiment)
    groups = training_groups(specs, experiment.group_size)
    assert [{specs[index].architecture for index in group} for group in groups] == [{"rnn"}, {"lstm"}, {"gru"}]
    assert all(len(group) == 12 for group in groups)


@pytest.mark.parametrize(
    "key, value", [("group_size", 0), ("group_size", "auto"), ("gpu", "yes"), ("arithmetic", "bmm")]
)
def test_bad_scheduling_keys_name_the_key(default_config, key, value):
    default_config["training"][key] = value
    with pytest.raises(ConfigError, match=f"training.{key}"):
        experiment_config(default_config)
