"""Networks trained per hour: one network per job (today's path) against a training group, in the same process.

    PYTHONPATH=src python benchmarks/ensemble_training.py                      # CPU, default and paper-mini sizes
    PYTHONPATH=src python benchmarks/ensemble_training.py --device cuda --groups 12 64 --json out.json

For each architecture and size (the default run's: hidden 32, batch 64; paper-mini's: hidden 64, batch 128, no
gradient clipping; both on the embedded digits, 28 steps of 28 pixels) the script trains G networks with different
init parameters for one epoch (all 4,000 training sequences, unless ``--train-sequences`` says fewer), twice:

* **single**: ``train_network`` on each network in turn, as one job per network does (process start-up left out,
  which flatters this path);
* **group**: one ``train_ensemble`` call on all G networks, as one job per training group does, once per
  ``--arithmetic``: ``networkwise`` (one product and one recurrent kernel per network, byte-identical to the single
  runs on the CPU; the CPU default) and ``batched`` (one ``bmm`` per product for the group; the GPU default).

It reports the networks trained per hour of each path (one epoch timed, including the evaluation of the untrained
and the trained network and the checkpoints, counted as a tenth of a 10-epoch job) and their ratio. One torch
thread, as every workflow job.
Not part of the package: the measurement behind benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import torch
from bench_lyapunov import machine_description, write_record

from lyapunov_rnn.config import NetworkSpec, TrainingConfig
from lyapunov_rnn.ensemble import train_ensemble
from lyapunov_rnn.tasks import TaskData, load_task, prepare_task
from lyapunov_rnn.train import train_network

#: (name, hidden size, batch size, gradient clipping): the default run's and paper-mini's training settings.
SIZES = {"default": (32, 64, 1.0), "paper-mini": (64, 128, None)}
EPOCHS = 10


def _task(directory: Path, train_sequences: int | None) -> TaskData:
    path = directory / "task.npz"
    prepare_task({"name": "smnist", "source": "embedded", "test_fraction": 0.2, "split_seed": 0}, path)
    task = load_task(path)
    if train_sequences is None:
        return task
    # A shorter epoch (a quick run); the validation pass keeps its full size.
    return dataclasses.replace(
        task, train_inputs=task.train_inputs[:train_sequences], train_targets=task.train_targets[:train_sequences]
    )


def _specs(architecture: str, hidden_size: int, count: int) -> list[NetworkSpec]:
    return [NetworkSpec(architecture, hidden_size, init_param=0.1 + 0.2 * i, seed=i) for i in range(count)]


def measure(
    architectures: Sequence[str],
    sizes: Sequence[str],
    groups: Sequence[int],
    train_sequences: int | None,
    device: str,
    arithmetics: Sequence[str] = ("networkwise", "batched"),
    report: Callable[[list[dict]], None] | None = None,
) -> list[dict]:
    """Time both paths; ``report`` gets the rows so far after each measurement (a run cut short keeps them)."""
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        task = _task(scratch, train_sequences)
        scale = EPOCHS  # one measured epoch: a tenth of a 10-epoch job
        for size in sizes:
            hidden_size, batch_size, grad_clip = SIZES[size]
            training = TrainingConfig(epochs=1, batch_size=batch_size, learning_rate=0.01, grad_clip=grad_clip)
            for architecture in architectures:
                # Untimed warm-up of both paths (first-call allocations, kernel selection).
                warm = _specs(architecture, hidden_size, 2)
                train_network(warm[0], task, training, scratch / "warm", device=device, progress=False)
                warm_dirs = [scratch / "warm0", scratch / "warm1"]
                for arithmetic in arithmetics:
                    train_ensemble(warm, task, training, warm_dirs, device=device, progress=False,
                                   batched=arithmetic == "batched")
                    for path in scratch.glob("warm*/epoch_*.pt"):
                        path.unlink()
                for count in groups:
                    specs = _specs(architecture, hidden_size, count)
                    started = time.perf_counter()
                    alone = [
                        train_network(spec, task, training, scratch / f"single{index}", device=device, progress=False)
                        for index, spec in enumerate(specs)
                    ]
                    single = time.perf_counter() - started
                    for arithmetic in arithmetics:
                        started = time.perf_counter()
                        together = train_ensemble(
                            specs, task, training, [scratch / f"group{i}" for i in range(count)], device=device,
                            batched=arithmetic == "batched", progress=False,
                        )
                        group = time.perf_counter() - started
                        for path in scratch.glob("group*/epoch_*.pt"):
                            path.unlink()
                        row = {
                            "size": size, "architecture": architecture, "hidden_size": hidden_size,
                            "batch_size": batch_size, "networks": count, "device": device, "arithmetic": arithmetic,
                            "single_s": single, "group_s": group,
                            "single_networks_per_hour": 3600 * count / (single * scale),
                            "group_networks_per_hour": 3600 * count / (group * scale),
                            "speedup": single / group,
                            # Like with like: each network's validation loss after the epoch, group against alone.
                            "max_val_loss_rel_diff": max(
                                abs(grouped["val_loss"].iloc[-1] / single_run["val_loss"].iloc[-1] - 1)
                                for grouped, single_run in zip(together, alone, strict=True)
                            ),
                        }
                        rows.append(row)
                        print(
                            f"{size:>10} {architecture:>5} N={hidden_size:<3} G={count:<3} {arithmetic:>11}: single "
                            f"{single:7.2f} s, group {group:7.2f} s, speed-up {single / group:5.2f}x "
                            f"({row['single_networks_per_hour']:.0f} -> {row['group_networks_per_hour']:.0f} "
                            f"networks/h), validation losses agree to {row['max_val_loss_rel_diff']:.1e}",
                            flush=True,
                        )
                        if report is not None:
                            report(rows)
                    for path in scratch.glob("*/epoch_*.pt"):
                        path.unlink()
    return rows


def main(argv: Sequence[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--architectures", nargs="+", default=["rnn", "lstm", "gru", "asrnn", "cornn"])
    parser.add_argument("--sizes", nargs="+", choices=list(SIZES), default=list(SIZES))
    parser.add_argument("--groups", nargs="+", type=int, default=[1, 4, 12], help="networks per group")
    parser.add_argument("--train-sequences", type=int, help="training sequences of the timed epoch (default all)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--arithmetic", nargs="+", choices=["networkwise", "batched"],
                        default=["networkwise", "batched"], help="the group's arithmetic(s) to time")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (the workflow's jobs use 1)")
    parser.add_argument("--json", type=Path, help="also write the rows as JSON")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    machine = {**machine_description(), "device": args.device}

    def report(rows: list[dict]) -> None:
        if args.json:
            write_record(args.json, machine, args, rows)

    return measure(
        args.architectures, args.sizes, args.groups, args.train_sequences, args.device, args.arithmetic, report
    )

if __name__ == "__main__":
    main()
