"""The QR step and the accumulation of the growth rates ``log R_jj``."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor


def _orthonormalise(rows: Tensor) -> tuple[Tensor, Tensor]:
    """Reduced QR of ``Z = rows^T`` (B, D, k).

    Returns ``Q^T`` (B, k, D), in the layout LAPACK returns Q in, and
    ``diag(R)`` (B, k) (signs not fixed).
    """
    q, r = torch.linalg.qr(rows.mT)
    return q.mT, r.diagonal(dim1=-2, dim2=-1)


class _GrowthRecorder:
    """Accumulate log R_jj of successive QR intervals in float64, without host syncs.

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

    def record(self, diag_r: Tensor, start: int, stop: int) -> None:
        """Record the QR interval covering measured steps ``start`` to ``stop - 1``."""
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
