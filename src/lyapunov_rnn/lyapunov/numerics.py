"""Elementwise derivatives and the input projection shared by the built-in tangent maps.

The derivatives are computed from pre-activations in forms free of
cancellation, so that a saturated unit's slope stays accurate (relative
error ~eps) instead of rounding to zero or to a difference of nearly equal
numbers.
"""

from __future__ import annotations

import torch
from torch import Tensor


def _sech2(a: Tensor) -> Tensor:
    """``sech^2(a) = 4 e^{-2|a|} / (1 + e^{-2|a|})^2``, exact where ``1 - tanh^2`` cancels."""
    decay = torch.exp(-2.0 * a.abs())
    return 4.0 * decay / (1.0 + decay) ** 2


def _sigmoid_slope(a: Tensor) -> Tensor:
    """``s'(a) = s(a) s(-a)``, free of the cancellation in ``s (1 - s)``."""
    return torch.sigmoid(a) * torch.sigmoid(-a)


def _input_projection(inputs: Tensor, weight_ih: Tensor, bias: Tensor | None) -> Tensor:
    """``x W_ih^T + b`` for all steps at once: (B, T, I) -> (B, T, G N)."""
    projected = inputs @ weight_ih.T
    return projected if bias is None else projected + bias
