import dataclasses
import hashlib
import math
import shutil

import pandas as pd
import pytest
import torch
from helpers.toy_task import prepared_tasks

from lyapunov_rnn.checkpoints import checkpoint_name, load_checkpoint
from lyapunov_rnn.config import LyapunovConfig, NetworkSpec, TrainingConfig
from lyapunov_rnn.lyapunov import tangent_size
from lyapunov_rnn.models import ARCHITECTURES
from lyapunov_rnn.spectra import network_spectra
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


@pytest.fixture(scope="module")
def real_tasks(tmp_path_factory) -> dict:
    """Each task as the workflow builds it (prepare_task -> .npz -> load_task), at a tiny size."""
    configs = {
        "smnist": {"name": "smnist", "source": "embedded", "subset": 40},
        "adding": {"name": "adding", "sequence_length": 12, "train_size": 48, "test_size": 16},
    }
    return prepared_tasks(tmp_path_factory.mktemp("tasks"), configs, charlm_length=20, corpus_copies=8)


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


def _interrupted_run(spec: NetworkSpec, task, training: TrainingConfig, work) -> None:
    """The work directory of a run killed during epoch 2: checkpoints 0 and 1, and 2 a torn file."""
    train_network(spec, task, training, work, progress=False)
    for epoch in range(2, training.epochs + 1):
        (work / checkpoint_name(epoch)).unlink()
    (work / checkpoint_name(2)).write_bytes(b"truncated")


def test_interrupted_run_resumes_to_the_same_result(tmp_path, toy_task, capsys):
    spec = NetworkSpec("gru", hidden_size=8, init_param=0.5, seed=1)
    reference = train_network(spec, toy_task, TRAINING, tmp_path / "full", progress=False)
    work = tmp_path / "work"
    _interrupted_run(spec, toy_task, TRAINING, work)
    capsys.readouterr()

    resumed = train_network(spec, toy_task, TRAINING, tmp_path / "out", work_dir=work, progress=False)
    assert "resuming after epoch 1" in capsys.readouterr().out
    pd.testing.assert_frame_equal(
        resumed.drop(columns="seconds"), reference.drop(columns="seconds"), check_exact=True
    )
    assert resumed["seconds"].isna().tolist() == [True, True, False, False]  # timings before the kill are not kept
    for epoch in range(TRAINING.epochs + 1):  # the same bytes as the uninterrupted run
        name = checkpoint_name(epoch)
        assert (tmp_path / "out" / name).read_bytes() == (tmp_path / "full" / name).read_bytes(), name
    # The work directory keeps the finished run (hard links, no extra space): a workflow that deletes the
    # outputs of a job killed before its bookkeeping gets them back without training again.
    assert (work / checkpoint_name(3)).stat().st_ino == (tmp_path / "out" / checkpoint_name(3)).stat().st_ino
    shutil.rmtree(tmp_path / "out")
    capsys.readouterr()
    again = train_network(spec, toy_task, TRAINING, tmp_path / "out", work_dir=work, progress=False)
    assert "resuming after epoch 3" in capsys.readouterr().out
    pd.testing.assert_frame_equal(again.drop(columns="seconds"), reference.drop(columns="seconds"), check_exact=True)
    assert (tmp_path / "out" / checkpoint_name(3)).read_bytes() == (tmp_path / "full" / checkpoint_name(3)).read_bytes()


def test_checkpoints_are_byte_identical_across_runs(tmp_path, toy_task):
    spec = NetworkSpec("lstm", hidden_size=8, init_param=0.5, seed=3)
    for run in ("a", "b"):
        train_network(spec, toy_task, TRAINING, tmp_path / run / "checkpoints", work_dir=tmp_path / run / "work",
                      progress=False)
    digests = {
        run: [hashlib.sha256((tmp_path / run / "checkpoints" / checkpoint_name(e)).read_bytes()).hexdigest()
              for e in range(TRAINING.epochs + 1)]
        for run in ("a", "b")
    }
    assert digests["a"] == digests["b"]
    assert len(set(digests["a"])) == TRAINING.epochs + 1


@pytest.mark.parametrize(
    "change, named",
    [
        (lambda spec, training, task: (spec, dataclasses.replace(training, learning_rate=0.02), task),
         "training.learning_rate changed"),
        (lambda spec, training, task: (spec, dataclasses.replace(training, epochs=4), task), "training.epochs changed"),
        (lambda spec, training, task: (dataclasses.replace(spec, cell_options={"bias": False}), training, task),
         "spec.cell_options changed"),
        (lambda spec, training, task: (spec, training, dataclasses.replace(task, train_inputs=task.train_inputs * 0.5)),
         "the task data or the package version changed"),
    ],
    ids=["learning-rate", "epochs", "cell-option", "task-data"],
)
def test_a_run_with_changed_settings_starts_over(tmp_path, toy_task, capsys, change, named):
    spec = NetworkSpec("rnn", hidden_size=8, init_param=0.5, seed=2)
    work = tmp_path / "work"
    _interrupted_run(spec, toy_task, TRAINING, work)
    spec, training, task = change(spec, TRAINING, toy_task)
    fresh = train_network(spec, task, training, tmp_path / "fresh", progress=False)
    capsys.readouterr()

    rerun = train_network(spec, task, training, tmp_path / "out", work_dir=work, progress=False)
    log = capsys.readouterr().out
    assert "not resuming" in log and named in log and "training from scratch" in log
    pd.testing.assert_frame_equal(rerun.drop(columns="seconds"), fresh.drop(columns="seconds"), check_exact=True)
    assert rerun["seconds"].notna().all()
    _, info = load_checkpoint(tmp_path / "out" / checkpoint_name(training.epochs))
    assert info["training"]["learning_rate"] == training.learning_rate and info["epochs"] == training.epochs


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


def test_the_spec_learning_rate_drives_adam(tmp_path, toy_task):
    """One epoch of one full batch is one Adam step, and Adam's first step moves each weight by lr * g / (|g| + eps)."""
    from lyapunov_rnn.checkpoints import read_checkpoint

    rate = 0.003
    spec = NetworkSpec("rnn", hidden_size=6, init_param=0.5, seed=0, learning_rate=rate, dropout=0.0)
    everything = toy_task.train_inputs.shape[0]
    training = TrainingConfig(epochs=1, batch_size=everything, learning_rate=0.5, grad_clip=None, dropout=0.5)
    train_network(spec, toy_task, training, tmp_path, device="cpu", progress=False)

    assert read_checkpoint(tmp_path / checkpoint_name(1))["optimizer_state"]["param_groups"][0]["lr"] == rate
    before, info = load_checkpoint(tmp_path / checkpoint_name(0))
    after, _ = load_checkpoint(tmp_path / checkpoint_name(1))
    assert info["spec"]["learning_rate"] == info["training"]["learning_rate"] == rate
    assert info["spec"]["dropout"] == info["training"]["dropout"] == info["model_config"]["dropout"] == 0.0
    before.train()  # as in training; dropout 0 keeps it deterministic
    torch.nn.CrossEntropyLoss()(before(toy_task.train_inputs), toy_task.train_targets).backward()
    moved = 0
    for (name, start), end in zip(before.named_parameters(), after.parameters(), strict=True):
        adam_step = rate * start.grad / (start.grad.abs() + 1e-8)
        torch.testing.assert_close(end.detach(), start.detach() - adam_step, rtol=0, atol=1e-6, msg=name)
        moved += int((start.grad.abs() > 1e-6).sum())
    assert moved > 50  # most weights moved by about the rate (the section's 0.5 would move them 166 times as far)


def test_the_spec_dropout_is_the_models(tmp_path, toy_task):
    from lyapunov_rnn.train import training_setup

    training = TrainingConfig(epochs=1, batch_size=32, dropout=0.5)
    cpu = torch.device("cpu")
    with torch.random.fork_rng():
        plain = training_setup(NetworkSpec("gru", 6, 0.5, 0, dropout=0.0), toy_task, training, cpu).model.train()
        assert torch.equal(plain(toy_task.train_inputs), plain(toy_task.train_inputs))  # 0.5 would drop units

        model = training_setup(NetworkSpec("gru", 6, 0.5, 0, dropout=0.25), toy_task, training, cpu).model.train()
        seen = {}
        model.dropout.register_forward_hook(lambda _, args, output: seen.update(hidden=args[0], dropped=output))
        model(toy_task.train_inputs)
    kept = seen["dropped"] != 0
    assert abs(1 - kept.float().mean().item() - 0.25) < 0.08  # 576 units: standard error 0.018
    torch.testing.assert_close(seen["dropped"][kept], seen["hidden"][kept] / 0.75)

    spec = NetworkSpec("gru", 6, 0.5, 0, dropout=0.25)
    train_network(spec, toy_task, training, tmp_path, device="cpu", progress=False)
    trained, info = load_checkpoint(tmp_path / checkpoint_name(1))
    assert trained.dropout.p == info["spec"]["dropout"] == info["training"]["dropout"] == 0.25
    assert info["spec"]["learning_rate"] == info["training"]["learning_rate"] == training.learning_rate


def test_progress_in_a_log_is_one_line_per_epoch(tmp_path, toy_task, capsys):
    spec = NetworkSpec("rnn", hidden_size=8, init_param=0.5, seed=2)
    train_network(spec, toy_task, TRAINING, tmp_path / "out", progress=True)  # pytest's capture is not a terminal
    captured = capsys.readouterr()
    log = captured.out + captured.err
    assert "\r" not in log
    lines = [line for line in log.splitlines() if line.startswith("epoch ")]
    assert [line.split(":")[0] for line in lines] == [f"epoch {e}/3" for e in (1, 2, 3)]
    assert all("validation loss" in line and "ETA" in line for line in lines)
