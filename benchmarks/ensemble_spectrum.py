"""Spectra of G networks in one engine run (:func:`ensemble_spectrum`) against G calls of ``lyapunov_spectrum``.

For each cell (RNN tanh, GRU, LSTM, AntisymmetricRNN, coRNN; one layer, no
bias, input size 1 as in sequential MNIST) and hidden size N, G networks with
different weights are each driven by the same S input sequences of T steps,
full spectrum, and the script times

* ``separate``: ``[lyapunov_spectrum(network, inputs, ...) for network in networks]``;
* ``ensemble``: ``ensemble_spectrum(networks, inputs, ...)``, one run over
  G S sequences.

Rounds run both methods once each (interleaved, so that a shared machine's
load affects both alike), after one untimed call of each; every time is the
minimum over ``--repeats`` rounds. The ratio is separate time / ensemble time.
The largest difference between the two methods' resolved exponents is
reported, so that like is compared with like.

Usage::

    PYTHONPATH=src python benchmarks/ensemble_spectrum.py             # N = 32 64, G = 8, S = 15, T = 28, float64
    PYTHONPATH=src python benchmarks/ensemble_spectrum.py --quick     # N = 16, T = 10, one round
    PYTHONPATH=src python benchmarks/ensemble_spectrum.py --convention reference --dtype float32 --json out.json
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
from bench_lyapunov import DTYPES, machine_description, write_record
from timing import timed
from torch import nn

from lyapunov_rnn.lyapunov import LyapunovResult, ensemble_spectrum, lyapunov_spectrum
from lyapunov_rnn.models import ARCHITECTURES, make_recurrent

INPUT_SIZE = 1


def make_networks(
    architecture: str, hidden_size: int, count: int, dtype: torch.dtype, device: torch.device | str = "cpu"
) -> list[nn.Module]:
    """``count`` networks of one architecture with different weights (seeds 0 to count - 1), on ``device``."""
    networks = []
    for seed in range(count):
        torch.manual_seed(seed)
        networks.append(make_recurrent(architecture, INPUT_SIZE, hidden_size).to(device=device, dtype=dtype))
    return networks


def benchmark_case(
    architecture: str,
    hidden_size: int,
    *,
    networks: int,
    sequences: int,
    steps: int,
    dtype: torch.dtype,
    convention: str,
    repeats: int,
    device: torch.device | str = "cpu",
) -> dict:
    """Seconds of G separate calls and of one ensemble call, their ratio and the largest resolved difference."""
    device = torch.device(device)
    models = make_networks(architecture, hidden_size, networks, dtype, device)
    generator = torch.Generator().manual_seed(1)
    inputs = torch.randn(sequences, steps, INPUT_SIZE, dtype=dtype, generator=generator).to(device)
    options = dict(convention=convention, dtype=dtype)

    def separate() -> list[LyapunovResult]:
        return [lyapunov_spectrum(model, inputs, **options) for model in models]

    def together() -> list[LyapunovResult]:
        return ensemble_spectrum(models, inputs, **options)

    methods = {"separate": separate, "ensemble": together}
    results = {name: method() for name, method in methods.items()}  # untimed: one-off costs
    best = dict.fromkeys(methods, float("inf"))
    for _ in range(repeats):
        for name, method in methods.items():
            seconds, results[name] = timed(method, device)
            best[name] = min(best[name], seconds)
    differences, same_masks = [], True
    for alone, joint in zip(results["separate"], results["ensemble"], strict=True):
        same_masks &= torch.equal(alone.resolved, joint.resolved)
        resolved = alone.resolved & joint.resolved
        differences.append((alone.exponents - joint.exponents)[resolved].abs().max().item() if resolved.any() else 0.0)
    return {
        "architecture": architecture,
        "N": hidden_size,
        "G": networks,
        "S": sequences,
        "T": steps,
        "dtype": str(dtype).removeprefix("torch."),
        "convention": convention,
        "device": device.type,
        "separate_s": best["separate"],
        "ensemble_s": best["ensemble"],
        "speedup": best["separate"] / best["ensemble"],
        # A network's spectrum from S sequences of T steps (one checkpoint), per second.
        "separate_spectra_per_s": networks / best["separate"],
        "ensemble_spectra_per_s": networks / best["ensemble"],
        "max_abs_diff_resolved": max(differences),
        "same_resolved_masks": same_masks,
    }


TABLE_HEADER = (
    "| cell | N | G x S | T | dtype | convention | separate (spectra/s) | ensemble (spectra/s) | speed-up "
    "| max abs diff (resolved) | same masks |\n|---|---|---|---|---|---|---|---|---|---|---|"
)


def format_row(row: dict) -> str:
    return (
        f"| {row['architecture']} | {row['N']} | {row['G']} x {row['S']} | {row['T']} | {row['dtype']} "
        f"| {row['convention']} | {row['separate_spectra_per_s']:.3g} | {row['ensemble_spectra_per_s']:.3g} "
        f"| {row['speedup']:.2f}x "
        f"| {row['max_abs_diff_resolved']:.1e} | {row['same_resolved_masks']} |"
    )


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cells", nargs="+", choices=ARCHITECTURES, default=list(ARCHITECTURES))
    parser.add_argument("--sizes", type=int, nargs="+", default=[32, 64], help="hidden sizes N")
    parser.add_argument("--networks", type=int, default=8, help="networks G")
    parser.add_argument("--sequences", type=int, default=15, help="input sequences S per network")
    parser.add_argument("--steps", type=int, default=28, help="time steps T")
    parser.add_argument("--dtype", choices=sorted(DTYPES), default="float64")
    parser.add_argument("--convention", choices=["benettin", "reference"], default="benettin")
    parser.add_argument("--repeats", type=int, default=5, help="timed rounds (minimum kept)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    parser.add_argument("--quick", action="store_true", help="N = 16, T = 10, one round")
    parser.add_argument("--device", default="cpu", help="torch device, e.g. cuda")
    parser.add_argument("--json", type=Path, default=None, help="also write the rows and the machine as JSON")
    args = parser.parse_args(argv)
    if args.quick:
        args.sizes, args.steps, args.repeats = [16], 10, 1
    if args.threads is not None:
        torch.set_num_threads(args.threads)

    machine = machine_description()
    print(f"# {machine}; {args.device}, full spectrum")
    print(TABLE_HEADER)
    rows = []
    for architecture in args.cells:
        for hidden_size in args.sizes:
            row = benchmark_case(
                architecture,
                hidden_size,
                networks=args.networks,
                sequences=args.sequences,
                steps=args.steps,
                dtype=DTYPES[args.dtype],
                convention=args.convention,
                repeats=args.repeats,
                device=args.device,
            )
            rows.append(row)
            print(format_row(row), flush=True)
    if args.json is not None:
        write_record(args.json, machine, args, rows)
    return rows


if __name__ == "__main__":
    main()
