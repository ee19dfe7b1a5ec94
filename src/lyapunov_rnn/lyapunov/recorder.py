"""The QR step and the accumulation of the growth rates ``log R_jj``."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor


def resolution_floor(dtype: torch.dtype) -> float:
    """``sqrt(eps)`` of ``dtype``: a QR stretch ``|R_jj|`` at or below it times ``||Z||_F`` is not resolved.

    1.5e-8 (a one-step contraction by 18.0 nats relative to ``||Z||_F``) for
    float64, 3.5e-4 (8.0 nats) for float32; the same bound as the
    ``qr_every`` guard, ``ln(1 / eps) / 2``. See :class:`_GrowthRecorder`.
    """
    return math.sqrt(torch.finfo(dtype).eps)


def _orthonormalise(rows: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Reduced QR of ``Z = rows^T`` (B, D, k).

    Returns ``Q^T`` (B, k, D), in the layout LAPACK returns Q in,
    ``diag(R)`` (B, k) (signs not fixed) and ``||Z||_F = ||R||_F`` (B,),
    the scale of the rounding errors of the step (read from the k x k
    ``R``: no pass over ``Z``).
    """
    q, r = torch.linalg.qr(rows.mT)
    return q.mT, r.diagonal(dim1=-2, dim2=-1), torch.linalg.matrix_norm(r)


class _GrowthRecorder:
    """Accumulate log R_jj of successive QR intervals in float64, without host syncs.

    It also marks the directions the arithmetic does not resolve. The product
    ``Z = J Q`` and its Householder QR in a dtype with machine epsilon
    ``eps`` are backward stable: each ``R_jj`` carries an absolute rounding
    error of a small multiple of ``eps * ||Z||_F`` (up to ``40 eps ||Z||_F``
    measured where J has an exact rank deficiency and R_jj is pure noise),
    a relative error of ``eps ||Z||_F / |R_jj|`` that the tangent dynamics
    then amplify over the following steps. A QR interval whose stretch
    ``|R_jj|`` is at or below :func:`resolution_floor` ``* ||Z||_F`` (a
    direction that loses half the digits of the dtype in one interval, or
    is annihilated, ``R_jj = 0``) leaves direction j unresolved, and with it
    every later QR column: their ``R_ll`` are distances to a span that
    includes the ill-determined direction j. An exponent with such an
    interval depends on rounding (the thread count, the BLAS library, the
    device), not only on the network and its inputs. docs/numerical-resolution.md
    has the measurements behind the floor and what it leaves.

    Parameters
    ----------
    batch, k, steps : int
        Batch size, number of exponents, number of measured steps.
    log : callable
        ``torch.log`` (nats) or ``torch.log2`` (bits).
    keep_finite_time, track_signs, track_spread : bool
        Store per-step rates / the product of the signs of diag(R) (to fix
        the signs of the final Q) / the largest spread of ln R_jj (guard).
    """

    def __init__(
        self,
        batch: int,
        k: int,
        steps: int,
        device: torch.device,
        *,
        log: Callable[[Tensor], Tensor],
        keep_finite_time: bool,
        track_signs: bool,
        track_spread: bool,
    ) -> None:
        def zeros() -> Tensor:
            return torch.zeros(batch, k, dtype=torch.float64, device=device)

        self.log = log
        self.total, self.shifted_sum, self.shifted_sum_sq = zeros(), zeros(), zeros()
        self.shift: Tensor | None = None
        self.intervals = 0
        self.rates = torch.empty(batch, steps, k, dtype=torch.float64, device=device) if keep_finite_time else None
        self.sign = torch.ones(batch, k, dtype=torch.float64, device=device) if track_signs else None
        self.max_spread = torch.zeros((), dtype=torch.float64, device=device) if track_spread else None
        self.lost = torch.zeros(batch, k, dtype=torch.bool, device=device)

    def check_resolution(self, diag_r: Tensor, scale: Tensor) -> None:
        """Mark the directions this QR does not resolve: ``|R_jj| <= resolution_floor * ||Z||_F`` and later columns.

        Parameters
        ----------
        diag_r : Tensor
            (B, k) ``diag(R)`` in the compute dtype, in QR column order.
        scale : Tensor
            (B,) ``||Z||_F`` of the factorised matrix.
        """
        floor = resolution_floor(diag_r.dtype) * scale.to(torch.float64)
        below = diag_r.to(torch.float64).abs() <= floor[:, None]
        self.lost |= below.cumsum(dim=-1) > 0

    def record(self, diag_r: Tensor, scale: Tensor, start: int, stop: int) -> None:
        """Record the QR interval covering measured steps ``start`` to ``stop - 1`` (``scale``: its ``||Z||_F``)."""
        self.check_resolution(diag_r, scale)
        # Resolution floor: a direction annihilated exactly (R_jj = 0, e.g. a
        # saturated tanh unit whose derivative underflows) counts as the
        # smallest normal number of the compute dtype, not as log 0 = -inf.
        tiny = torch.finfo(diag_r.dtype).tiny
        diag_r = diag_r.to(torch.float64)
        if self.sign is not None:
            self.sign.mul_(torch.where(diag_r < 0, -1.0, 1.0))
        log_r = self.log(diag_r.abs().clamp_min(tiny))
        self.total += log_r
        rate = log_r if stop - start == 1 else log_r / (stop - start)
        if self.shift is None:
            self.shift = rate.clone()
        shifted = rate - self.shift
        self.shifted_sum += shifted
        self.shifted_sum_sq.addcmul_(shifted, shifted)
        self.intervals += 1
        if self.rates is not None:
            self.rates[:, start:stop] = rate[:, None, :]
        if self.max_spread is not None:
            spread = (log_r.amax(dim=-1) - log_r.amin(dim=-1)).amax().nan_to_num(nan=math.inf)
            torch.maximum(self.max_spread, spread, out=self.max_spread)

    def stderr(self) -> Tensor:
        n = self.intervals
        if n < 2:
            return torch.full_like(self.total, math.nan)
        variance = (self.shifted_sum_sq - self.shifted_sum**2 / n) / (n - 1)
        return variance.clamp_min(0.0).sqrt() / math.sqrt(n)

    def finite_time(self) -> Tensor | None:
        if self.rates is None:
            return None
        counts = torch.arange(1, self.rates.shape[1] + 1, dtype=torch.float64, device=self.rates.device)
        return self.rates.cumsum(dim=1) / counts[None, :, None]
