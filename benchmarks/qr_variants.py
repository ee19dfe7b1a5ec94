"""Batched QR variants for the Benettin step: time, orthogonality and agreement.

Every measured Lyapunov step of the engine ends in one batched reduced QR of
B matrices of shape (D, k) (``torch.linalg.qr``: LAPACK ``geqrf`` + ``orgqr``
on the CPU, cuSOLVER/MAGMA on CUDA). On a CPU that QR takes most of the step
(see README.md), and on CUDA PyTorch forms Q (``orgqr``) one matrix at a time.
This script measures whether another exact (Householder, backward-stable)
formulation of the same factorisation is faster on the machine at hand:

* ``linalg_qr``: ``torch.linalg.qr`` (what the engine uses);
* ``geqrf``: ``torch.geqrf`` alone, i.e. the factorisation without forming Q
  (a lower bound for any variant that calls it);
* ``blocked_b``: a blocked Householder QR in compact-WY form: each panel of
  ``b`` columns is factorised by ``torch.geqrf`` (batched), its reflectors are
  accumulated as ``I - V T V^T`` with ``T^{-1} = striu(V^T V) + diag(1/tau)``,
  and both the trailing update and the formation of Q are batched matrix
  products (no ``orgqr``).

All variants return Q (B, D, k) and diag(R) (B, k). Reported per (device,
dtype, D = k = N): milliseconds per call (minimum over ``--repeats``), the
ratio to ``linalg_qr``, the largest relative difference of |diag R| from
``linalg_qr`` and the orthogonality error max|Q^T Q - I|, both on a graded
test matrix (rows scaled from 1 to 1e-6 in float32, 1e-12 in float64) like
the Jacobian products of saturated networks.

Usage::

    python benchmarks/qr_variants.py --threads 1
    python benchmarks/qr_variants.py --devices cuda --sizes 128 256 512
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from functools import partial
from pathlib import Path

import torch
from timing import best_time
from torch import Tensor

DTYPES = {"float32": torch.float32, "float64": torch.float64}
GRADING = {torch.float32: 6.0, torch.float64: 12.0}


def linalg_qr(z: Tensor) -> tuple[Tensor, Tensor]:
    """``torch.linalg.qr``: Q (B, D, k) and diag(R) (B, k)."""
    q, r = torch.linalg.qr(z)
    return q, r.diagonal(dim1=-2, dim2=-1)


def geqrf_only(z: Tensor) -> tuple[Tensor, Tensor]:
    """Householder factorisation without Q: the packed factors and tau."""
    return torch.geqrf(z)


def blocked_qr(z: Tensor, block: int) -> tuple[Tensor, Tensor]:
    """Blocked Householder QR in compact-WY form: Q (B, D, k) and diag(R) (B, k).

    Parameters
    ----------
    z : Tensor
        (B, D, k) with D >= k.
    block : int
        Panel width b (columns factorised by one batched ``geqrf`` call).
    """
    batch, rows, k = z.shape
    work = z.clone()
    diag = torch.empty(batch, k, dtype=z.dtype, device=z.device)
    reflectors = []
    for offset in range(0, k, block):
        width = min(block, k - offset)
        panel, tau = torch.geqrf(work[:, offset:, offset : offset + width])
        diag[:, offset : offset + width] = panel.diagonal(dim1=-2, dim2=-1)
        unit = torch.eye(rows - offset, width, dtype=z.dtype, device=z.device)
        # tau = 0 is LAPACK's identity reflector: drop its vector, keep T invertible.
        active = tau != 0
        v = (panel.tril(-1) + unit) * active[:, None, :]
        t_inverse = (v.mT @ v).triu(1) + torch.diag_embed(torch.where(active, tau.reciprocal(), 1))
        t = torch.linalg.solve_triangular(t_inverse, unit[:width].expand(batch, width, width), upper=True)
        reflectors.append((offset, v, t))
        if offset + width < k:
            trailing = work[:, offset:, offset + width :]
            trailing.sub_(v @ (t.mT @ (v.mT @ trailing)))
    q = torch.eye(rows, k, dtype=z.dtype, device=z.device).expand(batch, rows, k).contiguous()
    for offset, v, t in reversed(reflectors):
        block_q = q[:, offset:, offset:]
        block_q.sub_(v @ (t @ (v.mT @ block_q)))
    return q, diag


def graded_matrices(batch: int, n: int, dtype: torch.dtype, device: torch.device) -> Tensor:
    """Gaussian (B, n, n) matrices with rows scaled from 1 down to 10^-GRADING[dtype]."""
    generator = torch.Generator(device=device).manual_seed(n)
    z = torch.randn(batch, n, n, dtype=dtype, device=device, generator=generator)
    scale = torch.logspace(0, -GRADING[dtype], n, dtype=dtype, device=device)
    return z * scale[:, None]


def accuracy(variant: Callable[[Tensor], tuple[Tensor, Tensor]], z: Tensor) -> dict:
    """Relative |diag R| difference from ``linalg_qr`` and max|Q^T Q - I| of ``variant`` on ``z``."""
    q_ref, diag_ref = linalg_qr(z)
    q, diag = variant(z)
    identity = torch.eye(q.shape[-1], dtype=z.dtype, device=z.device)
    return {
        "max_rel_diag_diff": ((diag.abs() - diag_ref.abs()).abs() / diag_ref.abs()).max().item(),
        "orthogonality": (q.mT @ q - identity).abs().max().item(),
        "orthogonality_linalg_qr": (q_ref.mT @ q_ref - identity).abs().max().item(),
    }


def variants(blocks: list[int]) -> dict[str, Callable[[Tensor], tuple[Tensor, Tensor]]]:
    named: dict[str, Callable[[Tensor], tuple[Tensor, Tensor]]] = {"linalg_qr": linalg_qr, "geqrf": geqrf_only}
    for block in blocks:
        named[f"blocked_{block}"] = partial(blocked_qr, block=block)
    return named


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 128, 256, 512], help="D = k = N")
    parser.add_argument("--batch", type=int, default=15, help="matrices per batched call (B)")
    parser.add_argument("--blocks", type=int, nargs="+", default=[16, 32, 64], help="panel widths b")
    parser.add_argument("--dtypes", nargs="+", choices=sorted(DTYPES), default=["float32", "float64"])
    parser.add_argument("--devices", nargs="+", default=None, help="default: cpu, plus cuda when available")
    parser.add_argument("--repeats", type=int, default=10, help="timed calls per variant (minimum kept)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    parser.add_argument("--json", type=Path, default=None, help="also write the rows as JSON")
    args = parser.parse_args(argv)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    devices = args.devices or ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])

    print(f"# torch {torch.__version__}, {torch.get_num_threads()} CPU threads, B = {args.batch}")
    print(
        "| device | dtype | N | variant | ms per call | time / linalg_qr | max rel diff diag R | max abs(Q^T Q - I) |\n"
        "|---|---|---|---|---|---|---|---|"
    )
    rows = []
    for device in map(torch.device, devices):
        for dtype_name in args.dtypes:
            dtype = DTYPES[dtype_name]
            for n in args.sizes:
                z = graded_matrices(args.batch, n, dtype, device)
                baseline = None
                for name, variant in variants(args.blocks).items():
                    variant(z)  # warm-up: first-call allocations and library initialisation
                    seconds, _ = best_time(partial(variant, z), args.repeats, device)
                    baseline = seconds if baseline is None else baseline
                    row = {"device": device.type, "dtype": dtype_name, "N": n, "variant": name, "seconds": seconds}
                    if name != "geqrf":
                        row.update(accuracy(variant, z))
                    rows.append(row)
                    diff = f"{row['max_rel_diag_diff']:.1e}" if "orthogonality" in row else "-"
                    orth = f"{row['orthogonality']:.1e}" if "orthogonality" in row else "-"
                    print(
                        f"| {device.type} | {dtype_name} | {n} | {name} | {seconds * 1e3:.3g} "
                        f"| {seconds / baseline:.2f} | {diff} | {orth} |",
                        flush=True,
                    )
    if args.json is not None:
        args.json.write_text(json.dumps({"arguments": {**vars(args), "json": str(args.json)}, "rows": rows}, indent=2))
    return rows


if __name__ == "__main__":
    main()
