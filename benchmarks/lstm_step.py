"""The LSTM step: matrix-free against materialised Jacobian products, and both against the reference code.

For an LSTM of N hidden units (no bias, as in the AeLLE experiments), B input
sequences of T steps and the full spectrum (k = N in ``convention="reference"``,
k = 2N in ``"benettin"``), the script times in one process:

* ``reference``: the faithful re-implementation of ``calc_LEs_an`` of
  shlizee/LyapunovAutoEncode in ``bench_lyapunov.py`` (the hidden-only
  Jacobian materialised with ``diag_embed`` as its ``lstm_jac``, a module
  forward per step, ``J^T Q``, per-step QR with its sign fix);
* ``matrix_free``: ``lyapunov_spectrum(..., convention="reference")`` with
  :class:`~lyapunov_rnn.lyapunov.torch_rnn.LSTMMap` forced to the stacked
  gate product (``jacobian_product="matrix-free"``);
* ``materialised``: the same call with the per-step N x N blocks formed from
  the gate derivatives (``jacobian_product="materialised"``);
* ``auto``: the same call with the map the registry builds (the rule of
  :class:`~lyapunov_rnn.lyapunov.torch_rnn.LSTMMap` chooses), to check that it
  picks the faster path;
* with ``--benettin``: ``matrix_free`` and ``materialised`` in the default
  convention (full ``(h, c)`` state, k = 2N), without a reference baseline.

Every time is the minimum over ``--repeats`` rounds, each round running every
method once (interleaved, so that a shared machine's load affects all
methods alike). Ratios are reference time /
engine time (speed-up over the reference) and matrix-free time / materialised
time. The largest difference between the exponents of the methods is reported
(bits per step), so that like is compared with like.

Usage::

    PYTHONPATH=src python benchmarks/lstm_step.py                 # N = 32 64 128 256, float32, B = 15, T = 100
    PYTHONPATH=src python benchmarks/lstm_step.py --quick         # N = 32 64, T = 20, one repeat
    PYTHONPATH=src python benchmarks/lstm_step.py --sizes 128 --threads 1 --benettin --json lstm.json
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path

import torch
from bench_lyapunov import (
    DTYPES,
    INPUT_SIZE,
    machine_description,
    make_model,
    reference_spectrum,
    write_record,
)
from timing import timed
from torch import Tensor, nn

from lyapunov_rnn.lyapunov import lyapunov_spectrum, register_tangent_map, torch_rnn
from lyapunov_rnn.lyapunov.tangent import TangentMap

PRODUCTS = ("matrix-free", "materialised")
ENGINE_NAMES = ("matrix_free", "materialised", "auto")


@contextmanager
def lstm_product(product: str) -> Iterator[None]:
    """Within the block, the registry builds single-layer LSTM maps with ``jacobian_product=product``."""

    def forced(lstm: nn.LSTM, dtype: torch.dtype, device: torch.device) -> TangentMap:
        return torch_rnn.LSTMMap(lstm, dtype, device, jacobian_product=product)

    register_tangent_map(nn.LSTM)(forced)
    try:
        yield
    finally:
        register_tangent_map(nn.LSTM)(torch_rnn._lstm_map)


def engine_spectrum(model: nn.Module, inputs: Tensor, convention: str, product: str | None) -> Tensor:
    """Exponents of ``lyapunov_spectrum`` with the LSTM product forced (None: the rule chooses)."""
    if product is None:
        return lyapunov_spectrum(model, inputs, convention=convention, dtype=inputs.dtype).exponents
    with lstm_product(product):
        return lyapunov_spectrum(model, inputs, convention=convention, dtype=inputs.dtype).exponents


def interleaved_best_times(
    functions: dict[str, Callable[[Tensor], Tensor]], inputs: Tensor, repeats: int
) -> dict[str, tuple[float, Tensor]]:
    """Minimum seconds of every ``function(inputs)`` over ``repeats`` rounds, each calling each function once.

    Interleaving exposes every method to the same load of a shared machine,
    so that their ratios are fairer than from consecutive blocks of repeats.
    An untimed call on two steps first pays one-off costs (lazy
    initialisation of kernels and thread pools).
    """
    device = torch.device("cpu")
    for function in functions.values():
        function(inputs[:, :2])
    best: dict[str, tuple[float, Tensor]] = {}
    for _ in range(repeats):
        for name, function in functions.items():
            seconds, result = timed(partial(function, inputs), device)
            if name not in best or seconds < best[name][0]:
                best[name] = (seconds, result)
    return best


def benchmark_size(n: int, dtype: torch.dtype, *, batch: int, steps: int, repeats: int, benettin: bool) -> dict:
    """Seconds per run of every method for one hidden size, the ratios and the largest differences."""
    device = torch.device("cpu")
    model = make_model("lstm", n, dtype, device, seed=n)
    generator = torch.Generator(device=device).manual_seed(1)
    inputs = torch.randn(batch, steps, INPUT_SIZE, dtype=dtype, device=device, generator=generator)
    functions = {"reference": partial(reference_spectrum, model, "lstm")}
    for product in (*PRODUCTS, None):
        name = "auto" if product is None else product.replace("-", "_")
        functions[name] = partial(engine_spectrum, model, convention="reference", product=product)
        if benettin and product is not None:
            functions[f"benettin_{name}"] = partial(engine_spectrum, model, convention="benettin", product=product)
    best = interleaved_best_times(functions, inputs, repeats)
    exponents = {name: result for name, (_, result) in best.items()}
    row: dict = {"dtype": str(dtype).removeprefix("torch."), "N": n, "B": batch, "T": steps}
    row.update({f"{name}_s": seconds for name, (seconds, _) in best.items()})
    row["auto_materialises"] = torch_rnn.LSTMMap(model, dtype, device).materialises(n, reference_block=True)
    reference = exponents["reference"]
    row["max_abs_diff_reference"] = max((exponents[name] - reference).abs().max().item() for name in ENGINE_NAMES)
    row["max_abs_diff_products"] = (exponents["matrix_free"] - exponents["materialised"]).abs().max().item()
    row["max_abs_diff_auto"] = (exponents["auto"] - exponents["materialised"]).abs().max().item()
    for name in ENGINE_NAMES:
        row[f"speedup_{name}"] = row["reference_s"] / row[f"{name}_s"]
    row["materialised_over_matrix_free"] = row["matrix_free_s"] / row["materialised_s"]
    if benettin:
        row["benettin_materialised_over_matrix_free"] = row["benettin_matrix_free_s"] / row["benettin_materialised_s"]
        row["benettin_max_abs_diff_products"] = (
            (exponents["benettin_matrix_free"] - exponents["benettin_materialised"]).abs().max().item()
        )
    return row


TABLE_HEADER = (
    "| dtype | N | reference (s) | matrix-free (s) | materialised (s) | auto (s) | speed-up matrix-free "
    "| speed-up materialised | speed-up auto | materialised / matrix-free | benettin materialised / matrix-free "
    "| max abs diff (bits) |\n"
    "|---|---|---|---|---|---|---|---|---|---|---|---|"
)


def format_row(row: dict) -> str:
    benettin = row.get("benettin_materialised_over_matrix_free")
    diff = max(row["max_abs_diff_reference"], row["max_abs_diff_products"], row["max_abs_diff_auto"])
    return (
        f"| {row['dtype']} | {row['N']} | {row['reference_s']:.3g} | {row['matrix_free_s']:.3g} "
        f"| {row['materialised_s']:.3g} | {row['auto_s']:.3g} | {row['speedup_matrix_free']:.2f}x "
        f"| {row['speedup_materialised']:.2f}x | {row['speedup_auto']:.2f}x "
        f"| {row['materialised_over_matrix_free']:.2f}x | {'-' if benettin is None else f'{benettin:.2f}x'} "
        f"| {diff:.1e} |"
    )


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[32, 64, 128, 256], help="hidden sizes N")
    parser.add_argument("--dtype", choices=sorted(DTYPES), default="float32")
    parser.add_argument("--batch", type=int, default=15, help="input sequences B")
    parser.add_argument("--steps", type=int, default=100, help="time steps T")
    parser.add_argument("--repeats", type=int, default=3, help="runs per timing (minimum kept)")
    parser.add_argument("--benettin", action="store_true", help="also time both products in convention benettin")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    parser.add_argument("--quick", action="store_true", help="N = 32 64, T = 20, one repeat")
    parser.add_argument("--json", type=Path, default=None, help="also write the rows and the machine as JSON")
    args = parser.parse_args(argv)
    if args.quick:
        args.sizes, args.steps, args.repeats = [32, 64], 20, 1
    if args.threads is not None:
        torch.set_num_threads(args.threads)

    machine = machine_description()
    print(f"# {machine}; LSTM, B={args.batch}, T={args.steps}, full spectrum, convention='reference', CPU")
    print(TABLE_HEADER)
    rows = []
    for n in args.sizes:
        row = benchmark_size(
            n, DTYPES[args.dtype], batch=args.batch, steps=args.steps, repeats=args.repeats, benettin=args.benettin
        )
        rows.append(row)
        print(format_row(row), flush=True)
    if args.json is not None:
        write_record(args.json, machine, args, rows)
    return rows


if __name__ == "__main__":
    main()
