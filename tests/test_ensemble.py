"""Ensemble training: each network of a group gets the checkpoints train_network writes for it alone.

The comparisons are bitwise (checkpoint files byte for byte): the ensemble
runs one ``torch.mm`` per network for every matrix product, PyTorch's own
LSTM per network, and every elementwise operation in the memory layout of
the single network (lyapunov_rnn.ensemble.cells), so on the CPU no rounding
differs (measured before choosing this design: batched products gave
relative weight differences of about 1e-7 after one epoch, which chaotic
networks, large init_param, amplify to different trainings within an epoch
at the default run's sizes). The tests run single-threaded, as the workflow's training jobs:
with more threads PyTorch splits large elementwise operations at points that
depend on the group's size (these tiny groups would stay below its grain
size anyway), and on a busy machine many small multi-threaded operations
wait on each other.
"""

import dataclasses
import math
import shutil

import pandas as pd
import pytest
import torch
from helpers.toy_task import prepared_tasks

from lyapunov_rnn.checkpoints import checkpoint_name, read_checkpoint
from lyapunov_rnn.config import NetworkSpec, TrainingConfig
from lyapunov_rnn.ensemble import cells as ensemble_cells
from lyapunov_rnn.ensemble import ensemble_compatible, train_ensemble
from lyapunov_rnn.ensemble import training as ensemble_training
from lyapunov_rnn.ensemble.cells import networks_per_pass
from lyapunov_rnn.models import ARCHITECTURES, SequenceModel
from lyapunov_rnn.train import train_network

TRAINING = TrainingConfig(epochs=3, batch_size=16, learning_rate=0.01, grad_clip=None, dropout=0.0)


# Bit-exact group training assumes one thread (or tensors below PyTorch's threshold for splitting elementwise work).
pytestmark = pytest.mark.usefixtures("single_thread")


def _group(architecture: str, **options) -> list[NetworkSpec]:
    """Three networks of one architecture: other init_param and seed, the third with its own learning rate."""
    cell_options = {"bias": options.pop("bias", False)}
    return [
        NetworkSpec(architecture, 8, 0.5, 0, cell_options, **options),
        NetworkSpec(architecture, 8, 1.5, 1, cell_options, **options),
        NetworkSpec(architecture, 8, 0.2, 2, cell_options, **{**options, "learning_rate": 0.003}),
    ]


def _assert_same_files(first, second, epochs: int) -> None:
    for epoch in range(epochs + 1):
        name = checkpoint_name(epoch)
        assert (first / name).read_bytes() == (second / name).read_bytes(), (first, name)


def _assert_same_metrics(first: pd.DataFrame, second: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(first.drop(columns="seconds"), second.drop(columns="seconds"), check_exact=True)


def _train_alone_and_together(specs, task, training, root) -> tuple[list[pd.DataFrame], list[pd.DataFrame]]:
    alone = [train_network(spec, task, training, root / f"alone{i}", progress=False) for i, spec in enumerate(specs)]
    together = train_ensemble(specs, task, training, [root / f"group{i}" for i in range(len(specs))], progress=False)
    return alone, together


VARIANTS = {
    "plain": (TRAINING, {}),
    # grad_clip well below the gradient norms (clipping acts), dropout from the training section and per spec.
    "bias-clip-dropout": (dataclasses.replace(TRAINING, grad_clip=0.05, dropout=0.2), {"bias": True}),
}


@pytest.mark.parametrize("variant", list(VARIANTS))
@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_each_network_of_a_group_trains_as_alone(tmp_path, toy_task, architecture, variant):
    training, options = VARIANTS[variant]
    specs = _group(architecture, **options)
    if variant != "plain":
        specs[1] = dataclasses.replace(specs[1], dropout=0.0)  # dropout may differ per network
    alone, together = _train_alone_and_together(specs, toy_task, training, tmp_path)
    for i, (single, grouped) in enumerate(zip(alone, together, strict=True)):
        _assert_same_metrics(grouped, single)
        assert grouped["seconds"].iloc[1:].notna().all()
        _assert_same_files(tmp_path / f"alone{i}", tmp_path / f"group{i}", training.epochs)
    assert len({float(frame["train_loss"].iloc[-1]) for frame in together}) == 3  # three different trainings


def test_clipping_and_the_spec_learning_rate_act(tmp_path, toy_task):
    """The variants above would prove little if clipping never clipped or the learning rates were all one."""
    spec = _group("gru")[0]
    clipped = train_network(spec, toy_task, VARIANTS["bias-clip-dropout"][0], tmp_path / "clipped", progress=False)
    unclipped = dataclasses.replace(VARIANTS["bias-clip-dropout"][0], grad_clip=None)
    free = train_network(spec, toy_task, unclipped, tmp_path / "free", progress=False)
    assert clipped["train_loss"].iloc[1] != free["train_loss"].iloc[1]
    info = read_checkpoint(tmp_path / "clipped" / checkpoint_name(1))
    assert info["optimizer_state"]["param_groups"][0]["lr"] == 0.01


@pytest.fixture(scope="module")
def other_tasks(tmp_path_factory) -> dict:
    """A task read out at every step (charlm, cross-entropy) and one with a mean-squared error (adding)."""
    configs = {"adding": {"name": "adding", "sequence_length": 6, "train_size": 32, "test_size": 8}}
    return prepared_tasks(tmp_path_factory.mktemp("tasks"), configs, charlm_length=6, corpus_copies=4)


@pytest.mark.parametrize("task_name", ["charlm", "adding"])
@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_every_step_readout_and_mse_train_as_alone(tmp_path, other_tasks, architecture, task_name):
    task = other_tasks[task_name]
    assert task.readout == ("every" if task_name == "charlm" else "last")
    training = dataclasses.replace(TRAINING, epochs=2, grad_clip=0.5, dropout=0.3)
    alone, together = _train_alone_and_together(_group(architecture)[:2], task, training, tmp_path)
    for i, (single, grouped) in enumerate(zip(alone, together, strict=True)):
        _assert_same_metrics(grouped, single)
        _assert_same_files(tmp_path / f"alone{i}", tmp_path / f"group{i}", training.epochs)


def _two_per_pass(model, device, batch, steps, *, backward=True) -> int:
    """networks_per_pass of large networks: two at a time."""
    return 2


@pytest.mark.parametrize("passes", ["one pass", "passes of two"])
@pytest.mark.parametrize("architecture", ["lstm", "gru"])
def test_a_network_trains_the_same_in_any_group(tmp_path, toy_task, monkeypatch, architecture, passes):
    if passes != "one pass":  # as large networks on the CPU: two at a time step by step, one at a time evaluated
        monkeypatch.setattr(ensemble_training, "networks_per_pass", _two_per_pass)
        monkeypatch.setattr(ensemble_training, "EVALUATION_MEMORY", 1)
    training = dataclasses.replace(TRAINING, grad_clip=0.5, dropout=0.1)
    specs = [NetworkSpec(architecture, 8, p, seed) for seed, p in enumerate((0.7, 0.1, 2.0, 0.4, 1.1))]
    train_ensemble(specs[:1], toy_task, training, [tmp_path / "one"], progress=False)
    train_ensemble(specs, toy_task, training, [tmp_path / f"five{i}" for i in range(5)], progress=False)
    train_ensemble(specs[::-1], toy_task, training, [tmp_path / f"reversed{i}" for i in range(5)], progress=False)
    alone = train_network(specs[3], toy_task, training, tmp_path / "alone", progress=False)
    _assert_same_files(tmp_path / "one", tmp_path / "five0", training.epochs)
    _assert_same_files(tmp_path / "one", tmp_path / "reversed4", training.epochs)
    _assert_same_files(tmp_path / "alone", tmp_path / "five3", training.epochs)
    assert not alone["diverged"].any()


@pytest.mark.parametrize("passes", ["one pass", "passes of two"])
def test_a_diverging_network_leaves_the_others_alone(tmp_path, toy_task, monkeypatch, passes):
    if passes != "one pass":
        monkeypatch.setattr(ensemble_training, "networks_per_pass", _two_per_pass)
    # Adam moves each weight by about the learning rate per step: at 1e37 the logits soon exceed float32
    # (3.4e38) and the loss is NaN within the first epoch, while the other networks train normally.
    training = dataclasses.replace(TRAINING, dropout=0.1, grad_clip=1.0)
    specs = _group("rnn")
    diverging = NetworkSpec("rnn", 8, 0.8, 7, {"bias": False}, learning_rate=1e37)
    with_it = train_ensemble(specs[:2] + [diverging] + specs[2:], toy_task, training,
                             [tmp_path / name for name in ("a", "b", "diverging", "c")], progress=False)
    without = train_ensemble(specs, toy_task, training, [tmp_path / f"without{i}" for i in range(3)], progress=False)
    alone = train_network(diverging, toy_task, training, tmp_path / "alone", progress=False)

    assert with_it[2]["diverged"].iloc[1:].all() and not with_it[2]["diverged"].iloc[0]
    assert with_it[2]["train_loss"].iloc[1:].isna().all() and with_it[2]["val_loss"].iloc[1:].isna().all()
    _assert_same_metrics(with_it[2], alone)
    _assert_same_files(tmp_path / "diverging", tmp_path / "alone", training.epochs)
    for name, frame, reference, position in zip("abc", [with_it[0], with_it[1], with_it[3]], without, range(3),
                                                strict=True):
        assert not frame["diverged"].any()
        _assert_same_metrics(frame, reference)
        _assert_same_files(tmp_path / name, tmp_path / f"without{position}", training.epochs)


def test_networks_resume_from_different_epochs(tmp_path, toy_task, capsys):
    training = dataclasses.replace(TRAINING, dropout=0.2, grad_clip=0.5)
    specs = _group("lstm") + [NetworkSpec("lstm", 8, 0.9, 5, {"bias": False})]
    reference = train_ensemble(specs, toy_task, training, [tmp_path / f"full{i}" for i in range(4)], progress=False)
    work = [tmp_path / f"work{i}" for i in range(4)]
    train_ensemble(specs, toy_task, training, work, progress=False)
    # Killed at different points: 0 during epoch 2 (epoch_002.pt torn), 1 during epoch 3, 2 after the end;
    # 3 holds a run with other settings, which must not be resumed.
    for epoch in (2, 3):
        (work[0] / checkpoint_name(epoch)).unlink()
    (work[0] / checkpoint_name(2)).write_bytes(b"truncated")
    (work[1] / checkpoint_name(3)).unlink()
    train_network(dataclasses.replace(specs[3], learning_rate=0.02), toy_task, training, work[3], progress=False)
    capsys.readouterr()

    resumed = train_ensemble(specs, toy_task, training, [tmp_path / f"out{i}" for i in range(4)], work_dirs=work,
                             progress=False)
    log = capsys.readouterr().out
    for i, epoch in enumerate((1, 2, 3)):
        assert f"resuming after epoch {epoch} from {work[i] / checkpoint_name(epoch)}" in log
    assert "not resuming" in log and "spec.learning_rate" in log and "training from scratch" in log
    for i in range(4):
        _assert_same_metrics(resumed[i], reference[i])
        _assert_same_files(tmp_path / f"out{i}", tmp_path / f"full{i}", training.epochs)
        # The work directory keeps the run (hard links into the output directory).
        last = checkpoint_name(training.epochs)
        assert (work[i] / last).stat().st_ino == (tmp_path / f"out{i}" / last).stat().st_ino
    assert resumed[0]["seconds"].isna().tolist() == [True, True, False, False]
    assert resumed[2]["seconds"].isna().all()  # nothing left to train: only published
    assert resumed[3]["seconds"].notna().all()

    shutil.rmtree(tmp_path / "out0")  # a group of one: train_network, from the work directory the group wrote
    again = train_ensemble(specs[:1], toy_task, training, [tmp_path / "out0"], work_dirs=work[:1], progress=False)
    _assert_same_metrics(again[0], reference[0])
    _assert_same_files(tmp_path / "out0", tmp_path / "full0", training.epochs)


@pytest.mark.parametrize(
    "change, setting",
    [
        (dict(architecture="gru"), "architecture"),
        (dict(hidden_size=9), "hidden_size"),
        (dict(cell_options={"bias": True}), "cell_options"),
        (dict(architecture="asrnn", cell_options={"bias": False, "asrnn_gamma": 0.5}), "architecture"),
    ],
)
def test_incompatible_networks_are_named(change, setting):
    first = NetworkSpec("rnn", 8, 0.5, 0, {"bias": False})
    # init_param, seed, learning rate, dropout, input initialisation and other cells' options may differ
    ensemble_compatible([first, NetworkSpec("rnn", 8, 2.0, 1, {"bias": False}, learning_rate=0.1, dropout=0.5)])
    ensemble_compatible([first, dataclasses.replace(first, input_init="unit_uniform")])
    ensemble_compatible([first, dataclasses.replace(first, cell_options={"bias": False, "asrnn_gamma": 2.0})])
    asrnn = NetworkSpec("asrnn", 8, 0.5, 0, {"bias": False, "asrnn_gamma": 0.5})
    ensemble_compatible([asrnn, dataclasses.replace(asrnn, cell_options={"bias": False, "asrnn_gamma": 2.0})])
    with pytest.raises(ValueError, match=f"share {setting}: network 0 has .*, network 2 has"):
        ensemble_compatible([first, first, dataclasses.replace(first, **change)])


@pytest.mark.parametrize(
    "architecture, options",
    [
        ("asrnn", [{"asrnn_gamma": 0.5}, {"asrnn_gamma": 1.5}, {"asrnn_gamma": 0.2, "asrnn_eps": 0.03}]),
        ("cornn", [{"cornn_dt": 0.042}, {"cornn_dt": 0.05, "cornn_gamma": 2.0}, {"cornn_eps": 3.0}]),
    ],
)
def test_networks_with_their_own_cell_constants_train_as_alone(tmp_path, toy_task, architecture, options):
    """The papers set an ASRNN's gamma to its p: one group still trains each network bit for bit as alone."""
    specs = [
        NetworkSpec(architecture, 8, 0.5 + index, index, {"bias": True, **extra})
        for index, extra in enumerate(options)
    ]
    dirs = [tmp_path / f"group{i}" for i in range(len(specs))]
    train_ensemble(specs, toy_task, TRAINING, dirs, progress=False)
    for index, spec in enumerate(specs):
        train_network(spec, toy_task, TRAINING, tmp_path / f"alone{index}", progress=False)
        for epoch in range(TRAINING.epochs + 1):
            name = checkpoint_name(epoch)
            assert (dirs[index] / name).read_bytes() == (tmp_path / f"alone{index}" / name).read_bytes(), (spec, name)


def test_train_ensemble_checks_its_arguments(tmp_path, toy_task):
    specs = _group("rnn")
    with pytest.raises(ValueError, match="share architecture"):
        train_ensemble([specs[0], NetworkSpec("gru", 8, 0.5, 0)], toy_task, TRAINING, [tmp_path / "a", tmp_path / "b"])
    with pytest.raises(ValueError, match="3 specs but 2 checkpoint directories"):
        train_ensemble(specs, toy_task, TRAINING, [tmp_path / "a", tmp_path / "b"])
    with pytest.raises(ValueError, match="share a work directory"):
        train_ensemble(specs, toy_task, TRAINING, [tmp_path / "a", tmp_path / "b", tmp_path / "c"],
                       work_dirs=[tmp_path / "w", tmp_path / "w", tmp_path / "x"])
    with pytest.raises(ValueError, match="share a checkpoint directory"):
        train_ensemble(specs, toy_task, TRAINING, [tmp_path / "a", tmp_path / "b", tmp_path / "a"])
    with pytest.raises(ValueError, match="at least one network"):
        ensemble_compatible([])


def test_progress_in_a_log_is_one_line_per_epoch(tmp_path, toy_task, capsys):
    train_ensemble(_group("rnn"), toy_task, TRAINING, [tmp_path / f"n{i}" for i in range(3)])  # not a terminal
    captured = capsys.readouterr()
    log = captured.out + captured.err
    assert "\r" not in log
    lines = [line for line in log.splitlines() if line.startswith("epoch ")]
    assert [line.split(":")[0] for line in lines] == [f"epoch {e}/3" for e in (1, 2, 3)]
    assert all("3 networks" in line and "validation loss" in line and "ETA" in line for line in lines)


def test_the_callers_random_state_is_kept(tmp_path, toy_task):
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    train_ensemble(_group("gru"), toy_task, dataclasses.replace(TRAINING, epochs=1, dropout=0.5),
                   [tmp_path / f"n{i}" for i in range(3)], progress=False)
    assert torch.equal(torch.rand(3), expected)
    assert math.isfinite(read_checkpoint(tmp_path / "n0" / checkpoint_name(1))["val_loss"])


def test_networks_per_pass_follows_its_rules():
    cpu = torch.device("cpu")
    small, large = SequenceModel("gru", 28, 32, 10), SequenceModel("gru", 28, 256, 10)
    assert networks_per_pass(small, cpu, 64, 28) >= 8  # the default run's networks: all of a group together
    assert 1 <= networks_per_pass(large, cpu, 64, 28) < networks_per_pass(small, cpu, 64, 28)
    assert networks_per_pass(large, cpu, 64, 28) <= networks_per_pass(large, cpu, 64, 28, backward=False)
    assert networks_per_pass(SequenceModel("lstm", 28, 32, 10), cpu, 64, 28) == 1
    assert networks_per_pass(large, torch.device("meta"), 64, 28) is None  # other devices: all together


# ------------------------------------------------------------------------------------------- batched arithmetic
#: How far a network of a batched group may be from its single run: relative to each weight tensor's largest entry,
#: after one and after all epochs. Batched products sum in another order than one network's mm (float32 rounding,
#: 1.2e-7 relative); measured on these networks: at most 3e-7.
BATCHED_TOLERANCE = 1e-5


def _assert_close_runs(first, second, epochs) -> None:
    """The checkpoints of two runs of one network agree up to BATCHED_TOLERANCE (weights and validation loss)."""
    for epoch in sorted({1, epochs}):
        mine, theirs = (read_checkpoint(directory / checkpoint_name(epoch)) for directory in (first, second))
        for name, value in theirs["model_state"].items():
            scale = value.abs().max().item()
            torch.testing.assert_close(mine["model_state"][name], value, rtol=0, atol=BATCHED_TOLERANCE * scale,
                                       msg=lambda text, name=name, epoch=epoch: f"{name} after epoch {epoch}: {text}")
        assert mine["val_loss"] == pytest.approx(theirs["val_loss"], rel=BATCHED_TOLERANCE)


@pytest.fixture
def no_networkwise_arithmetic(monkeypatch):
    """Fail if a batched group falls back to one product or one PyTorch recurrent kernel per network."""
    def refuse(*args, **kwargs):
        raise AssertionError("network-wise arithmetic in a batched group")

    monkeypatch.setattr(ensemble_cells, "linear", refuse)
    monkeypatch.setattr(ensemble_cells, "_torch_module_states", refuse)


@pytest.mark.parametrize("variant", list(VARIANTS))
@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_a_batched_group_trains_each_network_as_alone_up_to_rounding(
    tmp_path, toy_task, no_networkwise_arithmetic, architecture, variant
):
    """batched=True (the GPU default): one bmm per product for the group, each network its single run's numbers."""
    training, options = VARIANTS[variant]
    specs = _group(architecture, **options)
    together = train_ensemble(specs, toy_task, training, [tmp_path / f"group{i}" for i in range(3)], batched=True,
                              progress=False)
    for i, spec in enumerate(specs):
        alone = train_network(spec, toy_task, training, tmp_path / f"alone{i}", progress=False)
        assert together[i]["diverged"].tolist() == alone["diverged"].tolist()
        _assert_close_runs(tmp_path / f"group{i}", tmp_path / f"alone{i}", training.epochs)
    assert len({float(frame["train_loss"].iloc[-1]) for frame in together}) == 3


@pytest.mark.parametrize("task_name", ["charlm", "adding"])
@pytest.mark.parametrize("architecture", ["lstm", "asrnn"])
def test_a_batched_group_reads_out_every_step_and_fits_mse(
    tmp_path, other_tasks, no_networkwise_arithmetic, architecture, task_name
):
    task = other_tasks[task_name]
    training = dataclasses.replace(TRAINING, epochs=2, grad_clip=0.5, dropout=0.3)
    specs = _group(architecture)[:2]
    train_ensemble(specs, task, training, [tmp_path / f"group{i}" for i in range(2)], batched=True, progress=False)
    for i, spec in enumerate(specs):
        train_network(spec, task, training, tmp_path / f"alone{i}", progress=False)
        _assert_close_runs(tmp_path / f"group{i}", tmp_path / f"alone{i}", training.epochs)


def test_a_batched_group_keeps_networks_apart(tmp_path, toy_task, no_networkwise_arithmetic):
    """In any group, and next to a network whose loss overflows to NaN, a network trains as alone (up to rounding)."""
    training = dataclasses.replace(TRAINING, grad_clip=0.5, dropout=0.1)
    specs = [NetworkSpec("gru", 8, p, seed) for seed, p in enumerate((0.7, 0.1, 2.0, 0.4, 1.1))]
    diverging = NetworkSpec("gru", 8, 0.8, 7, learning_rate=1e37)
    train_ensemble(specs, toy_task, training, [tmp_path / f"five{i}" for i in range(5)], batched=True,
                   progress=False)
    grouped = train_ensemble(specs[::-1][:2] + [diverging] + specs[::-1][2:], toy_task, training,
                             [tmp_path / f"mixed{i}" for i in range(6)], batched=True, progress=False)
    assert grouped[2]["diverged"].iloc[1:].all()
    for position in range(5):
        mixed = [4, 3, None, 2, 1, 0].index(position)
        assert not grouped[mixed]["diverged"].any()
        _assert_close_runs(tmp_path / f"mixed{mixed}", tmp_path / f"five{position}", training.epochs)
    train_network(specs[3], toy_task, training, tmp_path / "alone", progress=False)
    _assert_close_runs(tmp_path / "five3", tmp_path / "alone", training.epochs)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
@pytest.mark.parametrize("batched", [True, False], ids=["batched", "networkwise"])
@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_cuda_group_matches_cuda_networks_alone(tmp_path, toy_task, architecture, batched):
    """On a GPU (run by benchmarks/gpu_session.sh): the group trains every network as train_network does on the same
    device, up to float32 rounding (the CUDA kernels need not sum in the same order; dropout is off here)."""
    specs = _group(architecture)
    dirs = [tmp_path / f"group{i}" for i in range(len(specs))]
    grouped = train_ensemble(specs, toy_task, TRAINING, dirs, device="cuda", batched=batched, progress=False)
    for index, spec in enumerate(specs):
        alone = train_network(spec, toy_task, TRAINING, tmp_path / f"alone{index}", device="cuda", progress=False)
        pd.testing.assert_series_equal(grouped[index]["val_loss"], alone["val_loss"], rtol=1e-4)
        group_state = read_checkpoint(dirs[index] / checkpoint_name(TRAINING.epochs))["model_state"]
        alone_state = read_checkpoint(tmp_path / f"alone{index}" / checkpoint_name(TRAINING.epochs))["model_state"]
        for name, value in alone_state.items():
            torch.testing.assert_close(group_state[name], value, rtol=1e-4, atol=1e-5)
