"""Training of a group of networks as one batched computation, with each network's own checkpoints.

:func:`train_ensemble` trains G networks that share architecture, hidden size,
cell options (:func:`ensemble_compatible`) on one
task, and writes for each of them exactly what
:func:`lyapunov_rnn.train.train_network` writes: the same checkpoint files
(:mod:`lyapunov_rnn.checkpoints`, with the optimiser state in the layout of
:class:`torch.optim.Adam`, the data-order and the dropout random state), the
same resume behaviour and the same metrics.

Each network keeps everything of its own single-network run:

* initial weights: built by :func:`lyapunov_rnn.train.training_setup` from
  its seed, then stacked into (G, ...) tensors;
* data order: its own shuffle generator, so its batches are the single run's;
* dropout: its own generator, holding the state the single run's global
  generator would hold, draws the same masks in the same memory layout;
* Adam (defaults: betas (0.9, 0.999), eps 1e-8, no weight decay) with its
  own learning rate and step count, written out over the stacked tensors
  with the operations of PyTorch's single-tensor CPU implementation;
* gradient clipping over its own parameters, as
  :func:`torch.nn.utils.clip_grad_norm_`;
* divergence: a network whose batch loss is not finite stops there, as in
  :func:`lyapunov_rnn.train.train_epoch` (its weights stay those before that
  batch); the others continue, and their numbers do not depend on it.

What is batched is the arithmetic of the forward and backward pass
(:mod:`lyapunov_rnn.ensemble.cells`), the optimiser step and the
evaluation; every network still gets the numbers of its own run. On the CPU
the checkpoints are byte-identical to those of
:func:`~lyapunov_rnn.train.train_network` and do not depend on which other
networks share the group, as long as PyTorch does not split elementwise
operations across threads (one thread, as the workflow's training jobs, or
groups small enough; see :mod:`lyapunov_rnn.ensemble.cells`).

On a GPU the group runs *batched* by default: one ``torch.bmm`` per matrix
product for all networks and one recurrence for all cells, so that a step
costs the same number of kernel launches for any G. Everything else above
still holds per network (its own data order, dropout masks, Adam, clipping,
divergence), but its numbers equal its single run's only up to floating-point
rounding: weights agree to about 1e-7 of their magnitude after a few steps
(float32). A chaotic network (large init parameter) amplifies such
differences in its forward pass and over the epochs, as it amplifies any
rounding difference, e.g. between two GPUs or cuDNN versions: on the CPU at
paper-mini's size, the validation losses of tanh RNNs with p > 1 differed by
up to 5e-3 (relative) after two steps, with weights equal to 1e-7.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import torch
from tqdm.auto import tqdm

from lyapunov_rnn.checkpoints import (
    checkpoint_name,
    restore_training_state,
    resume_point,
    save_checkpoint,
    training_fingerprint,
)
from lyapunov_rnn.config import NetworkSpec, TrainingConfig, ensemble_key, network_training
from lyapunov_rnn.devices import resolve_device
from lyapunov_rnn.ensemble.cells import cell_constants, ensemble_forward, hidden_layout, networks_per_pass
from lyapunov_rnn.tasks import TaskData, accuracy
from lyapunov_rnn.train import TrainingSetup, _publish, _row, _task_loss, train_network, training_setup

__all__ = ["EVALUATION_BATCH", "EVALUATION_MEMORY", "ensemble_compatible", "train_ensemble"]

#: Test sequences per evaluation batch, as :func:`lyapunov_rnn.train.evaluate` (its losses are averaged per batch).
EVALUATION_BATCH = 1024
#: Bytes of activations one evaluation pass may hold on the CPU (on a GPU, up to a quarter of its free memory);
#: networks are evaluated in as few passes as this allows.
EVALUATION_MEMORY = 2**28


def ensemble_compatible(specs: Sequence[NetworkSpec]) -> None:
    """Check that ``specs`` can be trained as one group.

    They must share :func:`lyapunov_rnn.config.ensemble_key`: architecture,
    hidden size and the cell options of that architecture (``bias`` and the
    options named after it), which fix the shapes and equations of the
    batched computation. Init parameter, input initialisation, seed,
    learning rate, dropout and the options of other cells may differ.

    Raises
    ------
    ValueError
        If ``specs`` is empty, or naming the first setting that differs and
        two networks with their values.
    """
    if not specs:
        raise ValueError("an ensemble needs at least one network")
    first = ensemble_key(specs[0])
    for position, spec in enumerate(specs[1:], start=1):
        key = ensemble_key(spec)
        for setting, mine, theirs in zip(("architecture", "hidden_size", "cell_options"), first, key, strict=True):
            if mine != theirs:
                raise ValueError(
                    f"networks of one ensemble must share {setting}: network 0 has {mine!r}, "
                    f"network {position} has {theirs!r}"
                )


@dataclass
class _Member:
    """One network of the group: its settings, files, single-network objects and progress."""

    spec: NetworkSpec
    training: TrainingConfig
    checkpoint_dir: Path
    work_dir: Path
    setup: TrainingSetup
    dropout_generator: torch.Generator
    fingerprint: str
    rows: list[dict] = field(default_factory=list)
    done: int = -1
    diverged: bool = False


@dataclass
class _GroupState:
    """The stacked weights and Adam state of the G networks (leading dimension G)."""

    weights: dict[str, torch.Tensor]
    exp_avg: dict[str, torch.Tensor]
    exp_avg_sq: dict[str, torch.Tensor]
    steps: list[int]


def train_ensemble(
    specs: Sequence[NetworkSpec],
    task: TaskData,
    training: TrainingConfig,
    checkpoint_dirs: Sequence[str | Path],
    *,
    work_dirs: Sequence[str | Path] | None = None,
    device: str | torch.device | None = None,
    batched: bool | None = None,
    progress: bool = True,
) -> list[pd.DataFrame]:
    """Train the networks of ``specs`` together; each gets the checkpoints of :func:`~lyapunov_rnn.train.train_network`.

    A group of one network is trained by ``train_network`` itself.

    Parameters
    ----------
    specs : sequence of NetworkSpec
        The networks, compatible in the sense of :func:`ensemble_compatible`;
        each spec's ``learning_rate`` and ``dropout``, where not None,
        replace ``training``'s for that network.
    task : TaskData
        Training and validation data.
    training : TrainingConfig
        Optimisation settings (epochs, batch size and gradient clipping are
        shared by the group).
    checkpoint_dirs : sequence of path-like
        One per network: final location of its ``epoch_XXX.pt`` files.
    work_dirs : sequence of path-like, optional
        One per network, distinct: where its checkpoints are written while
        training and from where an interrupted run resumes, as the
        ``work_dir`` of :func:`~lyapunov_rnn.train.train_network`; each
        network resumes from its own last complete checkpoint, so networks
        may continue from different epochs (one already complete is only
        published). Defaults to ``checkpoint_dirs``.
    device : str or torch.device, optional
        Defaults to CUDA when available, else CPU.
    batched : bool, optional
        True: batched products and one recurrence for the group (each
        network's numbers up to rounding; few kernel launches, the GPU's
        way). False: one product and one PyTorch recurrent kernel per
        network (byte-identical checkpoints to ``train_network`` on the
        CPU). Default (None): batched on CUDA, network by network elsewhere.
    progress : bool
        Report progress: a bar over epochs on a terminal, else one line per
        epoch for the group (ranges of its losses and accuracies, duration
        and estimated time left).

    Returns
    -------
    list of pandas.DataFrame
        One per network, in the order of ``specs``, with the columns of
        :func:`~lyapunov_rnn.train.train_network`: epoch, train_loss,
        val_loss, val_accuracy, diverged, seconds. ``seconds`` is the wall
        time of the group's epoch (all networks trained in it), NaN for
        epochs trained before an interruption.

    Raises
    ------
    ValueError
        If the specs cannot share a batch, or the numbers of specs and
        directories differ, or two networks share a checkpoint or work
        directory.
    """
    ensemble_compatible(specs)
    checkpoint_paths = [Path(directory) for directory in checkpoint_dirs]
    work_paths = checkpoint_paths if work_dirs is None else [Path(directory) for directory in work_dirs]
    if not len(specs) == len(checkpoint_paths) == len(work_paths):
        raise ValueError(
            f"{len(specs)} specs but {len(checkpoint_paths)} checkpoint directories and {len(work_paths)} work "
            "directories; give one of each per network"
        )
    for kind, paths in (("checkpoint", checkpoint_paths), ("work", work_paths)):
        if len({path.resolve() for path in paths}) != len(paths):
            raise ValueError(f"two networks of the ensemble share a {kind} directory; each needs its own")
    if len(specs) == 1:  # nothing to batch: train_network itself writes the same files, at its own speed
        return [train_network(specs[0], task, training, checkpoint_paths[0], work_dir=work_paths[0], device=device,
                              progress=progress)]
    device = resolve_device(device)
    batched = device.type == "cuda" if batched is None else batched
    if progress:
        print(f"{len(specs)} networks on {device}, {'batched' if batched else 'network-wise'} arithmetic", flush=True)

    forked = [device.index or 0] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=forked):
        # training_setup and the checkpoints use the global generator: inside fork_rng the caller's state survives.
        members = [
            _member(spec, task, training, checkpoint_dir, work_dir, device)
            for spec, checkpoint_dir, work_dir in zip(specs, checkpoint_paths, work_paths, strict=True)
        ]
        group = _stack(members)
        _Trainer(members, group, task, device, batched=batched).run(progress)

    for member in members:
        if member.work_dir != member.checkpoint_dir:
            member.checkpoint_dir.mkdir(parents=True, exist_ok=True)
            for epoch in range(member.training.epochs + 1):
                _publish(member.work_dir / checkpoint_name(epoch), member.checkpoint_dir / checkpoint_name(epoch))
    columns = list(_row(0, 0.0, 0.0, 0.0, False, 0.0))
    return [pd.DataFrame(member.rows, columns=columns) for member in members]


def _member(
    spec: NetworkSpec, task: TaskData, training: TrainingConfig, checkpoint_dir: Path, work_dir: Path,
    device: torch.device,
) -> _Member:
    """One network set up as :func:`~lyapunov_rnn.train.train_network` sets it up, resumed where it stopped."""
    spec, training = network_training(spec, training)
    work_dir.mkdir(parents=True, exist_ok=True)
    setup = training_setup(spec, task, training, device)
    member = _Member(
        spec, training, checkpoint_dir, work_dir, setup, torch.Generator(), training_fingerprint(spec, training, task)
    )
    resume = resume_point(work_dir, fingerprint=member.fingerprint, spec=spec, training=training, task=task)
    if resume.discarded:
        print(f"not resuming: {resume.discarded}; training from scratch", flush=True)
        for stale in work_dir.glob("epoch_*.pt"):
            stale.unlink()
    if resume.epoch >= 0:
        print(f"resuming after epoch {resume.epoch} from {work_dir / checkpoint_name(resume.epoch)}", flush=True)
        member.rows = restore_training_state(
            resume.payload, model=setup.model, optimizer=setup.optimizer, shuffle=setup.shuffle
        )
        member.done = resume.epoch
        member.diverged = bool(member.rows and member.rows[-1]["diverged"])
    # The single run draws its dropout masks from the global generator, whose state is now the network's.
    member.dropout_generator.set_state(torch.get_rng_state())
    return member


def _stack(members: Sequence[_Member]) -> _GroupState:
    """The members' weights and Adam state as (G, ...) tensors."""
    named = [dict(member.setup.model.named_parameters()) for member in members]
    weights = {name: torch.stack([network[name].detach() for network in named]) for name in named[0]}
    exp_avg = {name: torch.zeros_like(tensor) for name, tensor in weights.items()}
    exp_avg_sq = {name: torch.zeros_like(tensor) for name, tensor in weights.items()}
    steps = [0] * len(members)
    for position, (member, network) in enumerate(zip(members, named, strict=True)):
        state = member.setup.optimizer.state
        for name, parameter in network.items():
            if parameter in state:  # a resumed network that has trained
                exp_avg[name][position] = state[parameter]["exp_avg"]
                exp_avg_sq[name][position] = state[parameter]["exp_avg_sq"]
                steps[position] = int(state[parameter]["step"].item())
    return _GroupState(weights, exp_avg, exp_avg_sq, steps)


class _Trainer:
    """The epochs of one group: batched training and evaluation, one checkpoint per network and epoch."""

    def __init__(
        self, members: list[_Member], group: _GroupState, task: TaskData, device: torch.device, *, batched: bool
    ) -> None:
        self.members = members
        self.batched = batched
        self.group = group
        self.task = task
        self.device = device
        # On the device once (a GPU gathers each batch there, instead of copying G batches per step from the host).
        self.train_inputs, self.train_targets, self.test_inputs, self.test_targets = (
            tensor.to(device) for tensor in (task.train_inputs, task.train_targets, task.test_inputs, task.test_targets)
        )
        self.training = members[0].training
        self.spec = members[0].spec
        self.criterion = members[0].setup.criterion

    # ------------------------------------------------------------------ epochs
    def run(self, progress: bool) -> None:
        """Write every missing checkpoint of every member."""
        fresh = [position for position, member in enumerate(self.members) if member.done < 0]
        if fresh:
            for position, (val_loss, val_accuracy) in zip(fresh, self.evaluate(fresh), strict=True):
                self.save(position, 0, _row(0, float("nan"), val_loss, val_accuracy, False, 0.0))
        epochs = range(min(member.done for member in self.members) + 1, self.training.epochs + 1)
        # A bar on a terminal; in a log file (a workflow job) one line per epoch instead of carriage returns.
        interactive = progress and sys.stderr.isatty()
        description = f"{self.spec.architecture} x{len(self.members)}{' batched' if self.batched else ''}"
        bar = tqdm(epochs, desc=description, disable=not interactive, unit="epoch")
        started = time.perf_counter()
        for epoch in bar:
            began = time.perf_counter()
            taking_part = [position for position, member in enumerate(self.members) if member.done == epoch - 1]
            trainable = [position for position in taking_part if not self.members[position].diverged]
            train_losses = self.train_epoch(trainable) if trainable else {}
            evaluated = [position for position in trainable if not self.members[position].diverged]
            validation = dict(zip(evaluated, self.evaluate(evaluated), strict=True)) if evaluated else {}
            seconds = time.perf_counter() - began
            for position in taking_part:
                val_loss, val_accuracy = validation.get(position, (float("nan"), float("nan")))
                diverged = self.members[position].diverged
                row = _row(epoch, train_losses.get(position, float("nan")), val_loss, val_accuracy, diverged, seconds)
                self.save(position, epoch, row)
            bar.set_postfix(networks=len(taking_part), diverged=sum(self.members[p].diverged for p in taking_part))
            if progress and not interactive:
                done = epoch - epochs.start + 1
                remaining = (time.perf_counter() - started) / done * (len(epochs) - done)
                print(f"epoch {epoch}/{self.training.epochs}: {self._summary(taking_part)}, {seconds:.1f} s, "
                      f"ETA {remaining:.0f} s", flush=True)

    def _summary(self, positions: list[int]) -> str:
        """The ranges of this epoch's metrics over ``positions``, for the log."""
        rows = [self.members[position].rows[-1] for position in positions]

        def extent(key: str, digits: str) -> str:
            values = [row[key] for row in rows if math.isfinite(row[key])]
            if not values:
                return "nan"
            low, high = min(values), max(values)
            return f"{low:{digits}}" if low == high else f"{low:{digits}} to {high:{digits}}"

        diverged = sum(row["diverged"] for row in rows)
        return (
            f"{len(rows)} networks ({diverged} diverged), train loss {extent('train_loss', '.4g')}, "
            f"validation loss {extent('val_loss', '.4g')}, validation accuracy {extent('val_accuracy', '.3f')}"
        )

    # ---------------------------------------------------------------- training
    def train_epoch(self, positions: list[int]) -> dict[int, float]:
        """One pass over the training set for the members at ``positions``: their mean losses (NaN if diverged)."""
        task, batch_size = self.task, self.training.batch_size
        n = task.train_inputs.shape[0]
        orders = {position: torch.randperm(n, generator=self.members[position].setup.shuffle) for position in positions}
        totals = dict.fromkeys(positions, 0.0)
        active = list(positions)
        for start in range(0, n, batch_size):
            index = torch.stack([orders[position][start : start + batch_size] for position in active])
            on_device = index.to(self.device)
            inputs, targets = self.train_inputs[on_device], self.train_targets[on_device]
            # Forward and backward pass by pass (lyapunov_rnn.ensemble.cells.networks_per_pass), so that only one
            # pass's activations are alive at a time.
            values, finite_rows, grad_parts = [], [], {name: [] for name in self.group.weights}
            for first, passing in self._passes(active, inputs.shape[1], inputs.shape[2]):
                weights = {
                    name: self._rows(tensor, passing).detach().requires_grad_(True)
                    for name, tensor in self.group.weights.items()
                }
                rows = slice(first, first + len(passing))
                outputs = ensemble_forward(
                    weights,
                    inputs[rows],
                    model=self.members[0].setup.model,
                    dropout_noise=self._dropout_noise(passing, inputs.shape[1], inputs.shape[2]),
                    constants=self._constants(passing),
                    batched=self.batched,
                )
                losses = self._losses(outputs, targets[rows])
                pass_values = losses.detach().tolist()
                finite = [row for row, value in enumerate(pass_values) if math.isfinite(value)]
                if finite:  # as train_epoch: a network whose loss is not finite stops before the step
                    losses[finite].sum().backward()
                    selected = torch.tensor(finite, device=self.device)
                    for name, leaf in weights.items():
                        grad_parts[name].append(leaf.grad if len(finite) == len(passing) else
                                                leaf.grad.index_select(0, selected))
                values += pass_values
                finite_rows += [first + row for row in finite]
            for row, value in enumerate(values):
                if not math.isfinite(value):
                    self.members[active[row]].diverged = True
            if finite_rows:
                grads = {name: torch.cat(parts) for name, parts in grad_parts.items()}
                if self.training.grad_clip is not None:
                    _clip_gradients(grads, self.training.grad_clip)
                self._adam_step([active[row] for row in finite_rows], grads)
                for row in finite_rows:
                    totals[active[row]] += values[row] * index.shape[1]
            active = [active[row] for row in finite_rows]
            if not active:
                break
        return {position: float("nan") if self.members[position].diverged else totals[position] / n
                for position in positions}

    def _losses(self, outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Each network's task loss on its batch: (G, ...) outputs and targets -> (G,) losses.

        Network-wise, the loss of each network alone (its single run's bits);
        batched, one vectorised call for the group (``torch.vmap``).
        """
        if self.batched:
            return torch.vmap(lambda output, target: _task_loss(self.criterion, output, target))(outputs, targets)
        return torch.stack(
            [_task_loss(self.criterion, output, target) for output, target in zip(outputs, targets, strict=True)]
        )

    def _passes(
        self, positions: list[int], batch: int, steps: int, *, backward: bool = True
    ) -> list[tuple[int, list[int]]]:
        """``positions`` in runs of at most :func:`~lyapunov_rnn.ensemble.cells.networks_per_pass` networks.

        Each run with the index of its first member in ``positions``. Batched
        groups run in one pass: the cache rules are those of the network-wise
        CPU arithmetic.
        """
        model = self.members[0].setup.model
        per_pass = None if self.batched else networks_per_pass(model, self.device, batch, steps, backward=backward)
        size = per_pass or len(positions)
        return [(first, positions[first : first + size]) for first in range(0, len(positions), size)]

    @staticmethod
    def _rows(tensor: torch.Tensor, positions: list[int]) -> torch.Tensor:
        """``tensor`` (G, ...) restricted to the members at ``positions``: a view when they are consecutive."""
        if _consecutive(positions):
            return tensor[positions[0] : positions[0] + len(positions)]
        return tensor.index_select(0, torch.tensor(positions, device=tensor.device))

    def _dropout_noise(self, positions: list[int], batch: int, steps: int) -> torch.Tensor | None:
        """Each member's dropout mask divided by its keep probability, drawn as its single run draws it.

        None when no member drops out. Masks are drawn on the CPU from each
        member's generator (whose state the checkpoints keep) in the memory
        layout of the single network's hidden states.
        """
        rates = [self.members[position].training.dropout for position in positions]
        if not any(rate > 0 for rate in rates):
            return None
        layout = hidden_layout(self.spec.architecture, self.task.readout, batch, steps, self.spec.hidden_size)
        noise = []
        for position, rate in zip(positions, rates, strict=True):
            if rate == 0:  # dropout(p=0) returns its input: multiplying by one is exact
                noise.append(torch.ones(layout))
            elif rate == 1:  # dropout(p=1) multiplies by zero without drawing
                noise.append(torch.zeros(layout))
            else:  # ATen's CPU dropout: bernoulli_(1 - p) from the generator, then div_(1 - p)
                generator = self.members[position].dropout_generator
                noise.append(torch.empty(layout).bernoulli_(1 - rate, generator=generator).div_(1 - rate))
        return torch.stack(noise).to(self.device)

    @torch.no_grad()
    def _adam_step(self, positions: list[int], grads: dict[str, torch.Tensor]) -> None:
        """One Adam step of the members at ``positions`` (grads: (len(positions), ...)).

        The operations of ``torch.optim.adam._single_tensor_adam`` (PyTorch's
        CPU Adam) with each network's learning rate and bias corrections, the
        per-network numbers as (len(positions), 1, ...) columns.
        """
        # training_setup gives every network Adam's defaults; only the learning rate is the network's own.
        defaults = self.members[0].setup.optimizer.param_groups[0]
        (beta1, beta2), eps = defaults["betas"], defaults["eps"]
        corrections, step_sizes = [], []
        for position in positions:
            self.group.steps[position] += 1
            step = float(self.group.steps[position])
            corrections.append((1 - beta2**step) ** 0.5)
            step_sizes.append(self.members[position].setup.optimizer.param_groups[0]["lr"] / (1 - beta1**step))
        for name, grad in grads.items():
            column = (len(positions),) + (1,) * (grad.ndim - 1)
            correction = torch.tensor(corrections, dtype=grad.dtype, device=grad.device).view(column)
            negative_step = torch.tensor([-size for size in step_sizes], dtype=grad.dtype, device=grad.device)
            stored = (self.group.weights[name], self.group.exp_avg[name], self.group.exp_avg_sq[name])
            weights, exp_avg, exp_avg_sq = (self._rows(tensor, positions) for tensor in stored)
            exp_avg.lerp_(grad, 1 - beta1)
            exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
            denominator = (exp_avg_sq.sqrt() / correction).add_(eps)
            # addcdiv_(exp_avg, denominator, value=-step_size) computes self + (value * exp_avg) / denominator.
            weights.add_(negative_step.view(column) * exp_avg / denominator)
            if not _consecutive(positions):  # _rows copied them
                index = torch.tensor(positions, device=grad.device)
                for tensor, updated in zip(stored, (weights, exp_avg, exp_avg_sq), strict=True):
                    tensor.index_copy_(0, index, updated)

    # -------------------------------------------------------------- evaluation
    @torch.no_grad()
    def evaluate(self, positions: list[int]) -> list[tuple[float, float]]:
        """Validation loss and accuracy of the members at ``positions``, as :func:`~lyapunov_rnn.train.evaluate`."""
        task = self.task
        n, steps = task.test_inputs.shape[:2]
        per_network = 4 * min(n, EVALUATION_BATCH) * steps * (6 * self.spec.hidden_size + task.input_size)
        per_pass = max(1, _evaluation_memory(self.device) // per_network)
        results = []
        for _, interleaved in self._passes(positions, min(n, EVALUATION_BATCH), steps, backward=False):
            for first in range(0, len(interleaved), per_pass):
                results += self._evaluate_pass(interleaved[first : first + per_pass])
        return results

    def _constants(self, passing: list[int]) -> dict[str, torch.Tensor]:
        """The cell constants of the members at ``passing`` (an ASRNN's gamma may be each network's p)."""
        models = [self.members[index].setup.model for index in passing]
        dtype = next(models[0].parameters()).dtype
        return cell_constants(models, dtype, self.device)

    def _evaluate_pass(self, passing: list[int]) -> list[tuple[float, float]]:
        """:meth:`evaluate` of the members at ``passing``, as one batched computation."""
        task = self.task
        n = task.test_inputs.shape[0]
        weights = {name: self._rows(tensor, passing) for name, tensor in self.group.weights.items()}
        totals, outputs = [0.0] * len(passing), [[] for _ in passing]
        for start in range(0, n, EVALUATION_BATCH):
            inputs = self.test_inputs[start : start + EVALUATION_BATCH]
            targets = self.test_targets[start : start + EVALUATION_BATCH]
            batch_outputs = ensemble_forward(
                weights,
                inputs.expand(len(passing), *inputs.shape),
                model=self.members[0].setup.model,
                training=False,
                constants=self._constants(passing),
                batched=self.batched,
            )
            # One transfer to the host per batch (each network's float32 loss as .item() would give it).
            values = self._losses(batch_outputs, targets.expand(len(passing), *targets.shape)).tolist()
            host_outputs = batch_outputs.cpu()
            for row in range(len(passing)):
                totals[row] += values[row] * inputs.shape[0]
                outputs[row].append(host_outputs[row])
        results = []
        for total, pieces in zip(totals, outputs, strict=True):
            network_outputs = torch.cat(pieces)
            if not torch.isfinite(network_outputs).all():
                results.append((float("nan"), float("nan")))
            else:
                results.append((total / n, accuracy(network_outputs, task.test_targets, task)))
        return results

    # ------------------------------------------------------------- checkpoints
    def save(self, position: int, epoch: int, row: dict) -> None:
        """Write member ``position``'s checkpoint after ``epoch`` through its own model and Adam."""
        member = self.members[position]
        member.rows.append(row)
        model, optimizer = member.setup.model, member.setup.optimizer
        with torch.no_grad():
            for name, parameter in model.named_parameters():
                parameter.copy_(self.group.weights[name][position])
                if self.group.steps[position] == 0:
                    continue
                # The layout Adam gives its state (torch.optim.Adam._init_group): step, exp_avg, exp_avg_sq.
                state = optimizer.state[parameter]
                if not state:
                    state["step"] = torch.tensor(0.0, dtype=_scalar_dtype())
                    state["exp_avg"] = torch.zeros_like(parameter, memory_format=torch.preserve_format)
                    state["exp_avg_sq"] = torch.zeros_like(parameter, memory_format=torch.preserve_format)
                state["step"].fill_(float(self.group.steps[position]))
                state["exp_avg"].copy_(self.group.exp_avg[name][position])
                state["exp_avg_sq"].copy_(self.group.exp_avg_sq[name][position])
        # The checkpoint records the global generator: the state the single run's would have.
        torch.set_rng_state(member.dropout_generator.get_state())
        save_checkpoint(
            member.work_dir / checkpoint_name(epoch),
            epoch=epoch,
            spec=member.spec,
            training=member.training,
            task=self.task,
            history=member.rows,
            model=model,
            optimizer=optimizer,
            shuffle=member.setup.shuffle,
            fingerprint=member.fingerprint,
        )
        member.done = epoch


def _evaluation_memory(device: torch.device) -> int:
    """Bytes one evaluation pass may hold: :data:`EVALUATION_MEMORY`, or on a GPU up to a quarter of its free memory."""
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return max(EVALUATION_MEMORY, free // 4)
    return EVALUATION_MEMORY


def _consecutive(positions: list[int]) -> bool:
    """Whether ``positions`` are consecutive ascending integers (a slice of the group)."""
    return positions == list(range(positions[0], positions[0] + len(positions)))


def _scalar_dtype() -> torch.dtype:
    """The dtype of Adam's ``step`` (``torch.optim.optimizer._get_scalar_dtype``)."""
    return torch.float64 if torch.get_default_dtype() == torch.float64 else torch.float32


@torch.no_grad()
def _clip_gradients(grads: dict[str, torch.Tensor], max_norm: float) -> None:
    """Scale each network's gradients to total 2-norm at most ``max_norm``, as ``clip_grad_norm_``.

    ``coef = max_norm / (norm + 1e-6)`` clamped at 1, with ``norm`` the
    2-norm of the norms of that network's parameter gradients.
    """
    norms = torch.stack(
        [torch.linalg.vector_norm(grad.flatten(1), 2.0, dim=1) for grad in grads.values()], dim=1
    )
    total = torch.linalg.vector_norm(norms, 2.0, dim=1)
    coefficient = torch.clamp((total + 1e-6).reciprocal() * max_norm, max=1.0)
    for grad in grads.values():
        grad.mul_(coefficient.view((-1,) + (1,) * (grad.ndim - 1)))
