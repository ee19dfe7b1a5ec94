"""Throughput of :func:`lyapunov_rnn.lyapunov.lyapunov_spectrum` against two baselines.

For RNN (tanh), GRU and LSTM cells of N hidden units (bias-free, as in the
AeLLE experiments), B input sequences of T steps and the full spectrum, all
in ``convention="reference"`` (formerly ``"aelle"``) so that the four
computations below produce the same numbers (their agreement is reported):

* ``engine``: ``lyapunov_spectrum(..., convention="reference")``;
* ``reference``: a faithful re-implementation of ``calc_LEs_an`` of
  shlizee/LyapunovAutoEncode (Jacobian materialised with ``diag_embed`` of
  the stacked pre-activations exactly as its ``rnn_jac``/``gru_jac``/
  ``lstm_jac``, a forward call of the module per step, ``J^T Q``, per-step QR
  with the sign fix of ``oneStepVarQR``); only its (B, T, k, k) storage of
  every R matrix is replaced by the diagonal, which would need gigabytes at
  N = 512 (this favours the reference);
* ``naive``: the per-step Jacobian of the hidden-state map (``c`` held fixed
  for LSTM) by autograd, one backward pass per hidden unit (the reference's
  ``calc_Jac``), then the same ``J^T Q`` + QR loop;
* ``floor``: the bare linear algebra the engine cannot avoid, timed on the
  same shapes: per step one GEMM of the stacked recurrent weight with the k
  tangent vectors and one batched QR.

The Benettin convention (full state, 2N for LSTM) of the engine is timed too
(``engine_benettin``), without baselines. Every time is the minimum over
``--repeats`` runs (the machine may be shared). Output: a table on stdout and
optionally JSON (``--json``).

Usage::

    python benchmarks/bench_lyapunov.py              # N = 64 128 256 512, float32 and float64
    python benchmarks/bench_lyapunov.py --quick      # N = 64 128, T = 30, one repeat
    python benchmarks/bench_lyapunov.py --sizes 128 --cells lstm --dtypes float32
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
from pathlib import Path

import torch
from timing import best_time
from torch import Tensor, nn

from lyapunov_rnn.lyapunov import lyapunov_spectrum

CELLS = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}
GATES = {"rnn": 1, "gru": 3, "lstm": 4}
DTYPES = {"float32": torch.float32, "float64": torch.float64}
INPUT_SIZE = 16


# --------------------------------------------------------------------------- #
# Faithful port of the reference code (shlizee/LyapunovAutoEncode, lyapunov.py)
# --------------------------------------------------------------------------- #
def _sig(x: Tensor) -> Tensor:
    return 1 / (1 + torch.exp(-x))


def _sigmoid(x: Tensor) -> Tensor:
    return torch.diag_embed(1 / (1 + torch.exp(-x)))


def _sigmoid_p(x: Tensor) -> Tensor:
    ones = torch.ones_like(x)
    return torch.diag_embed(_sig(x) * (ones - _sig(x)))


def _sech(x: Tensor) -> Tensor:
    return torch.diag_embed(1 / torch.cosh(x))


def _tanh(x: Tensor) -> Tensor:
    return torch.diag_embed(torch.tanh(x))


def _reference_rnn_jac(w: Tensor, u: Tensor, h: Tensor, c: Tensor, x: Tensor) -> Tensor:
    y = (w @ x.T + u @ h.T).T
    return _sech(y) ** 2 @ u


def _reference_gru_jac(w: Tensor, u: Tensor, h: Tensor, c: Tensor, x: Tensor) -> Tensor:
    n = h.shape[-1]
    r_x, z_x, n_x = slice(0, n), slice(n, 2 * n), slice(2 * n, 3 * n)
    h_in = h.T
    y1 = (w @ x.T).T
    y2 = (u @ h_in).T
    y = y1 + y2
    n_t = torch.tanh(y1[:, n_x] + _sig(y[:, r_x]) * y2[:, n_x])
    a_h = -_sigmoid_p(y[:, z_x]) @ torch.diag_embed(n_t) @ u[z_x]
    b0 = torch.diag_embed(1 - _sig(y[:, z_x]))
    b1 = _sech(y1[:, n_x] + _sig(y[:, r_x]) * y2[:, n_x]) ** 2
    b2_h = _sigmoid_p(y[:, r_x]) @ torch.diag_embed(y2[:, n_x]) @ u[r_x]
    b3_h = _sigmoid(y[:, r_x]) @ u[n_x]
    b_h = b0 @ (b1 @ (b2_h + b3_h))
    c_h = _sigmoid_p(y[:, z_x]) @ torch.diag_embed(h_in.T) @ u[z_x] + _sigmoid(y[:, z_x])
    return a_h + b_h + c_h


def _reference_lstm_jac(w: Tensor, u: Tensor, h: Tensor, c: Tensor, x: Tensor) -> Tensor:
    n = h.shape[-1]
    i_x, f_x, c_x, o_x = (slice(j * n, (j + 1) * n) for j in range(4))
    h_in, c_in = h.T, c.T
    y = (w @ x.T + u @ h_in).T
    c_out = (_sig(y[:, f_x]).T * c_in) + (_sig(y[:, i_x]) * torch.tanh(y[:, c_x])).T
    a1_h = (_sigmoid_p(y)[:, f_x, f_x] @ torch.diag_embed(c_in.T)) @ u[f_x]
    a2_h = (_sigmoid_p(y)[:, i_x, i_x] * _tanh(y)[:, c_x, c_x]) @ u[i_x]
    a3_h = (_sigmoid(y)[:, i_x, i_x] * (_sech(y) ** 2)[:, c_x, c_x]) @ u[c_x]
    a_h = a1_h + a2_h + a3_h
    b_h = (_sigmoid_p(y)[:, o_x, o_x] * _tanh(c_out.T)) @ u[o_x]
    c_h = _sigmoid(y)[:, o_x, o_x] @ _sech(c_out.T) ** 2
    return c_h @ a_h + b_h


REFERENCE_JACOBIANS = {"rnn": _reference_rnn_jac, "gru": _reference_gru_jac, "lstm": _reference_lstm_jac}


def _one_step(model: nn.Module, x_t: Tensor, h: Tensor, c: Tensor) -> tuple[Tensor, Tensor]:
    """One module step on (1, B, N) states, as the reference's ``oneStep``."""
    if isinstance(model, nn.LSTM):
        _, (h, c) = model(x_t, (h, c))
        return h, c
    _, h = model(x_t, h)
    return h, c


def reference_spectrum(model: nn.Module, cell: str, inputs: Tensor) -> Tensor:
    """``calc_LEs_an`` with warmup 0 and T_ons 1; returns sorted exponents (bits per step)."""
    batch, steps, _ = inputs.shape
    n = model.hidden_size
    w, u = model.weight_ih_l0.detach(), model.weight_hh_l0.detach()
    jacobian = REFERENCE_JACOBIANS[cell]
    h = torch.zeros(1, batch, n, dtype=inputs.dtype, device=inputs.device)
    c = torch.zeros_like(h)
    q = torch.eye(n, dtype=inputs.dtype, device=inputs.device).reshape(1, n, n).repeat(batch, 1, 1)
    q, _ = torch.linalg.qr(q, mode="reduced")
    log_r = []
    with torch.no_grad():
        for x_t in inputs.transpose(0, 1):
            x_t = x_t.unsqueeze(1)
            j = jacobian(w, u, h[0], c[0], x_t[:, 0])
            h, c = _one_step(model, x_t, h, c)
            z = torch.matmul(torch.transpose(j, 1, 2), q)
            q_new, r = torch.linalg.qr(z, mode="reduced")
            s = torch.diag_embed(torch.sign(torch.diagonal(r, dim1=1, dim2=2)))
            q, r = torch.matmul(q_new, s), torch.matmul(s, r)
            log_r.append(torch.log2(torch.diagonal(r, dim1=-2, dim2=-1)))
    return (torch.stack(log_r, dim=1).sum(1) / steps).sort(dim=-1, descending=True).values


# --------------------------------------------------------------------------- #
# Naive autograd baseline
# --------------------------------------------------------------------------- #
def naive_autograd_spectrum(model: nn.Module, cell: str, inputs: Tensor) -> Tensor:
    """Per-step hidden-state Jacobian by autograd, then ``J^T Q`` and QR (bits per step).

    The Jacobian is built row by row with one backward pass per hidden unit,
    as the reference's ``calc_Jac`` does for layers without an analytic
    Jacobian (``vmap(jacrev)`` cannot batch PyTorch's fused RNN kernels).
    """
    batch, steps, _ = inputs.shape
    n = model.hidden_size
    h = torch.zeros(1, batch, n, dtype=inputs.dtype, device=inputs.device)
    c = torch.zeros_like(h)
    q = torch.eye(n, dtype=inputs.dtype, device=inputs.device).expand(batch, n, n)
    total = torch.zeros(batch, n, dtype=torch.float64, device=inputs.device)
    j = torch.empty(batch, n, n, dtype=inputs.dtype, device=inputs.device)
    for t in range(steps):
        h_in = h.detach().requires_grad_(True)
        h_out, c_next = _one_step(model, inputs[:, t : t + 1], h_in, c)
        for i in range(n):
            (j[:, i, :],) = torch.autograd.grad(h_out[0, :, i].sum(), h_in, retain_graph=i < n - 1)[0]
        h, c = h_out.detach(), c_next.detach()
        with torch.no_grad():
            q, r = torch.linalg.qr(j.mT @ q)
            total += r.diagonal(dim1=-2, dim2=-1).abs().log2()
    return (total / steps).sort(dim=-1, descending=True).values


# --------------------------------------------------------------------------- #
# Floor: the engine's unavoidable linear algebra on the same shapes
# --------------------------------------------------------------------------- #
def floor_run(cell: str, batch: int, steps: int, n: int, dtype: torch.dtype, device: torch.device) -> None:
    """``steps`` x (one (B k, G N) x (G N, N) GEMM + one (B, N, N) QR)."""
    generator = torch.Generator(device=device).manual_seed(0)
    weight = torch.randn(GATES[cell] * n, n, dtype=dtype, device=device, generator=generator)
    scaled = torch.randn(batch, n, GATES[cell] * n, dtype=dtype, device=device, generator=generator)
    for _ in range(steps):
        torch.linalg.qr((scaled @ weight).mT)


# --------------------------------------------------------------------------- #
# Timing
# --------------------------------------------------------------------------- #
def make_model(cell: str, n: int, dtype: torch.dtype, device: torch.device, seed: int) -> nn.Module:
    torch.manual_seed(seed)
    model = CELLS[cell](INPUT_SIZE, n, bias=False, batch_first=True)
    return model.to(device=device, dtype=dtype)


def benchmark_case(
    cell: str,
    n: int,
    dtype: torch.dtype,
    device: torch.device,
    *,
    batch: int,
    steps: int,
    repeats: int,
    naive: bool,
    benettin: bool,
) -> dict:
    """Time the engine, the baselines and the floor for one configuration (seconds per run)."""
    model = make_model(cell, n, dtype, device, seed=n)
    generator = torch.Generator(device=device).manual_seed(1)
    inputs = torch.randn(batch, steps, INPUT_SIZE, dtype=dtype, device=device, generator=generator)

    def engine(convention: str) -> Tensor:
        return lyapunov_spectrum(model, inputs, convention=convention, dtype=dtype).exponents

    row = {"device": device.type, "dtype": str(dtype).removeprefix("torch."), "cell": cell, "N": n, "T": steps}
    row["engine_s"], ours = best_time(lambda: engine("reference"), repeats, device)
    row["floor_s"], _ = best_time(lambda: floor_run(cell, batch, steps, n, dtype, device), repeats, device)
    row["reference_s"], reference = best_time(lambda: reference_spectrum(model, cell, inputs), repeats, device)
    row["max_abs_diff_reference"] = (ours - reference).abs().max().item()
    if benettin:
        row["engine_benettin_s"], _ = best_time(lambda: engine("benettin"), repeats, device)
    if naive:
        row["naive_s"], naive_result = best_time(lambda: naive_autograd_spectrum(model, cell, inputs), 1, device)
        row["max_abs_diff_naive"] = (ours - naive_result).abs().max().item()
    return row


def machine_description() -> dict:
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        model_name = next(line.split(":", 1)[1].strip() for line in lscpu.splitlines() if "Model name" in line)
    except (OSError, subprocess.CalledProcessError, StopIteration):
        model_name = platform.processor() or "unknown"
    return {
        "cpu": model_name,
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "cuda": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
    }


def write_record(path: Path, machine: dict, args: argparse.Namespace, rows: list[dict]) -> None:
    """The rows with the machine and the command-line arguments, as JSON: what benchmarks/README.md quotes."""
    record = {"machine": machine, "arguments": {**vars(args), "json": str(path)}, "rows": rows}
    path.write_text(json.dumps(record, indent=2))


def format_row(row: dict, batch: int, normalised_steps: int) -> str:
    """Markdown row; rates are spectra per second for sequences of ``normalised_steps`` steps."""
    scale = normalised_steps / row["T"]

    def rate(key: str) -> str:
        return f"{batch / (row[key] * scale):.3g}" if key in row else "-"

    def speed_up(key: str) -> str:
        return f"{row[key] / row['engine_s']:.2f}x" if key in row else "-"

    diff = max(row["max_abs_diff_reference"], row.get("max_abs_diff_naive", 0.0))
    return (
        f"| {row['device']} | {row['dtype']} | {row['cell']} | {row['N']} | {row['T']} | {rate('engine_s')} "
        f"| {rate('reference_s')} | {speed_up('reference_s')} | {rate('naive_s')} | {speed_up('naive_s')} "
        f"| {row['floor_s'] / row['engine_s']:.2f} | {rate('engine_benettin_s')} | {diff:.1e} |"
    )


TABLE_HEADER = (
    "| device | dtype | cell | N | T timed | engine (spectra/s) | reference (spectra/s) | speed-up vs reference "
    "| naive autograd (spectra/s) | speed-up vs naive | fraction of floor | engine benettin (spectra/s) "
    "| max abs diff (bits) |\n"
    "|---|---|---|---|---|---|---|---|---|---|---|---|---|"
)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 128, 256, 512], help="hidden sizes N")
    parser.add_argument("--cells", nargs="+", choices=sorted(CELLS), default=["rnn", "gru", "lstm"])
    parser.add_argument("--dtypes", nargs="+", choices=sorted(DTYPES), default=["float32", "float64"])
    parser.add_argument("--devices", nargs="+", default=None, help="default: cpu, plus cuda when available")
    parser.add_argument("--batch", type=int, default=15, help="input sequences B")
    parser.add_argument("--steps", type=int, default=100, help="time steps T; rates are reported for this T")
    parser.add_argument("--repeats", type=int, default=2, help="runs per timing below --large-size (minimum kept)")
    parser.add_argument("--large-size", type=int, default=256, help="from this N on: one repeat")
    parser.add_argument("--huge-size", type=int, default=512, help="from this N on: time --huge-steps steps")
    parser.add_argument("--huge-steps", type=int, default=10, help="steps timed for N >= --huge-size")
    parser.add_argument("--naive-max-size", type=int, default=128, help="largest N for the naive baseline")
    parser.add_argument("--benettin-max-size", type=int, default=128, help="largest N for the benettin timing")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    parser.add_argument("--quick", action="store_true", help="N = 64 128, T = 30, one repeat")
    parser.add_argument("--json", type=Path, default=None, help="also write the rows and the machine as JSON")
    args = parser.parse_args(argv)
    if args.quick:
        args.sizes, args.steps, args.repeats = [64, 128], 30, 1
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    devices = args.devices or ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])

    machine = machine_description()
    print(f"# {machine}; B={args.batch}, rates for T={args.steps}, full spectrum, convention='reference'")
    print(TABLE_HEADER)
    rows = []
    for device in map(torch.device, devices):
        for dtype_name in args.dtypes:
            for cell in args.cells:
                for n in args.sizes:
                    row = benchmark_case(
                        cell,
                        n,
                        DTYPES[dtype_name],
                        device,
                        batch=args.batch,
                        steps=args.huge_steps if n >= args.huge_size else args.steps,
                        repeats=1 if n >= args.large_size else args.repeats,
                        naive=n <= args.naive_max_size,
                        benettin=n <= args.benettin_max_size,
                    )
                    rows.append(row)
                    print(format_row(row, args.batch, args.steps), flush=True)
    if args.json is not None:
        write_record(args.json, machine, args, rows)


if __name__ == "__main__":
    main()
