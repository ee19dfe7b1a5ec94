"""What the rounding check changes: thread agreement of the resolved exponents with and without it.

    PYTHONPATH=src python benchmarks/rounding_check.py results/default
    PYTHONPATH=src python benchmarks/rounding_check.py results/default --networks <network id> ...

For each network (default: every architecture at p = 0.1, 1.2, 5 and 8, as in docs/numerical-resolution.md) and
every checkpoint, the script computes the spectrum of the experiment's first driving sequences on 1 and on 2 torch
threads, with the one-step floor only and with ``rounding_check=True``, and prints one JSON line per network: how
many per-sequence exponents each mask calls resolved, the largest thread difference among them (per sequence and
of the mean over sequences, in the experiment's units) and whether the checked masks agree across thread counts.
Not part of the package: a measurement for docs/numerical-resolution.md.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch
import xarray as xr

from lyapunov_rnn.checkpoints import checkpoint_files, load_checkpoint
from lyapunov_rnn.lyapunov import LyapunovResult, lyapunov_spectrum
from lyapunov_rnn.tasks import load_task

DEFAULT_INIT_PARAMS = ("0.1", "1.2", "5", "8")


def _largest(values: torch.Tensor) -> float:
    return float(values.max()) if values.numel() else 0.0


def measure(results: Path, networks: list[str]) -> list[dict]:
    attrs = xr.open_dataset(results / "lyapunov.nc", engine="netcdf4").attrs
    task = load_task(results / "task.npz")
    dtype = getattr(torch, attrs["dtype"])
    inputs = task.test_inputs[: int(attrs["sequences"])].to(dtype)
    options = dict(warmup=int(attrs["warmup"]), convention=attrs["convention"], dtype=dtype)
    rows = []
    for network in networks:
        row = dict(network=network, exponents=0, masks_equal=True)
        for name in ("floor", "checked"):
            row.update({f"{name}_resolved": 0, f"{name}_diff": 0.0, f"{name}_mean_diff": 0.0})
        for path in checkpoint_files(results / "networks" / network / "checkpoints"):
            model, info = load_checkpoint(path, map_location="cpu")
            if info["diverged"]:
                continue
            runs: dict[tuple[str, int], LyapunovResult] = {}
            for threads in (1, 2):
                torch.set_num_threads(threads)
                runs["floor", threads] = lyapunov_spectrum(model, inputs, **options)
                runs["checked", threads] = lyapunov_spectrum(model, inputs, rounding_check=True, **options)
            for name in ("floor", "checked"):
                one, two = runs[name, 1], runs[name, 2]
                both = one.resolved & two.resolved
                row[f"{name}_resolved"] += int(one.resolved.sum())
                row[f"{name}_diff"] = max(row[f"{name}_diff"], _largest((one.exponents - two.exponents).abs()[both]))
                means = (one.exponents.mean(0) - two.exponents.mean(0)).abs()
                all_resolved = one.resolved.all(0) & two.resolved.all(0)
                row[f"{name}_mean_diff"] = max(row[f"{name}_mean_diff"], _largest(means[all_resolved]))
            row["masks_equal"] &= bool(torch.equal(runs["checked", 1].resolved, runs["checked", 2].resolved))
            row["exponents"] += runs["floor", 1].exponents.numel()
        rows.append(row)
        print(json.dumps(row), flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("results", type=Path, help="an experiment's results directory (results/<experiment>)")
    parser.add_argument("--networks", nargs="+", help="network ids (default: rnn, lstm, gru at p = 0.1, 1.2, 5, 8)")
    args = parser.parse_args()
    networks = args.networks or [
        f"architecture~{architecture}_hidden_size~32_init_param~{p}_replicate~0"
        for architecture in ("lstm", "rnn", "gru")
        for p in DEFAULT_INIT_PARAMS
    ]
    measure(args.results, networks)


if __name__ == "__main__":
    main()
