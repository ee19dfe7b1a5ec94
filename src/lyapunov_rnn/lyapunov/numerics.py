"""Elementwise derivatives, the input projection and the weight products shared by the built-in tangent maps.

The derivatives are computed from pre-activations in forms free of
cancellation, so that a saturated unit's slope stays accurate (relative
error ~eps) instead of rounding to zero or to a difference of nearly equal
numbers.

The weight products take either one network's weight, (a, b), or the stacked
weights of G networks of the same architecture, (G, a, b) (an ensemble,
:mod:`lyapunov_rnn.lyapunov.ensemble`). With stacked weights the leading
(batch) dimension of the other operand holds the G networks' sequences one
network after the other, (G S, ..., a), and network g's weight multiplies the
g-th block of S: the operand is viewed as (G, S ..., a) for one batched GEMM.
With one network's weight they are the plain operations.
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


def _matmul(rows: Tensor, weight: Tensor) -> Tensor:
    """``rows @ weight``: (B, ..., a) by (a, b), or by stacked weights (G, a, b) per block of B / G rows."""
    if weight.ndim == 2:
        return rows @ weight
    groups = weight.shape[0]
    product = rows.reshape(groups, -1, rows.shape[-1]) @ weight
    return product.view(*rows.shape[:-1], weight.shape[-1])


def _addmm(term: Tensor, rows: Tensor, weight: Tensor) -> Tensor:
    """``term + rows @ weight`` for (B, a) rows, one fused ``addmm`` for one network's weight (a, b)."""
    if weight.ndim == 2:
        return torch.addmm(term, rows, weight)
    return term + _matmul(rows, weight)


def _add_bias(values: Tensor, bias: Tensor) -> Tensor:
    """``values + bias``: (B, ..., b) plus (b,), or plus stacked biases (G, b) per block of B / G rows."""
    if bias.ndim == 1:
        return values + bias
    groups = bias.shape[0]
    grouped = values.reshape(groups, -1, values.shape[-1]) + bias[:, None, :]
    return grouped.view(values.shape)


def _input_projection(inputs: Tensor, weight_ih: Tensor, bias: Tensor | None) -> Tensor:
    """``x W_ih^T + b`` for all steps at once: (B, T, I) -> (B, T, G N) (stacked weights: module docstring)."""
    projected = _matmul(inputs, weight_ih.mT)
    return projected if bias is None else _add_bias(projected, bias)
