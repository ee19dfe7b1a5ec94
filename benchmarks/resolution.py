"""Numerical resolution of an experiment's spectra: which exponents are unresolved, and how far 1 and 2 threads differ.

    PYTHONPATH=src python benchmarks/resolution.py results/default                 # every checkpoint
    PYTHONPATH=src python benchmarks/resolution.py results/paper-mini --epochs 0 10 --json out.json

For every network under ``<results>/networks/`` and each chosen epoch, the script computes the spectrum of the
experiment's driving sequences (the options recorded in ``<results>/lyapunov.nc``: convention, warm-up, dtype,
sequences, rounding check) once with 1 and once with 2 torch threads, and reports per architecture

* how many exponents of the dataset (the mean over sequences) are unresolved (``exponents_resolved`` False), and
  how many per sequence;
* the largest difference between the two thread counts, per sequence and of the mean, separately for resolved and
  unresolved exponents;
* whether the 1-thread means equal the stored ``lyapunov.nc`` values bit for bit (the workflow runs 1 thread).

Not part of the package: a measurement for docs/numerical-resolution.md.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import xarray as xr

from lyapunov_rnn.checkpoints import checkpoint_files, load_checkpoint
from lyapunov_rnn.lyapunov import lyapunov_spectrum
from lyapunov_rnn.tasks import load_task

THREAD_COUNTS = (1, 2)


def _spectra(model: torch.nn.Module, inputs: torch.Tensor, attrs: dict, threads: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-sequence exponents (S, k) and resolved mask (S, k) with ``threads`` torch threads."""
    torch.set_num_threads(threads)
    result = lyapunov_spectrum(
        model,
        inputs,
        warmup=int(attrs["warmup"]),
        convention=attrs["convention"],
        dtype=getattr(torch, attrs["dtype"]),
        rounding_check=bool(attrs.get("rounding_check", 0)),
    )
    return result.exponents.numpy(), result.resolved.numpy()


def measure(results: Path, epochs: Sequence[int] | None) -> list[dict]:
    """One row per (network, checkpoint): counts and largest thread differences."""
    dataset = xr.load_dataset(results / "lyapunov.nc", engine="netcdf4")
    attrs = dataset.attrs
    task = load_task(results / "task.npz")
    first, count = int(attrs.get("first_sequence", 0)), int(attrs["sequences"])
    inputs = task.test_inputs[first : first + count].to(getattr(torch, attrs["dtype"]))
    rows = []
    for network in dataset["network"].values:
        files = checkpoint_files(results / "networks" / str(network) / "checkpoints")
        for checkpoint, path in enumerate(files):
            if epochs is not None and checkpoint not in epochs:
                continue
            model, info = load_checkpoint(path, map_location="cpu")
            if info["diverged"]:
                continue
            runs = {threads: _spectra(model, inputs, attrs, threads) for threads in THREAD_COUNTS}
            (one, resolved), (two, resolved_two) = runs[1], runs[2]
            dataset_mask = resolved.all(axis=0)
            per_sequence = np.abs(one - two)
            of_mean = np.abs(one.mean(axis=0) - two.mean(axis=0))
            size = one.shape[1]
            stored = dataset["exponents"].sel(network=network).isel(checkpoint=checkpoint).values[:size]
            rows.append(
                {
                    "network": str(network),
                    "architecture": str(dataset["architecture"].sel(network=network).item()),
                    "checkpoint": checkpoint,
                    "exponents": size,
                    "unresolved": int((~dataset_mask).sum()),
                    "unresolved_per_sequence": int((~resolved).sum()),
                    "sequence_values": int(resolved.size),
                    "same_mask": bool(np.array_equal(resolved, resolved_two)),
                    "resolved_sequence_diff": float(per_sequence[resolved].max(initial=0.0)),
                    "unresolved_sequence_diff": float(per_sequence[~resolved].max(initial=0.0)),
                    "resolved_mean_diff": float(of_mean[dataset_mask].max(initial=0.0)),
                    "unresolved_mean_diff": float(of_mean[~dataset_mask].max(initial=0.0)),
                    "lowest_resolved": float(one.mean(axis=0)[dataset_mask].min()) if dataset_mask.any() else None,
                    "equals_stored": bool(np.array_equal(one.mean(axis=0), stored)),
                }
            )
    return rows


def summarise(rows: list[dict]) -> str:
    """A markdown table per architecture (and all)."""
    header = (
        "| architecture | spectra | exponents | unresolved (dataset) | unresolved (per sequence) "
        "| same mask 1/2 threads | max diff resolved, per sequence | max diff unresolved, per sequence "
        "| max diff resolved, mean | max diff unresolved, mean | 1-thread mean = stored |\n|" + "---|" * 11
    )
    lines = [header]
    groups = sorted({row["architecture"] for row in rows}) + ["all"]
    for group in groups:
        part = [row for row in rows if group in ("all", row["architecture"])]
        exponents = sum(row["exponents"] for row in part)
        values = sum(row["sequence_values"] for row in part)
        unresolved = sum(row["unresolved"] for row in part)
        per_sequence = sum(row["unresolved_per_sequence"] for row in part)
        lines.append(
            f"| {group} | {len(part)} | {exponents} | {unresolved} ({unresolved / exponents:.1%}) "
            f"| {per_sequence} ({per_sequence / values:.1%}) | {sum(row['same_mask'] for row in part)}/{len(part)} "
            f"| {max(row['resolved_sequence_diff'] for row in part):.1e} "
            f"| {max(row['unresolved_sequence_diff'] for row in part):.2g} "
            f"| {max(row['resolved_mean_diff'] for row in part):.1e} "
            f"| {max(row['unresolved_mean_diff'] for row in part):.2g} "
            f"| {sum(row['equals_stored'] for row in part)}/{len(part)} |"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("results", type=Path, help="results/<experiment> with lyapunov.nc, task.npz, networks/")
    parser.add_argument("--epochs", type=int, nargs="+", default=None, help="checkpoints to measure (default all)")
    parser.add_argument("--json", type=Path, default=None, help="write the per-checkpoint rows here")
    args = parser.parse_args(argv)
    threads = torch.get_num_threads()
    try:
        rows = measure(args.results, args.epochs)
    finally:
        torch.set_num_threads(threads)
    print(summarise(rows))
    if args.json:
        args.json.write_text(json.dumps({"torch": torch.__version__, "rows": rows}, indent=1))
    return rows


if __name__ == "__main__":
    main()
