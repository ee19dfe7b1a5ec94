"""Estimate the compute cost of an experiment config by timing a few real steps.

For every distinct (architecture, hidden_size) of a config's network grid
(``init_param`` and ``seed`` do not change the cost), the script builds the
first such network with the library's own :func:`lyapunov_rnn.train.training_setup`
(model, optimiser and loss exactly as :func:`~lyapunov_rnn.train.train_network`
builds them) and times, on the chosen device:

* **training**: ``--steps`` optimiser steps at the config's batch size, by
  calling the workflow's own epoch loop (:func:`lyapunov_rnn.train.train_epoch`,
  gradient clipping included) on a training split of exactly
  ``steps * batch_size`` sequences, after a one-step warm-up epoch;
* **one spectrum**: :func:`lyapunov_rnn.lyapunov.lyapunov_spectrum` on the
  first ``lyapunov.sequences`` test sequences with the config's ``warmup``,
  ``k``, ``convention``, ``dtype`` and ``rounding_check``, exactly as
  :func:`lyapunov_rnn.spectra.network_spectra` calls it for one checkpoint,
  after a warm-up call on a short prefix of the sequences.

No dataset is downloaded or built: each task reports its split sizes and
shapes from the config alone (:func:`lyapunov_rnn.tasks.task_shape`), and the
timed data are random tensors of those shapes (the cost does not depend on
the values). The timings are then extrapolated per network::

    training = s/step * ceil(train_size / batch_size) * epochs
               + (epochs + 1) * ceil(test_size / batch_size) * s/step * EVAL_STEP_FRACTION
    spectra  = s/spectrum * (epochs + 1) * input_sets  # one spectrum per checkpoint and input set

(``input_sets`` is 2 with ``analysis.novel_inputs``, which computes every
spectrum a second time from other test sequences) and multiplied by the number
of networks of that (architecture, hidden_size).
The workflow runs every ``train`` and ``spectra`` job with one thread
(``threads: 1``), so ``--threads 1`` on a CPU measures the per-job cost, and the
total is then in core-hours; on CUDA it is GPU-hours (one job per GPU).

Limits: this is an estimate, good to within perhaps a factor of 2. It excludes
job scheduling and start-up overhead (Python and library imports, CUDA context
creation), data loading and preparation (downloads, ``prepare_task``),
checkpoint writing and loading, AeLLE training, the analysis and the plots. It
assumes no network diverges (a diverged network stops training and gets NaN
spectra, so it costs less) and, for ``charlm`` with ``max_characters``, the
full 65-character vocabulary. Timings on a machine shared with other work are
inflated by that work. The validation passes are not timed but estimated (see
:data:`EVAL_STEP_FRACTION`).

Usage::

    python benchmarks/estimate_cost.py config.yaml
    python benchmarks/estimate_cost.py experiments/paper-smnist.yaml --device cuda --steps 20
    python benchmarks/estimate_cost.py experiments/*.yaml --threads 1 --json cost.json
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from timing import timed

from lyapunov_rnn import lyapunov_spectrum
from lyapunov_rnn.analysis.tables import to_markdown
from lyapunov_rnn.config import LyapunovConfig, NetworkSpec, TrainingConfig, load_config, network_specs
from lyapunov_rnn.tasks import TaskData, TaskShape, get_task, task_shape
from lyapunov_rnn.train import train_epoch, training_setup

SEED = 0

#: Cost of one validation batch relative to one training step of the same
#: batch size. Not timed: a forward pass without gradients is roughly a third
#: of forward + backward + optimiser step. ``evaluate`` actually uses batches
#: of 1024, which are cheaper per sequence, so this errs on the high side.
EVAL_STEP_FRACTION = 1 / 3

#: Time steps of the warm-up spectrum call beyond the config's ``warmup``.
WARMUP_SPECTRUM_STEPS = 2


@dataclass(frozen=True)
class GroupCost:
    """Measured and extrapolated cost of the networks of one (architecture, hidden_size).

    Attributes
    ----------
    architecture : str
    hidden_size : int
    networks : int
        Networks of the grid with this architecture and size.
    seconds_per_step : float
        One optimiser step at the config's batch size.
    seconds_per_spectrum : float
        One spectrum of one checkpoint.
    hours_training, hours_spectra : float
        Extrapolated totals over all ``networks``.
    """

    architecture: str
    hidden_size: int
    networks: int
    seconds_per_step: float
    seconds_per_spectrum: float
    hours_training: float
    hours_spectra: float


def synthetic_task(shape: TaskShape, train_size: int, test_size: int, generator: torch.Generator) -> TaskData:
    """A :class:`TaskData` of random tensors with the shapes of ``shape``.

    Parameters
    ----------
    shape : TaskShape
        The task to imitate.
    train_size, test_size : int
        Number of sequences in each split.
    generator : torch.Generator
        Source of the random values.

    Returns
    -------
    TaskData
        CPU tensors, as :func:`lyapunov_rnn.tasks.load_task` returns them:
        one-hot inputs for tasks that store them one-hot (``charlm``), values in
        [0, 1) otherwise.
    """
    one_hot = get_task(shape.name).input_encoding == "one_hot"

    def inputs(size: int) -> torch.Tensor:
        dims = (size, shape.sequence_length)
        if one_hot:
            indices = torch.randint(shape.input_size, dims, generator=generator)
            return torch.nn.functional.one_hot(indices, shape.input_size).float()
        return torch.rand(*dims, shape.input_size, generator=generator)

    def targets(size: int) -> torch.Tensor:
        if shape.loss == "mse":
            return 2 * torch.rand(size, generator=generator)
        dims = (size, shape.sequence_length) if shape.readout == "every" else (size,)
        return torch.randint(shape.output_size, dims, generator=generator)

    return TaskData(
        name=shape.name,
        train_inputs=inputs(train_size),
        train_targets=targets(train_size),
        test_inputs=inputs(test_size),
        test_targets=targets(test_size),
        input_size=shape.input_size,
        output_size=shape.output_size,
        readout=shape.readout,
        loss=shape.loss,
        metadata={"source": "synthetic (benchmarks/estimate_cost.py)"},
    )


def time_group(
    spec: NetworkSpec,
    shape: TaskShape,
    training: TrainingConfig,
    lyapunov: LyapunovConfig,
    steps: int,
    device: torch.device,
) -> tuple[float, float]:
    """Time training steps and one spectrum of the network ``spec``.

    Parameters
    ----------
    spec : NetworkSpec
        The network (its ``init_param`` does not change the cost).
    shape : TaskShape
        The task's shapes.
    training : TrainingConfig
        Batch size, learning rate, clipping and dropout of the experiment.
    lyapunov : LyapunovConfig
        The config's ``lyapunov`` section.
    steps : int
        Optimiser steps to time, after one warm-up step.
    device : torch.device
        Where to compute.

    Returns
    -------
    seconds_per_step, seconds_per_spectrum : float

    Raises
    ------
    ValueError
        If ``lyapunov.sequences`` exceeds the test split (as ``network_spectra``).
    RuntimeError
        If the training loss on the random data is not finite (the timed
        epoch would have stopped early).
    """
    sequences = lyapunov.sequences
    if sequences > shape.test_size:
        raise ValueError(f"lyapunov.sequences={sequences} exceeds the {shape.test_size} test sequences of {shape.name}")
    generator = torch.Generator().manual_seed(SEED)
    warmup_task = synthetic_task(shape, training.batch_size, sequences, generator)
    task = synthetic_task(shape, steps * training.batch_size, sequences, generator)

    model, optimizer, criterion, shuffle = training_setup(spec, task, training, device)
    train_epoch(model, warmup_task, training, optimizer, criterion, shuffle, device)
    seconds, loss = timed(lambda: train_epoch(model, task, training, optimizer, criterion, shuffle, device), device)
    if not math.isfinite(loss):
        raise RuntimeError(f"{spec.architecture} N={spec.hidden_size}: non-finite training loss on random data")
    seconds_per_step = seconds / steps

    # As network_spectra for one checkpoint: the model in eval mode, the first test sequences.
    model.eval()
    dtype = getattr(torch, lyapunov.dtype)
    inputs = task.test_inputs[:sequences].to(device=device, dtype=dtype)
    options = {
        "k": lyapunov.k, "warmup": lyapunov.warmup, "convention": lyapunov.convention, "dtype": dtype,
        "rounding_check": lyapunov.rounding_check,  # a second, jittered run: about twice the cost
    }
    lyapunov_spectrum(model, inputs[:, : lyapunov.warmup + WARMUP_SPECTRUM_STEPS], **options)
    seconds_per_spectrum, _ = timed(lambda: lyapunov_spectrum(model, inputs, **options), device)
    return seconds_per_step, seconds_per_spectrum


def time_first_trainable(
    specs: list[NetworkSpec],
    shape: TaskShape,
    training: TrainingConfig,
    lyapunov: LyapunovConfig,
    steps: int,
    device: torch.device,
    attempts: int = 5,
) -> tuple[float, float]:
    """:func:`time_group` of the first of ``specs`` whose training loss stays finite on random data.

    A network with a large p and no gradient clipping can diverge within the
    timed steps, which would stop the timed epoch early; such a network costs
    less in the workflow (it stops training), so it is skipped here.

    Raises
    ------
    RuntimeError
        If the first ``attempts`` networks all diverge.
    """
    for spec in specs[:attempts]:
        try:
            return time_group(spec, shape, training, lyapunov, steps, device)
        except RuntimeError as error:
            print(f"  {error}; trying the next network", file=sys.stderr, flush=True)
    raise RuntimeError(f"the first {attempts} {specs[0].architecture} N={specs[0].hidden_size} networks all diverge")


def network_seconds(
    seconds_per_step: float, seconds_per_spectrum: float, shape: TaskShape, training: TrainingConfig
) -> tuple[float, float]:
    """Extrapolate the timings to one network's training and spectra jobs.

    Parameters
    ----------
    seconds_per_step, seconds_per_spectrum : float
        Measured by :func:`time_group`.
    shape : TaskShape
        Split sizes.
    training : TrainingConfig
        Epochs and batch size.

    Returns
    -------
    training_seconds, spectra_seconds : float
        Training: every epoch's steps, plus a validation pass over the test
        split after every epoch and before the first (see
        :data:`EVAL_STEP_FRACTION`). Spectra: one per checkpoint (``epochs + 1``).
    """
    train_steps = math.ceil(shape.train_size / training.batch_size) * training.epochs
    validation_batches = math.ceil(shape.test_size / training.batch_size) * (training.epochs + 1)
    training_seconds = seconds_per_step * (train_steps + EVAL_STEP_FRACTION * validation_batches)
    return training_seconds, seconds_per_spectrum * (training.epochs + 1)


def estimate_config(path: Path, steps: int, device: torch.device) -> dict[str, Any]:
    """Estimate the cost of one experiment config.

    Parameters
    ----------
    path : Path
        The YAML config.
    steps : int
        Optimiser steps to time per (architecture, hidden_size).
    device : torch.device
        Where to compute.

    Returns
    -------
    dict
        ``config``, ``experiment``, ``task`` (a :class:`TaskShape` as a dict),
        ``training``, ``lyapunov``, ``groups`` (a list of :class:`GroupCost`
        as dicts), ``networks``, ``hours_training``, ``hours_spectra`` and
        ``hours``.
    """
    config = load_config(path)
    shape = task_shape(config.task)
    training = config.training
    specs = network_specs(config)
    by_kind: dict[tuple[str, int], list[NetworkSpec]] = {}
    for spec in specs:
        by_kind.setdefault((spec.architecture, spec.hidden_size), []).append(spec)
    groups = []
    for (architecture, hidden_size), members in by_kind.items():
        print(f"{path}: timing {architecture} N={hidden_size} ...", file=sys.stderr, flush=True)
        per_step, per_spectrum = time_first_trainable(members, shape, training, config.lyapunov, steps, device)
        training_seconds, spectra_seconds = network_seconds(per_step, per_spectrum, shape, training)
        spectra_seconds *= 2 if config.analysis.novel_inputs else 1
        count = len(members)
        groups.append(
            GroupCost(
                architecture=str(architecture),
                hidden_size=int(hidden_size),
                networks=count,
                seconds_per_step=per_step,
                seconds_per_spectrum=per_spectrum,
                hours_training=count * training_seconds / 3600,
                hours_spectra=count * spectra_seconds / 3600,
            )
        )
    hours_training = sum(group.hours_training for group in groups)
    hours_spectra = sum(group.hours_spectra for group in groups)
    return {
        "config": str(path),
        "experiment": config.experiment,
        "task": asdict(shape),
        "training": asdict(training),
        "lyapunov": asdict(config.lyapunov),
        "groups": [asdict(group) for group in groups],
        "networks": len(specs),
        "hours_training": hours_training,
        "hours_spectra": hours_spectra,
        "hours": hours_training + hours_spectra,
    }


def machine_description(device: torch.device) -> dict[str, Any]:
    """The device, CPU, torch version and thread count the timings were taken with."""
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
    else:
        name = platform.processor() or platform.machine()
        cpuinfo = Path("/proc/cpuinfo")
        if cpuinfo.is_file():
            lines = cpuinfo.read_text().splitlines()
            models = [line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")]
            name = models[0] if models else name
    return {
        "device": device.type,
        "device_name": name,
        "logical_cpus": os.cpu_count(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "threads": torch.get_num_threads(),
    }


def report(estimate: Mapping[str, Any], machine: Mapping[str, Any]) -> str:
    """Plain-text report of one config: setting, markdown table and total line."""
    task, training, lyapunov = estimate["task"], estimate["training"], estimate["lyapunov"]
    table = pd.DataFrame(estimate["groups"]).rename(
        columns={
            "seconds_per_step": "s/step",
            "seconds_per_spectrum": "s/spectrum",
            "hours_training": "hours training",
            "hours_spectra": "hours spectra",
        }
    )
    lines = [
        f"## {estimate['config']} (experiment {estimate['experiment']})",
        "",
        f"task {task['name']}: {task['train_size']} train / {task['test_size']} test sequences of "
        f"{task['sequence_length']} steps x {task['input_size']} inputs; batch {training['batch_size']}, "
        f"{training['epochs']} epochs; spectra of {lyapunov['sequences']} sequences, warmup {lyapunov['warmup']}, "
        f"k {lyapunov['k']}, {lyapunov['convention']}, {lyapunov['dtype']}",
        "",
        to_markdown(table),
        f"{estimate['config']}: {estimate['networks']} networks, estimated {estimate['hours']:.3g} device-hours "
        f"on {machine['device']} (torch threads {machine['threads']}): "
        f"{estimate['hours_training']:.3g} training, {estimate['hours_spectra']:.3g} spectra",
    ]
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("configs", nargs="+", type=Path, metavar="CONFIG", help="experiment config YAML files")
    parser.add_argument(
        "--device", choices=["cpu", "cuda"], default=None, help="where to compute (default: cuda if available)"
    )
    parser.add_argument("--steps", type=int, default=5, help="optimiser steps timed per network type (default 5)")
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (the workflow's jobs use 1)")
    parser.add_argument("--json", type=Path, default=None, metavar="OUT", help="also write the numbers as JSON")
    args = parser.parse_args(argv)
    if args.steps < 1:
        parser.error("--steps must be >= 1")
    if args.threads is not None and args.threads < 1:
        parser.error("--threads must be >= 1")
    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda: CUDA is not available")
    return args


def main(argv: list[str] | None = None) -> None:
    """Estimate every config given on the command line and print the reports."""
    args = parse_args(argv)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    machine = machine_description(device)
    print(
        f"# Cost estimate on {machine['device_name']} ({machine['device']}, {machine['logical_cpus']} logical CPUs), "
        f"torch {machine['torch']}, Python {machine['python']}, torch threads {machine['threads']}\n"
        f"# timed: {args.steps} optimiser steps after 1 warm-up step, 1 spectrum after a warm-up call, seed {SEED}\n"
    )
    estimates = []
    for path in args.configs:
        estimate = estimate_config(path, args.steps, device)
        print(report(estimate, machine), "\n", flush=True)
        estimates.append(estimate)
    if args.json is not None:
        payload = {"machine": machine, "steps": args.steps, "seed": SEED, "configs": estimates}
        args.json.write_text(json.dumps(payload, indent=2) + "\n")


if __name__ == "__main__":
    main()
