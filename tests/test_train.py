import dataclasses
import hashlib
import math

import pandas as pd
import pytest
import torch

from lyapunov_rnn.checkpoints import checkpoint_name, load_checkpoint
from lyapunov_rnn.config import LyapunovConfig, NetworkSpec, TrainingConfig
from lyapunov_rnn.lyapunov import tangent_size
from lyapunov_rnn.models import ARCHITECTURES
from lyapunov_rnn.spectra import network_spectra
from lyapunov_rnn.tasks import load_task, prepare_task
from lyapunov_rnn.train import train_network

TRAINING = TrainingConfig(epochs=3, batch_size=16, learning_rate=0.01)


def _states_equal(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[key], b[key]) for key in a)


@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_every_architecture_trains_and_checkpoints_each_epoch(tmp_path, toy_task, architecture):
    spec = NetworkSpec(architecture, hidden_size=8, init_param=0.5, seed=0)
    metrics = train_network(spec, toy_task, TRAINING, tmp_path, progress=False)
    assert list(metrics["epoch"]) == [0, 1, 2, 3]
    assert math.isnan(metrics["train_loss"][0])  # epoch 0 is the untrained network
    assert metrics["val_loss"].iloc[1:].map(math.isfinite).all()
    for epoch in range(4):
        model, info = load_checkpoint(tmp_path / checkpoint_name(epoch))
        assert info["epoch"] == epoch and info["epochs"] == 3
        assert info["spec"]["architecture"] == architecture
        assert not model.training
    # the untrained checkpoint holds U(-p, p) weights, the later ones have moved
    first, _ = load_checkpoint(tmp_path / checkpoint_name(0))
    last, _ = load_checkpoint(tmp_path / checkpoint_name(3))
    assert not _states_equal(first.state_dict(), last.state_dict())


CORPUS = "To be, or not to be, that is the question:\nWhether 'tis nobler in the mind to suffer\n" * 8


@pytest.fixture(scope="module")
def real_tasks(tmp_path_factory) -> dict:
    """Each task as the workflow builds it (prepare_task -> .npz -> load_task), at a tiny size."""
    root = tmp_path_factory.mktemp("tasks")
    corpus = root / "corpus.txt"
    corpus.write_text(CORPUS)
    configs = {
        "smnist": {"name": "smnist", "source": "embedded", "subset": 40},
        "adding": {"name": "adding", "sequence_length": 12, "train_size": 48, "test_size": 16},
        "charlm": {
            "name": "charlm",
            "url": corpus.as_uri(),
            "sha256": hashlib.sha256(corpus.read_bytes()).hexdigest(),
            "sequence_length": 20,
            "val_fraction": 0.25,
        },
    }
    return {name: load_task(prepare_task(config, root / f"{name}.npz")) for name, config in configs.items()}


@pytest.mark.parametrize("task_name", ["smnist", "adding", "charlm"])
@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_every_architecture_trains_on_every_task(tmp_path, real_tasks, architecture, task_name):
    task = real_tasks[task_name]
    spec = NetworkSpec(architecture, hidden_size=5, init_param=0.3, seed=0)
    metrics = train_network(spec, task, TrainingConfig(epochs=1, batch_size=16), tmp_path, progress=False)
    assert not metrics["diverged"].any()
    assert metrics["val_loss"].map(math.isfinite).all()
    assert metrics["val_accuracy"].between(0, 1).all()
    assert metrics["train_loss"].iloc[1] > 0

    checkpoints = [tmp_path / checkpoint_name(epoch) for epoch in (0, 1)]
    spectra = network_spectra(checkpoints, task, LyapunovConfig(sequences=3), progress=False)
    model, _ = load_checkpoint(checkpoints[0])
    assert spectra["exponents"].shape == (2, tangent_size(model, "benettin"))
    assert tangent_size(model, "benettin") == (10 if architecture in ("lstm", "cornn") else 5)
    assert bool(spectra["exponents"].notnull().all())
    assert (spectra["exponents"].diff("exponent") <= 1e-12).all()  # descending


def test_training_is_bitwise_deterministic(tmp_path, toy_task):
    spec = NetworkSpec("lstm", hidden_size=8, init_param=0.5, seed=3)
    train_network(spec, toy_task, TRAINING, tmp_path / "a", progress=False)
    train_network(spec, toy_task, TRAINING, tmp_path / "b", progress=False)
    a, _ = load_checkpoint(tmp_path / "a" / checkpoint_name(3))
    b, _ = load_checkpoint(tmp_path / "b" / checkpoint_name(3))
    assert _states_equal(a.state_dict(), b.state_dict())
    spec_other = NetworkSpec("lstm", hidden_size=8, init_param=0.5, seed=4)
    train_network(spec_other, toy_task, TRAINING, tmp_path / "c", progress=False)
    c, _ = load_checkpoint(tmp_path / "c" / checkpoint_name(3))
    assert not _states_equal(a.state_dict(), c.state_dict())


def test_interrupted_run_resumes_to_the_same_result(tmp_path, toy_task):
    spec = NetworkSpec("gru", hidden_size=8, init_param=0.5, seed=1)
    reference = train_network(spec, toy_task, TRAINING, tmp_path / "full", progress=False)

    # A run killed after epoch 1: checkpoints 0 and 1 exist in the work dir, 2 is a torn file.
    short = TrainingConfig(**{**TRAINING.__dict__, "epochs": 1})
    work = tmp_path / "work"
    train_network(spec, toy_task, short, work, progress=False)
    payload = torch.load(work / checkpoint_name(1), weights_only=True)
    payload["epochs"] = 3
    torch.save(payload, work / checkpoint_name(1))
    (work / checkpoint_name(2)).write_bytes(b"truncated")

    resumed = train_network(spec, toy_task, TRAINING, tmp_path / "out", work_dir=work, progress=False)
    pd.testing.assert_frame_equal(
        resumed.drop(columns="seconds"), reference.drop(columns="seconds"), check_exact=True
    )
    a, _ = load_checkpoint(tmp_path / "full" / checkpoint_name(3))
    b, _ = load_checkpoint(tmp_path / "out" / checkpoint_name(3))
    assert _states_equal(a.state_dict(), b.state_dict())
    assert not work.exists()  # moved into place once complete


def test_divergence_is_recorded_not_raised(tmp_path, toy_task):
    # An infinite input gives inf - inf pre-activations: the loss becomes NaN mid-epoch.
    inputs = toy_task.train_inputs.clone()
    inputs[:, 2, :] = float("inf")
    task = dataclasses.replace(toy_task, train_inputs=inputs)
    spec = NetworkSpec("rnn", hidden_size=8, init_param=0.5, seed=0)
    metrics = train_network(spec, task, TRAINING, tmp_path, progress=False)
    assert metrics["diverged"].iloc[-1]
    first = int(metrics.index[metrics["diverged"]][0])
    assert metrics["diverged"].iloc[first:].all()
    assert metrics["val_loss"].iloc[first:].isna().all()
    _, info = load_checkpoint(tmp_path / checkpoint_name(3))
    assert info["diverged"]


def test_no_two_networks_of_the_default_grid_share_weight_directions():
    """Independent networks: not one random matrix scaled by p (the weights of every layer are compared).

    With SMNIST's shapes every compared weight has >= 320 entries, so two independent draws have
    |cosine| ~ 0.06 or less; a cosine above 0.4 would be a shared direction.
    """
    import itertools
    from pathlib import Path

    from helpers.toy_task import make_classification_task

    from lyapunov_rnn.config import load_config, network_specs
    from lyapunov_rnn.train import build_model

    smnist_shapes = make_classification_task(n_train=2, n_test=2, steps=28, features=28, classes=10)
    config = load_config(Path(__file__).resolve().parents[1] / "config.yaml")
    weights: dict[str, list[torch.Tensor]] = {}
    for spec in network_specs(config):
        torch.manual_seed(spec.seed)  # as training_setup: the readout's default initialiser draws from it
        model = build_model(spec, smnist_shapes, dropout=0.0)
        weights.setdefault(spec.architecture, []).append(
            [model.rnn.weight_hh_l0.flatten(), model.rnn.weight_ih_l0.flatten(), model.readout.weight.flatten()]
        )
    for architecture, networks in weights.items():
        assert len(networks) == 12
        for first, second in itertools.combinations(networks, 2):
            for a, b in zip(first, second, strict=True):
                cosine = torch.nn.functional.cosine_similarity(a, b, dim=0).abs().item()
                assert cosine < 0.4, (architecture, cosine)
