"""Tangent maps of the project's cells, :class:`~lyapunov_rnn.models.AntisymmetricRNN` and
:class:`~lyapunov_rnn.models.CoupledOscillatoryRNN`.

Both are explicit time discretisations of ODEs, ``s' = s + dt * g(s, x)``,
so their Jacobians are the identity plus ``dt`` times one GEMM of the
recurrent weight scaled by ``sech^2`` of the pre-activation. Their weights
may be stacked over the G networks of an ensemble (G, ...), as those of
:mod:`lyapunov_rnn.lyapunov.torch_rnn`; their scalars (``eps``, ``dt``,
``gamma``) are one per map.
"""

from __future__ import annotations

import torch
from torch import Tensor

from lyapunov_rnn.lyapunov.numerics import _addmm, _input_projection, _matmul, _sech2
from lyapunov_rnn.lyapunov.tangent import State, TangentMap, _tensor_copy, register_tangent_map
from lyapunov_rnn.models import AntisymmetricRNN, CoupledOscillatoryRNN, antisymmetric_matrix

__all__ = ["AntisymmetricMap", "CoupledOscillatorMap"]


@register_tangent_map(AntisymmetricRNN)
class AntisymmetricMap(TangentMap):
    """``h' = h + eps tanh(M h + V x + b)`` with ``M = W - W^T - gamma I``."""

    def __init__(self, cell: AntisymmetricRNN, dtype: torch.dtype, device: torch.device) -> None:
        self.recurrent = antisymmetric_matrix(_tensor_copy(cell.weight_hh, dtype, device), cell.gamma)
        self.weight_ih = _tensor_copy(cell.weight_ih, dtype, device)
        self.bias = None if cell.bias is None else _tensor_copy(cell.bias, dtype, device)
        self.eps = cell.eps
        self.component_sizes = (cell.hidden_size,)

    def drive(self, inputs: Tensor) -> Tensor:
        return _input_projection(inputs, self.weight_ih, self.bias)

    def _step(self, drive_t: Tensor, state: State) -> tuple[Tensor, Tensor]:
        """Return ``h'`` and ``eps sech^2(a)``."""
        (h,) = state
        a = _addmm(drive_t, h, self.recurrent.mT)
        return h + self.eps * torch.tanh(a), self.eps * _sech2(a)

    def advance(self, drive_t: Tensor, state: State) -> State:
        return (self._step(drive_t, state)[0],)

    def push_forward(self, drive_t: Tensor, state: State, rows: Tensor) -> tuple[Tensor, State]:
        h_next, slope = self._step(drive_t, state)
        return _matmul(rows, self.recurrent.mT).mul_(slope[:, None, :]).add_(rows), (h_next,)

    def pull_back(self, drive_t: Tensor, state: State, rows: Tensor) -> tuple[Tensor, State]:
        h_next, slope = self._step(drive_t, state)
        return _matmul(rows * slope[:, None, :], self.recurrent).add_(rows), (h_next,)


@register_tangent_map(CoupledOscillatoryRNN)
class CoupledOscillatorMap(TangentMap):
    """coRNN, state ``(y, z)``; tangent rows are ``[v_y | v_z]``.

    ``z' = z + dt (tanh(a) - gamma y - eps z)``, ``y' = y + dt z'`` with
    ``a = W_y y + W_z z + V x + b``. Both conventions use the full ``(y, z)``
    Jacobian (the reference code keeps only the ``y`` block and drops ``eps``
    and the biases, a bug rather than a convention).
    """

    def __init__(self, cell: CoupledOscillatoryRNN, dtype: torch.dtype, device: torch.device) -> None:
        self.weight_state = torch.cat(
            (_tensor_copy(cell.weight_hy, dtype, device), _tensor_copy(cell.weight_hz, dtype, device)), dim=1
        )
        self.weight_ih = _tensor_copy(cell.weight_ih, dtype, device)
        self.bias = None if cell.bias is None else _tensor_copy(cell.bias, dtype, device)
        self.dt, self.gamma, self.eps = cell.dt, cell.gamma, cell.eps
        self.hidden_size = cell.hidden_size
        self.component_sizes = (cell.hidden_size, cell.hidden_size)

    def drive(self, inputs: Tensor) -> Tensor:
        return _input_projection(inputs, self.weight_ih, self.bias)

    def _step(self, drive_t: Tensor, state: State) -> tuple[State, Tensor]:
        """Return ``(y', z')`` and the pre-activation ``a``."""
        y, z = state
        a = _addmm(drive_t, torch.cat((y, z), dim=-1), self.weight_state.mT)
        z_next = z + self.dt * (torch.tanh(a) - self.gamma * y - self.eps * z)
        return (y + self.dt * z_next, z_next), a

    def advance(self, drive_t: Tensor, state: State) -> State:
        return self._step(drive_t, state)[0]

    def push_forward(self, drive_t: Tensor, state: State, rows: Tensor) -> tuple[Tensor, State]:
        state_next, a = self._step(drive_t, state)
        n = self.hidden_size
        rows_y, rows_z = rows[..., :n], rows[..., n:]
        out = torch.empty_like(rows)
        out_y, out_z = out[..., :n], out[..., n:]
        torch.mul(_matmul(rows, self.weight_state.mT), (self.dt * _sech2(a))[:, None, :], out=out_z)
        out_z.add_(rows_z, alpha=1.0 - self.dt * self.eps).add_(rows_y, alpha=-self.dt * self.gamma)
        torch.add(rows_y, out_z, alpha=self.dt, out=out_y)
        return out, state_next

    def pull_back(self, drive_t: Tensor, state: State, rows: Tensor) -> tuple[Tensor, State]:
        state_next, a = self._step(drive_t, state)
        n = self.hidden_size
        rows_y, rows_z = rows[..., :n], rows[..., n:]
        combined = rows_z + self.dt * rows_y
        through_tanh = _matmul(combined * (self.dt * _sech2(a))[:, None, :], self.weight_state)
        out_y = through_tanh[..., :n].add_(rows_y).add_(combined, alpha=-self.dt * self.gamma)
        out_z = through_tanh[..., n:].add_(combined, alpha=1.0 - self.dt * self.eps)
        return torch.cat((out_y, out_z), dim=-1), state_next
