"""Lyapunov spectra of recurrent networks driven by input sequences.

A recurrent network driven by inputs ``x_t`` is the non-autonomous map
``s_t = F(s_{t-1}, x_t)`` on its full dynamical state ``s`` (``h`` for
RNN/GRU/AntisymmetricRNN, ``(h, c)`` for LSTM, ``(y, z)`` for coRNN). Its
Lyapunov exponents are the asymptotic growth rates of the tangent dynamics
``v_t = J_t v_{t-1}`` with ``J_t = dF/ds (s_{t-1}, x_t)``.

Algorithm (``convention="benettin"``, the default)
-------------------------------------------------
Benettin et al. (1980) / Shimada & Nagashima (1979) with a QR step:

1. the first ``warmup`` inputs only advance the state;
2. ``Q_0`` = first ``k`` columns of the identity (D x k);
3. for every remaining step: ``Q_t R_t = J_t Q_{t-1}`` (reduced QR, signs
   fixed so that ``diag(R_t) > 0``);
4. ``lambda_j = (1 / steps) * sum_t ln R_t[j, j]`` (nats per step), sorted
   in descending order.

The Jacobian is never materialised: every cell applies ``J_t`` to the
k tangent vectors directly (a few batched GEMMs with the cell's stacked
weights plus elementwise gate derivatives, computed from pre-activations in
numerically stable forms). Tangent vectors are stored as rows,
``V = Q^T`` (B, k, D), which is the memory layout LAPACK returns Q in, so
``V @ J^T`` is one large GEMM and no transposition copy is needed. Any
callable ``f(x_t, state) -> state`` (state (B, D)) is handled by forward-mode
autograd (``torch.func.jvp`` vectorised over the tangent vectors with
``vmap``); that generic path is also the oracle the analytic cells are tested
against. ``log R_jj`` are accumulated in float64 whatever ``dtype`` is.

``qr_every = m > 1`` multiplies ``m`` Jacobians before each QR. This is exact
in exact arithmetic but the trailing directions lose about
``m * (lambda_1 - lambda_k) / ln 10`` decimal digits to the leading one. The
run therefore records the largest spread ``max_j ln R_jj - min_j ln R_jj``
over all QR intervals and, if it exceeds ``ln(1 / eps) / 2`` of the compute
dtype (18.0 for float64, 8.0 for float32) or a value is not finite, warns and
recomputes with ``qr_every=1``. It is safe when
``m * (lambda_1 - lambda_k) < ln(1 / eps) / 2``, e.g. m <= 9 for a float64
spectrum spanning 2 nats per step.

Convention ``"aelle"`` (reproduces the reference code)
-----------------------------------------------------
``convention="aelle"`` reproduces ``calc_LEs_an`` of the published AeLLE code
(shlizee/LyapunovAutoEncode, ``lyapunov.py``) so that spectra can be compared
with the papers. It differs from ``"benettin"`` in every point below:

* **Transposed Jacobian.** The reference propagates ``Q <- J_t^T Q``. The
  product ``J_1^T J_2^T ... J_T^T`` applied in time order is the transpose of
  the product of Jacobians in *reverse* time order, which is not the tangent
  dynamics of the network. For constant or two-periodic Jacobians the
  spectra coincide, but in general (e.g. period-3 driving) they differ; the
  test-suite shows a case.
* **Hidden-only LSTM Jacobian.** For LSTM the reference uses ``dh_t/dh_{t-1}``
  with the cell state ``c`` held fixed (N exponents instead of the 2N of the
  full state ``(h, c)``)::

      A = diag(s'(a_f) c_{t-1}) U_f + diag(s'(a_i) tanh(a_g)) U_i
          + diag(s(a_i) sech^2(a_g)) U_g
      J = diag(s(a_o) sech^2(c_t)) A + diag(s'(a_o) tanh(c_t)) U_o

  which ignores the memory path ``c_{t-1} -> c_t`` and is not the Jacobian of
  the LSTM as a dynamical system.
* **coRNN.** The reference keeps only the ``hy`` block and drops ``eps`` and
  the biases (a bug, not a convention). Here ``"aelle"`` uses the full
  ``(y, z)`` Jacobian (2N exponents) with the other ``aelle`` rules, so that
  only the transposition, the base and the time averaging differ.
* **Base 2.** Exponents are in bits per step (``log2``), not nats.
* **Warm-up.** The first ``min(warmup, T)`` inputs advance the state *and*
  propagate ``Q <- J^T Q`` without re-orthonormalisation, followed by one
  QR. For warm-ups longer than about ``ln(1/eps) / (lambda_1 - lambda_k)``
  steps the columns collapse onto the leading direction (or overflow) and
  the trailing exponents depend on rounding, in the reference as here.
* **Replayed inputs.** The measurement then runs over *all* ``T`` inputs from
  ``t = 0``, starting from the state reached after the warm-up, so the
  warm-up inputs are fed twice, and ``lambda_j = sum_t log2 R_t[j, j] / T``.
* **QR every step.** ``qr_every`` must be 1.
* **Sorting.** The reference leaves the exponents in QR-column order; here
  they are sorted in descending order (as in ``"benettin"``).

RNN (tanh; relu, which the reference lacks), GRU and AntisymmetricRNN use
their true hidden-state Jacobian in both conventions (the reference's GRU
Jacobian is the true one). A step function uses its full-state Jacobian,
transposed via ``torch.func.vjp``.

Why ``"benettin"`` is the default: it is the standard definition. It
propagates the actual tangent dynamics (``J_t`` in time order), uses the full
state, so LSTM exponents satisfy the sum rule ``sum_j lambda_j =
<ln |det J_t|>``, re-orthonormalises every step (or under the guard above)
and does not feed any input twice. All of this is tested against closed-form
spectra (constant maps, the Henon map, products of Gaussian matrices,
periodically driven networks).
"""

from __future__ import annotations

import math
import warnings
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Literal, NamedTuple

import torch
from torch import Tensor, nn
from torch.func import jvp, vjp, vmap
from tqdm.auto import tqdm

from lyapunov_rnn.models import AntisymmetricRNN, CoupledOscillatoryRNN, SequenceModel

__all__ = ["LyapunovResult", "lyapunov_spectrum"]

Convention = Literal["benettin", "aelle"]
StepFunction = Callable[[Tensor, Tensor], Tensor]
State = tuple[Tensor, ...]
CONVENTIONS: tuple[str, ...] = ("benettin", "aelle")


@dataclass
class LyapunovResult:
    """Lyapunov spectrum of a batch of input sequences.

    Attributes
    ----------
    exponents : Tensor
        (B, k) float64 Lyapunov exponents per input sequence, sorted in
        descending order. Nats per step for ``convention="benettin"``, bits
        per step (log2) for ``"aelle"``. Always finite for finite inputs: a
        step that annihilates a direction exactly (``R_jj = 0``: a dead ReLU
        unit, or a saturated tanh unit whose derivative underflows) counts as
        ``ln(tiny)`` of the compute dtype (-708.4 nats for float64, -87.3 for
        float32), the resolution limit, instead of ``-inf``.
    stderr : Tensor
        (B, k) float64 standard error of each exponent over time: with
        ``l_j(n) = log R_n[j, j] / m_n`` the growth rate (same units as
        ``exponents``) of QR interval ``n`` of ``m_n`` steps (``m_n = 1``
        when ``qr_every=1``), ``stderr_j = std_n(l_j(n), ddof=1) / sqrt(n_QR)``
        over the ``n_QR`` measured intervals. It ignores the autocorrelation
        of ``l_j`` and so underestimates the uncertainty of correlated
        dynamics; NaN when there is a single interval.
    finite_time : Tensor or None
        (B, steps, k) float64 finite-time exponents: row ``t`` is the running
        estimate over the first ``t + 1`` measured steps (the last row equals
        ``exponents``). With ``qr_every > 1`` an interval's growth is spread
        evenly over its steps. Only with ``keep_finite_time=True``.
    vectors : Tensor or None
        (B, D_t, k) final orthonormal Gram-Schmidt vectors ``Q`` (columns in
        the order of ``exponents``), in the compute dtype, where ``D_t`` is the
        tangent-space dimension. Only with ``keep_vectors=True``.
    state_size : int
        Tangent-space dimension ``D_t``: the full state size (2N for LSTM and
        coRNN) or N for the hidden-only LSTM Jacobian of ``"aelle"``.
    convention : str
        ``"benettin"`` or ``"aelle"``.
    warmup : int
        Number of warm-up steps actually used.
    steps : int
        Number of measured steps the exponents average over.
    """

    exponents: Tensor
    stderr: Tensor
    finite_time: Tensor | None
    vectors: Tensor | None
    state_size: int
    convention: str
    warmup: int
    steps: int


# --------------------------------------------------------------------------- #
# Numerically stable derivatives of the gate nonlinearities
# --------------------------------------------------------------------------- #
def _sech2(a: Tensor) -> Tensor:
    """``sech^2(a) = 4 e^{-2|a|} / (1 + e^{-2|a|})^2``, exact where ``1 - tanh^2`` cancels."""
    decay = torch.exp(-2.0 * a.abs())
    return 4.0 * decay / (1.0 + decay) ** 2


def _sigmoid_slope(a: Tensor) -> Tensor:
    """``s'(a) = s(a) s(-a)``, free of the cancellation in ``s (1 - s)``."""
    return torch.sigmoid(a) * torch.sigmoid(-a)


# --------------------------------------------------------------------------- #
# Cells: state update and tangent maps on row-stored tangent vectors
# --------------------------------------------------------------------------- #
class _Cell(ABC):
    """A recurrent map with its tangent maps.

    Tangent vectors are rows: ``rows`` is (B, k, D_t). :meth:`tangent` returns
    ``rows @ J^T`` (the Jacobian applied to each vector, Benettin) and
    :meth:`aelle_cotangent` returns ``rows @ J_aelle`` (the reference's
    ``J^T Q``), both together with the next state.
    """

    component_sizes: tuple[int, ...]
    aelle_size: int

    @property
    def state_size(self) -> int:
        return sum(self.component_sizes)

    def drive(self, inputs: Tensor) -> Tensor:
        """Per-step input term for all steps at once; ``inputs`` is (B, T, ...)."""
        return inputs

    @abstractmethod
    def advance(self, drive_t: Tensor, state: State) -> State:
        """Next state, without tangent vectors."""

    @abstractmethod
    def tangent(self, drive_t: Tensor, state: State, rows: Tensor) -> tuple[Tensor, State]:
        """``rows @ J^T`` and the next state."""


class _LayerCell(_Cell):
    """A layer of a PyTorch ``nn.RNN``/``nn.GRU``/``nn.LSTM``, possibly one of a stack.

    Its tangent map also takes the tangent of the layer's input, ``input_rows``
    (B, k, I): in a stack, the input of layer l is the new hidden state of layer
    l - 1, so a perturbation of the layers below reaches this one through
    ``W_ih``. The hidden state ``h`` is the first ``hidden_size`` entries of
    the layer's state.
    """

    hidden_size: int

    @abstractmethod
    def tangent(
        self, drive_t: Tensor, state: State, rows: Tensor, input_rows: Tensor | None = None
    ) -> tuple[Tensor, State]:
        """``rows @ J^T + input_rows @ (d state' / d x)^T`` and the next state."""

    @abstractmethod
    def aelle_cotangent(self, drive_t: Tensor, state: State, rows: Tensor) -> tuple[Tensor, State]:
        """``rows @ J_aelle`` and the next state."""


def _tensor_copy(tensor: Tensor, dtype: torch.dtype, device: torch.device) -> Tensor:
    return tensor.detach().to(device=device, dtype=dtype, copy=True)


def _input_projection(inputs: Tensor, weight_ih: Tensor, bias: Tensor | None) -> Tensor:
    """``x W_ih^T + b`` for all steps at once, (B, T, G N)."""
    projected = inputs @ weight_ih.T
    return projected if bias is None else projected + bias


def _layer_parameters(rnn: nn.RNNBase, layer: int, dtype: torch.dtype, device: torch.device) -> dict[str, Tensor]:
    """Copies of ``weight_ih``, ``weight_hh`` (and ``bias_ih``, ``bias_hh``) of one layer, in ``dtype``."""
    names = ("weight_ih", "weight_hh", "bias_ih", "bias_hh") if rnn.bias else ("weight_ih", "weight_hh")
    return {name: _tensor_copy(getattr(rnn, f"{name}_l{layer}"), dtype, device) for name in names}


class _ElmanCell(_LayerCell):
    """``h' = phi(W_ih x + b_ih + W_hh h + b_hh)`` with phi = tanh or relu."""

    def __init__(self, rnn: nn.RNN, dtype: torch.dtype, device: torch.device, layer: int = 0) -> None:
        weights = _layer_parameters(rnn, layer, dtype, device)
        self.weight_ih, self.weight_hh = weights["weight_ih"], weights["weight_hh"]
        self.bias = weights["bias_ih"] + weights["bias_hh"] if rnn.bias else None
        self.relu = rnn.nonlinearity == "relu"
        self.hidden_size = rnn.hidden_size
        self.component_sizes = (rnn.hidden_size,)
        self.aelle_size = rnn.hidden_size

    def drive(self, inputs: Tensor) -> Tensor:
        return _input_projection(inputs, self.weight_ih, self.bias)

    def _preactivation(self, drive_t: Tensor, state: State) -> Tensor:
        return torch.addmm(drive_t, state[0], self.weight_hh.T)

    def _activate(self, a: Tensor) -> tuple[Tensor, Tensor]:
        """Return ``(phi(a), phi'(a))``."""
        if self.relu:
            return torch.relu(a), (a > 0).to(a.dtype)
        return torch.tanh(a), _sech2(a)

    def advance(self, drive_t: Tensor, state: State) -> State:
        return (self._activate(self._preactivation(drive_t, state))[0],)

    def tangent(
        self, drive_t: Tensor, state: State, rows: Tensor, input_rows: Tensor | None = None
    ) -> tuple[Tensor, State]:
        h_next, slope = self._activate(self._preactivation(drive_t, state))
        pushed = rows @ self.weight_hh.T
        if input_rows is not None:
            pushed += input_rows @ self.weight_ih.T
        return pushed.mul_(slope[:, None, :]), (h_next,)

    def aelle_cotangent(self, drive_t: Tensor, state: State, rows: Tensor) -> tuple[Tensor, State]:
        h_next, slope = self._activate(self._preactivation(drive_t, state))
        return (rows * slope[:, None, :]) @ self.weight_hh, (h_next,)


class _GRUCell(_LayerCell):
    """PyTorch GRU, gate order (r, z, n).

    ``n = tanh(W_in x + b_in + r (W_hn h + b_hn))``, ``h' = (1 - z) n + z h``.
    Its Jacobian is ``diag(z) + sum_g diag(w_g) U_g`` over g in (r, z, n)
    with ``w_r = (1-z) sech^2(a_n) (W_hn h + b_hn) s'(a_r)``,
    ``w_z = (h - n) s'(a_z)``, ``w_n = (1-z) sech^2(a_n) r``.
    """

    def __init__(self, gru: nn.GRU, dtype: torch.dtype, device: torch.device, layer: int = 0) -> None:
        weights = _layer_parameters(gru, layer, dtype, device)
        self.weight_ih, self.weight_hh = weights["weight_ih"], weights["weight_hh"]
        self.bias_ih, self.bias_hh = weights.get("bias_ih"), weights.get("bias_hh")
        self.hidden_size = gru.hidden_size
        self.component_sizes = (gru.hidden_size,)
        self.aelle_size = gru.hidden_size

    def drive(self, inputs: Tensor) -> Tensor:
        return _input_projection(inputs, self.weight_ih, self.bias_ih)

    def _linearise(self, drive_t: Tensor, state: State) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """Return ``h'``, the gate weights ``w`` (B, 3, N), ``z`` and ``(1 - z) sech^2(a_n)`` (B, N).

        An input perturbation enters the candidate gate without the factor
        ``r`` that multiplies the hidden term, hence the last value.
        """
        (h,) = state
        hidden_term = h @ self.weight_hh.T
        if self.bias_hh is not None:
            hidden_term = hidden_term + self.bias_hh
        in_r, in_z, in_n = drive_t.chunk(3, dim=-1)
        hid_r, hid_z, hid_n = hidden_term.chunk(3, dim=-1)
        a_r, a_z = in_r + hid_r, in_z + hid_z
        r, z, one_minus_z = torch.sigmoid(a_r), torch.sigmoid(a_z), torch.sigmoid(-a_z)
        a_n = in_n + r * hid_n
        n = torch.tanh(a_n)
        h_next = n + z * (h - n)
        candidate_slope = one_minus_z * _sech2(a_n)
        weights = torch.stack(
            (candidate_slope * hid_n * _sigmoid_slope(a_r), (h - n) * _sigmoid_slope(a_z), candidate_slope * r),
            dim=1,
        )
        return h_next, weights, z, candidate_slope

    def advance(self, drive_t: Tensor, state: State) -> State:
        return (self._linearise(drive_t, state)[0],)

    def tangent(
        self, drive_t: Tensor, state: State, rows: Tensor, input_rows: Tensor | None = None
    ) -> tuple[Tensor, State]:
        h_next, weights, z, candidate_slope = self._linearise(drive_t, state)
        batch, k, n = rows.shape
        gate_terms = (rows @ self.weight_hh.T).view(batch, k, 3, n).mul_(weights[:, None])
        if input_rows is not None:
            input_weights = torch.stack((weights[:, 0], weights[:, 1], candidate_slope), dim=1)
            gate_terms += (input_rows @ self.weight_ih.T).view(batch, k, 3, n) * input_weights[:, None]
        return gate_terms.sum(dim=2).addcmul_(rows, z[:, None, :]), (h_next,)

    def aelle_cotangent(self, drive_t: Tensor, state: State, rows: Tensor) -> tuple[Tensor, State]:
        h_next, weights, z, _ = self._linearise(drive_t, state)
        batch, k, n = rows.shape
        scaled = (rows[:, :, None, :] * weights[:, None]).view(batch, k, 3 * n)
        return (scaled @ self.weight_hh).addcmul_(rows, z[:, None, :]), (h_next,)


class _LSTMLinearisation(NamedTuple):
    """Next state and gate derivatives of one LSTM step (each (B, N)).

    ``dc' = forget * dc + slope_i * da_i + slope_f * da_f + slope_g * da_g``
    and ``dh' = slope_c * dc' + slope_o * da_o``, where ``da_gate = U_gate dh``.
    """

    h_next: Tensor
    c_next: Tensor
    forget: Tensor
    slope_i: Tensor
    slope_f: Tensor
    slope_g: Tensor
    slope_o: Tensor
    slope_c: Tensor


class _LSTMCell(_LayerCell):
    """PyTorch LSTM, gate order (i, f, g, o), state ``(h, c)``.

    ``c' = f c + i g``, ``h' = o tanh(c')``. Tangent rows are ``[v_h | v_c]``.
    """

    def __init__(self, lstm: nn.LSTM, dtype: torch.dtype, device: torch.device, layer: int = 0) -> None:
        weights = _layer_parameters(lstm, layer, dtype, device)
        self.weight_ih, self.weight_hh = weights["weight_ih"], weights["weight_hh"]
        self.bias = weights["bias_ih"] + weights["bias_hh"] if lstm.bias else None
        self.hidden_size = lstm.hidden_size
        self.component_sizes = (lstm.hidden_size, lstm.hidden_size)
        self.aelle_size = lstm.hidden_size

    def drive(self, inputs: Tensor) -> Tensor:
        return _input_projection(inputs, self.weight_ih, self.bias)

    def _linearise(self, drive_t: Tensor, state: State) -> _LSTMLinearisation:
        h, c = state
        a_i, a_f, a_g, a_o = torch.addmm(drive_t, h, self.weight_hh.T).chunk(4, dim=-1)
        i, f, g, o = torch.sigmoid(a_i), torch.sigmoid(a_f), torch.tanh(a_g), torch.sigmoid(a_o)
        c_next = f * c + i * g
        tanh_c = torch.tanh(c_next)
        return _LSTMLinearisation(
            h_next=o * tanh_c,
            c_next=c_next,
            forget=f,
            slope_i=_sigmoid_slope(a_i) * g,
            slope_f=_sigmoid_slope(a_f) * c,
            slope_g=i * _sech2(a_g),
            slope_o=_sigmoid_slope(a_o) * tanh_c,
            slope_c=o * _sech2(c_next),
        )

    def advance(self, drive_t: Tensor, state: State) -> State:
        h, c = state
        a_i, a_f, a_g, a_o = torch.addmm(drive_t, h, self.weight_hh.T).chunk(4, dim=-1)
        c_next = torch.sigmoid(a_f) * c + torch.sigmoid(a_i) * torch.tanh(a_g)
        return torch.sigmoid(a_o) * torch.tanh(c_next), c_next

    def tangent(
        self, drive_t: Tensor, state: State, rows: Tensor, input_rows: Tensor | None = None
    ) -> tuple[Tensor, State]:
        lin = self._linearise(drive_t, state)
        n = self.hidden_size
        rows_h, rows_c = rows[..., :n], rows[..., n:]
        preactivation = rows_h @ self.weight_hh.T
        if input_rows is not None:
            preactivation += input_rows @ self.weight_ih.T
        p_i, p_f, p_g, p_o = preactivation.chunk(4, dim=-1)
        out = torch.empty_like(rows)
        out_h, out_c = out[..., :n], out[..., n:]
        torch.mul(rows_c, lin.forget[:, None, :], out=out_c)
        out_c.addcmul_(p_i, lin.slope_i[:, None, :])
        out_c.addcmul_(p_f, lin.slope_f[:, None, :])
        out_c.addcmul_(p_g, lin.slope_g[:, None, :])
        torch.mul(out_c, lin.slope_c[:, None, :], out=out_h)
        out_h.addcmul_(p_o, lin.slope_o[:, None, :])
        return out, (lin.h_next, lin.c_next)

    def aelle_cotangent(self, drive_t: Tensor, state: State, rows: Tensor) -> tuple[Tensor, State]:
        """``rows @ J_h`` with the reference's hidden-only Jacobian (c held fixed)."""
        lin = self._linearise(drive_t, state)
        weights = torch.stack(
            (lin.slope_c * lin.slope_i, lin.slope_c * lin.slope_f, lin.slope_c * lin.slope_g, lin.slope_o), dim=1
        )
        batch, k, n = rows.shape
        scaled = (rows[:, :, None, :] * weights[:, None]).view(batch, k, 4 * n)
        return scaled @ self.weight_hh, (lin.h_next, lin.c_next)


class _AntisymmetricCell(_Cell):
    """``h' = h + eps tanh(M h + V x + b)`` with ``M = W - W^T - gamma I``."""

    def __init__(self, cell: AntisymmetricRNN, dtype: torch.dtype, device: torch.device) -> None:
        weight = _tensor_copy(cell.weight_hh, dtype, device)
        eye = torch.eye(cell.hidden_size, dtype=dtype, device=device)
        self.recurrent = weight - weight.T - cell.gamma * eye
        self.weight_ih = _tensor_copy(cell.weight_ih, dtype, device)
        self.bias = None if cell.bias is None else _tensor_copy(cell.bias, dtype, device)
        self.eps = cell.eps
        self.component_sizes = (cell.hidden_size,)
        self.aelle_size = cell.hidden_size

    def drive(self, inputs: Tensor) -> Tensor:
        return _input_projection(inputs, self.weight_ih, self.bias)

    def _step(self, drive_t: Tensor, state: State) -> tuple[Tensor, Tensor]:
        """Return ``h'`` and ``eps sech^2(a)``."""
        (h,) = state
        a = torch.addmm(drive_t, h, self.recurrent.T)
        return h + self.eps * torch.tanh(a), self.eps * _sech2(a)

    def advance(self, drive_t: Tensor, state: State) -> State:
        return (self._step(drive_t, state)[0],)

    def tangent(self, drive_t: Tensor, state: State, rows: Tensor) -> tuple[Tensor, State]:
        h_next, slope = self._step(drive_t, state)
        return (rows @ self.recurrent.T).mul_(slope[:, None, :]).add_(rows), (h_next,)

    def aelle_cotangent(self, drive_t: Tensor, state: State, rows: Tensor) -> tuple[Tensor, State]:
        h_next, slope = self._step(drive_t, state)
        return ((rows * slope[:, None, :]) @ self.recurrent).add_(rows), (h_next,)


class _CoupledOscillatorCell(_Cell):
    """coRNN, state ``(y, z)``; tangent rows are ``[v_y | v_z]``.

    ``z' = z + dt (tanh(a) - gamma y - eps z)``, ``y' = y + dt z'`` with
    ``a = W_y y + W_z z + V x + b``.
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
        self.aelle_size = 2 * cell.hidden_size

    def drive(self, inputs: Tensor) -> Tensor:
        return _input_projection(inputs, self.weight_ih, self.bias)

    def _step(self, drive_t: Tensor, state: State) -> tuple[State, Tensor]:
        """Return ``(y', z')`` and the pre-activation ``a``."""
        y, z = state
        a = torch.addmm(drive_t, torch.cat((y, z), dim=-1), self.weight_state.T)
        z_next = z + self.dt * (torch.tanh(a) - self.gamma * y - self.eps * z)
        return (y + self.dt * z_next, z_next), a

    def advance(self, drive_t: Tensor, state: State) -> State:
        return self._step(drive_t, state)[0]

    def tangent(self, drive_t: Tensor, state: State, rows: Tensor) -> tuple[Tensor, State]:
        state_next, a = self._step(drive_t, state)
        n = self.hidden_size
        rows_y, rows_z = rows[..., :n], rows[..., n:]
        out = torch.empty_like(rows)
        out_y, out_z = out[..., :n], out[..., n:]
        torch.mul(rows @ self.weight_state.T, (self.dt * _sech2(a))[:, None, :], out=out_z)
        out_z.add_(rows_z, alpha=1.0 - self.dt * self.eps).add_(rows_y, alpha=-self.dt * self.gamma)
        torch.add(rows_y, out_z, alpha=self.dt, out=out_y)
        return out, state_next

    def aelle_cotangent(self, drive_t: Tensor, state: State, rows: Tensor) -> tuple[Tensor, State]:
        state_next, a = self._step(drive_t, state)
        n = self.hidden_size
        rows_y, rows_z = rows[..., :n], rows[..., n:]
        combined = rows_z + self.dt * rows_y
        through_tanh = (combined * (self.dt * _sech2(a))[:, None, :]) @ self.weight_state
        out_y = through_tanh[..., :n].add_(rows_y).add_(combined, alpha=-self.dt * self.gamma)
        out_z = through_tanh[..., n:].add_(combined, alpha=1.0 - self.dt * self.eps)
        return torch.cat((out_y, out_z), dim=-1), state_next


_AELLE_SINGLE_LAYER = "convention='aelle' (the reference code) is defined for single-layer networks only"


class _StackedCell(_Cell):
    """A multi-layer ``nn.RNN``/``nn.GRU``/``nn.LSTM`` as one map on the stacked state.

    The state is every layer's state, layer 0 first (``[h_0, h_1, ...]``;
    ``[h_0, c_0, h_1, c_1, ...]`` for LSTM). Layer ``l > 0`` is driven by the
    new hidden state of layer ``l - 1``, so the Jacobian is block
    lower-triangular and its tangent map is applied layer by layer, passing
    each layer's new hidden-state tangent up as the next layer's input
    tangent. Dropout between layers is a training device and is not part of
    the map.
    """

    def __init__(self, layers: Sequence[_LayerCell]) -> None:
        self.layers = tuple(layers)
        self.component_sizes = tuple(size for layer in self.layers for size in layer.component_sizes)
        self.aelle_size = self.state_size

    def drive(self, inputs: Tensor) -> Tensor:
        return self.layers[0].drive(inputs)

    def _per_layer(self, state: State) -> list[State]:
        parts, start = [], 0
        for layer in self.layers:
            count = len(layer.component_sizes)
            parts.append(tuple(state[start : start + count]))
            start += count
        return parts

    def advance(self, drive_t: Tensor, state: State) -> State:
        next_state: list[Tensor] = []
        h_below: Tensor | None = None  # hidden state of the layer below; None for the first layer
        for layer, layer_state in zip(self.layers, self._per_layer(state), strict=True):
            layer_drive = drive_t if h_below is None else layer.drive(h_below)
            layer_next = layer.advance(layer_drive, layer_state)
            h_below = layer_next[0]
            next_state.extend(layer_next)
        return tuple(next_state)

    def tangent(self, drive_t: Tensor, state: State, rows: Tensor) -> tuple[Tensor, State]:
        layer_rows = rows.split([layer.state_size for layer in self.layers], dim=-1)
        pushed: list[Tensor] = []
        next_state: list[Tensor] = []
        h_below: Tensor | None = None
        input_rows = None
        for layer, layer_state, rows_of_layer in zip(self.layers, self._per_layer(state), layer_rows, strict=True):
            layer_drive = drive_t if h_below is None else layer.drive(h_below)
            layer_pushed, layer_next = layer.tangent(layer_drive, layer_state, rows_of_layer, input_rows)
            h_below, input_rows = layer_next[0], layer_pushed[..., : layer.hidden_size]
            pushed.append(layer_pushed)
            next_state.extend(layer_next)
        return torch.cat(pushed, dim=-1), tuple(next_state)

    def aelle_cotangent(self, drive_t: Tensor, state: State, rows: Tensor) -> tuple[Tensor, State]:
        raise ValueError(_AELLE_SINGLE_LAYER)

    def flat_h0(self, h0: Tensor | Sequence[Tensor], batch: int) -> Tensor:
        """PyTorch's ``h0`` (L, B, N) (``(h0, c0)`` for LSTM) as the (B, D) stacked state."""
        components = (h0,) if isinstance(h0, Tensor) else tuple(h0)
        expected = (len(self.layers), batch, self.layers[0].hidden_size)
        if len(components) != len(self.layers[0].component_sizes) or any(c.shape != expected for c in components):
            shapes = [tuple(c.shape) if isinstance(c, Tensor) else type(c).__name__ for c in components]
            raise ValueError(
                f"h0 of a {len(self.layers)}-layer network must be the stacked state ({batch}, {self.state_size}) "
                f"or PyTorch's layout of {len(self.layers[0].component_sizes)} tensor(s) of shape {expected}, "
                f"got {shapes}"
            )
        return torch.cat([component[layer] for layer in range(len(self.layers)) for component in components], dim=-1)


class _CallableCell(_Cell):
    """Any ``f(x_t, state) -> state`` on a (B, D) state, differentiated by autograd."""

    def __init__(self, step: StepFunction, state_size: int) -> None:
        self.step = step
        self.component_sizes = (state_size,)
        self.aelle_size = state_size

    def advance(self, drive_t: Tensor, state: State) -> State:
        return (self.step(drive_t, state[0]),)

    def tangent(self, drive_t: Tensor, state: State, rows: Tensor) -> tuple[Tensor, State]:
        def push_forward(vector: Tensor) -> tuple[Tensor, Tensor]:
            return jvp(lambda s: self.step(drive_t, s), (state[0],), (vector,))

        state_next, pushed = vmap(push_forward, in_dims=1, out_dims=(None, 1))(rows)
        return pushed, (state_next,)

    def aelle_cotangent(self, drive_t: Tensor, state: State, rows: Tensor) -> tuple[Tensor, State]:
        state_next, pull_back = vjp(lambda s: self.step(drive_t, s), state[0])
        return vmap(lambda vector: pull_back(vector)[0], in_dims=1, out_dims=1)(rows), (state_next,)


def _recurrent_module(model: nn.Module) -> nn.Module:
    return model.rnn if isinstance(model, SequenceModel) else model


def _check_torch_rnn(rnn: nn.RNNBase) -> None:
    if rnn.bidirectional:
        raise ValueError("bidirectional RNNs are not dynamical systems in time; use a unidirectional module")
    if getattr(rnn, "proj_size", 0):
        raise ValueError("LSTM with proj_size > 0 is not supported")


def _make_cell(module: nn.Module, dtype: torch.dtype, device: torch.device) -> _Cell:
    """Analytic cell for a supported recurrent module (a copy of its weights in ``dtype``)."""
    for module_type, layer_cell in ((nn.RNN, _ElmanCell), (nn.GRU, _GRUCell), (nn.LSTM, _LSTMCell)):
        if isinstance(module, module_type):
            _check_torch_rnn(module)
            layers = [layer_cell(module, dtype, device, layer) for layer in range(module.num_layers)]
            return layers[0] if len(layers) == 1 else _StackedCell(layers)
    if isinstance(module, AntisymmetricRNN):
        return _AntisymmetricCell(module, dtype, device)
    if isinstance(module, CoupledOscillatoryRNN):
        return _CoupledOscillatorCell(module, dtype, device)
    raise TypeError(
        f"unsupported model type {type(module).__name__}; expected nn.RNN/nn.LSTM/nn.GRU, AntisymmetricRNN, "
        "CoupledOscillatoryRNN, SequenceModel or a step function f(x_t, state) -> state"
    )


def _module_device(module: nn.Module) -> torch.device:
    parameter = next(module.parameters(), None)
    return parameter.device if parameter is not None else torch.device("cpu")


# --------------------------------------------------------------------------- #
# QR step and accumulation of the growth rates
# --------------------------------------------------------------------------- #
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


def _identity_rows(batch: int, k: int, size: int, dtype: torch.dtype, device: torch.device) -> Tensor:
    return torch.eye(size, dtype=dtype, device=device)[:k].expand(batch, k, size).contiguous()


def _progress(total: int, enabled: bool, description: str) -> tqdm:
    return tqdm(total=total, disable=not enabled, desc=description, unit="step", leave=False)


def _benettin(
    cell: _Cell,
    drive: Tensor,
    state: State,
    *,
    k: int,
    warmup: int,
    qr_every: int,
    keep_finite_time: bool,
    keep_vectors: bool,
    progress: bool,
) -> tuple[_GrowthRecorder, Tensor]:
    """Run the Benettin QR iteration; return the recorder and the final ``Q^T``."""
    batch, total_steps = drive.shape[:2]
    steps = total_steps - warmup
    recorder = _GrowthRecorder(
        batch,
        k,
        steps,
        drive.device,
        log=torch.log,
        keep_finite_time=keep_finite_time,
        track_signs=keep_vectors,
        track_spread=qr_every > 1,
    )
    rows = _identity_rows(batch, k, cell.state_size, drive.dtype, drive.device)
    with _progress(total_steps, progress, "Lyapunov (benettin)") as bar:
        for t in range(warmup):
            state = cell.advance(drive[:, t], state)
            bar.update()
        for start in range(0, steps, qr_every):
            stop = min(start + qr_every, steps)
            for t in range(warmup + start, warmup + stop):
                rows, state = cell.tangent(drive[:, t], state, rows)
                bar.update()
            rows, diag_r = _orthonormalise(rows)
            recorder.record(diag_r, start, stop)
    return recorder, rows


def _aelle(
    cell: _Cell,
    drive: Tensor,
    state: State,
    *,
    k: int,
    warmup: int,
    keep_finite_time: bool,
    keep_vectors: bool,
    progress: bool,
) -> tuple[_GrowthRecorder, Tensor]:
    """Reference algorithm (``calc_LEs_an``): ``J^T Q``, un-orthonormalised warm-up, replayed inputs."""
    batch, steps = drive.shape[:2]
    recorder = _GrowthRecorder(
        batch,
        k,
        steps,
        drive.device,
        log=torch.log2,
        keep_finite_time=keep_finite_time,
        track_signs=keep_vectors,
        track_spread=False,
    )
    rows = _identity_rows(batch, k, cell.aelle_size, drive.dtype, drive.device)
    with _progress(warmup + steps, progress, "Lyapunov (aelle)") as bar:
        for t in range(warmup):
            rows, state = cell.aelle_cotangent(drive[:, t], state, rows)
            bar.update()
        rows, _ = _orthonormalise(rows)
        for t in range(steps):
            rows, state = cell.aelle_cotangent(drive[:, t], state, rows)
            rows, diag_r = _orthonormalise(rows)
            recorder.record(diag_r, t, t + 1)
            bar.update()
    return recorder, rows


@contextmanager
def _ieee_float32() -> Iterator[None]:
    """Disable TF32 in CUDA matmuls and cuDNN for the duration of the block."""
    matmul = torch.backends.cuda.matmul
    if hasattr(matmul, "fp32_precision"):
        backends = [matmul, torch.backends.cudnn.conv, torch.backends.cudnn.rnn]
        previous = [backend.fp32_precision for backend in backends]
        for backend in backends:
            backend.fp32_precision = "ieee"
        try:
            yield
        finally:
            for backend, value in zip(backends, previous, strict=True):
                backend.fp32_precision = value
    else:
        previous_flags = (matmul.allow_tf32, torch.backends.cudnn.allow_tf32)
        matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
        try:
            yield
        finally:
            matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = previous_flags


# --------------------------------------------------------------------------- #
# Input validation
# --------------------------------------------------------------------------- #
def _batch_first_inputs(module: nn.Module | None, inputs: Tensor) -> Tensor:
    """Return inputs as (B, T, ...), checking their shape against ``module``."""
    if not isinstance(inputs, Tensor):
        raise TypeError(f"inputs must be a torch.Tensor, got {type(inputs).__name__}")
    if module is None:
        if inputs.ndim < 2:
            raise ValueError(f"inputs for a step function must be (B, T, ...), got shape {tuple(inputs.shape)}")
        return inputs
    batch_first = getattr(module, "batch_first", True)
    layout = "(B, T, I)" if batch_first else "(T, B, I)"
    if inputs.ndim != 3:
        raise ValueError(f"inputs must be 3-D {layout} for {type(module).__name__}, got shape {tuple(inputs.shape)}")
    if inputs.shape[-1] != module.input_size:
        raise ValueError(
            f"inputs have {inputs.shape[-1]} features but {type(module).__name__} expects "
            f"input_size={module.input_size}"
        )
    return inputs if batch_first else inputs.transpose(0, 1)


def _initial_state(
    h0: Tensor | Sequence[Tensor] | None, cell: _Cell, batch: int, dtype: torch.dtype, device: torch.device
) -> State:
    """Split/validate ``h0`` into the cell's state components, each (B, N_c)."""
    sizes = cell.component_sizes
    if h0 is None:
        return tuple(torch.zeros(batch, size, dtype=dtype, device=device) for size in sizes)
    if isinstance(h0, Tensor):
        flat = h0[0] if h0.ndim == 3 and h0.shape[0] == 1 else h0
        if flat.shape != (batch, cell.state_size):
            raise ValueError(
                f"h0 must have shape ({batch}, {cell.state_size}) (the full state, components {sizes} "
                f"concatenated), got {tuple(h0.shape)}"
            )
        return tuple(part.to(device=device, dtype=dtype) for part in flat.split(list(sizes), dim=-1))
    components = tuple(h0)
    if len(components) != len(sizes):
        raise ValueError(f"h0 must have {len(sizes)} components of sizes {sizes}, got {len(components)}")
    state = []
    for component, size in zip(components, sizes, strict=True):
        flat = component[0] if component.ndim == 3 and component.shape[0] == 1 else component
        if flat.shape != (batch, size):
            raise ValueError(f"each h0 component must be ({batch}, {size}), got {tuple(component.shape)}")
        state.append(flat.to(device=device, dtype=dtype))
    return tuple(state)


def _check_options(convention: str, k: int | None, size: int, warmup: int, steps: int, qr_every: int) -> int:
    """Validate the scalar options; return ``k``."""
    k = size if k is None else k
    if not 1 <= k <= size:
        raise ValueError(f"k must be between 1 and the tangent-space dimension {size}, got {k}")
    if warmup < 0:
        raise ValueError(f"warmup must be >= 0, got {warmup}")
    if convention == "benettin" and warmup >= steps:
        raise ValueError(f"warmup={warmup} leaves no measured step of the T={steps} inputs")
    if qr_every < 1:
        raise ValueError(f"qr_every must be >= 1, got {qr_every}")
    if convention == "aelle" and qr_every != 1:
        raise ValueError("convention='aelle' orthonormalises every step; qr_every must be 1")
    return k


def _guard_threshold(dtype: torch.dtype) -> float:
    """Largest safe spread of ln R_jj within one QR interval: ``ln(1/eps) / 2``."""
    return -math.log(torch.finfo(dtype).eps) / 2.0


# --------------------------------------------------------------------------- #
# Public entry point
# --------------------------------------------------------------------------- #
def lyapunov_spectrum(
    model: nn.Module | StepFunction,
    inputs: Tensor,
    *,
    k: int | None = None,
    warmup: int = 0,
    h0: Tensor | Sequence[Tensor] | None = None,
    qr_every: int = 1,
    dtype: torch.dtype = torch.float64,
    convention: Convention = "benettin",
    keep_finite_time: bool = False,
    keep_vectors: bool = False,
    progress: bool = False,
) -> LyapunovResult:
    """Lyapunov spectrum of a recurrent network driven by ``inputs``.

    Parameters
    ----------
    model : nn.Module or callable
        ``nn.RNN`` (tanh or relu), ``nn.LSTM``, ``nn.GRU`` (unidirectional,
        any ``batch_first``/``bias``; with ``num_layers > 1`` the state is
        every layer's state stacked, layer 0 first, ``"benettin"`` only),
        :class:`~lyapunov_rnn.models.AntisymmetricRNN`,
        :class:`~lyapunov_rnn.models.CoupledOscillatoryRNN`, a
        :class:`~lyapunov_rnn.models.SequenceModel` (its ``.rnn`` is used), or a
        step function ``f(x_t, state) -> next_state`` with ``state`` (B, D),
        differentiated by forward-mode autograd (``h0`` required).
    inputs : Tensor
        (B, T, I) for batch-first modules, (T, B, I) for ``batch_first=False``;
        (B, T, ...) for a step function (``x_t = inputs[:, t]``).
    k : int, optional
        Number of leading exponents, ``1 <= k <= D_t``; default all.
    warmup : int
        ``"benettin"``: steps that only advance the state (``< T``).
        ``"aelle"``: the reference's warm-up, see the module docstring.
    h0 : Tensor or sequence of Tensor, optional
        Initial state: a (B, D) tensor (components concatenated, e.g.
        ``[h, c]`` for LSTM, ``[y, z]`` for coRNN) or a tuple of components
        in the module's order, each (B, N) or PyTorch's (1, B, N). For a
        multi-layer module: the (B, D) stacked state (``[h_0, c_0, h_1, c_1,
        ...]`` for LSTM) or PyTorch's ``h0`` (L, B, N) / ``(h0, c0)``. Default
        zeros; required for a step function.
    qr_every : int
        Steps between QR factorisations (``"benettin"`` only). Values > 1 are
        guarded; see the module docstring for when they are safe.
    dtype : torch.dtype
        Compute dtype (a copy of the weights is cast to it). The logarithms
        are always accumulated in float64.
    convention : {"benettin", "aelle"}
        ``"benettin"``: standard algorithm, nats per step. ``"aelle"``: the
        reference implementation of the AeLLE papers, bits per step.
    keep_finite_time, keep_vectors : bool
        Also return the finite-time exponents / the final vectors.
    progress : bool
        Show a progress bar over time steps.

    Returns
    -------
    LyapunovResult
        Exponents (B, k) sorted descending, their standard errors and the
        optional extras, all on the device of the model's parameters.

    Raises
    ------
    ValueError
        For malformed inputs or options (shape, input size, ``k``,
        ``warmup``, ``qr_every``, ``convention``, ``"aelle"`` with a
        multi-layer module, bidirectional modules).
    TypeError
        For an unsupported model type.
    """
    if convention not in CONVENTIONS:
        raise ValueError(f"unknown convention {convention!r}; expected one of {CONVENTIONS}")
    if isinstance(model, nn.Module):
        module = _recurrent_module(model)
        device = _module_device(module)
        cell = _make_cell(module, dtype, device)
        sequence = _batch_first_inputs(module, inputs).to(device=device, dtype=dtype)
    elif callable(model):
        if not isinstance(h0, Tensor) or h0.ndim != 2:
            raise ValueError("a step function needs the initial state h0 as a (B, D) tensor")
        device = h0.device
        cell = _CallableCell(model, h0.shape[1])
        sequence = _batch_first_inputs(None, inputs).to(device=device, dtype=dtype)
    else:
        raise TypeError(f"model must be an nn.Module or a step function, got {type(model).__name__}")
    batch, total_steps = sequence.shape[:2]
    if isinstance(cell, _StackedCell):
        if convention == "aelle":
            raise ValueError(_AELLE_SINGLE_LAYER)
        if h0 is not None and not (isinstance(h0, Tensor) and h0.ndim == 2):
            h0 = cell.flat_h0(h0, batch)
    tangent_size = cell.state_size if convention == "benettin" else cell.aelle_size
    k = _check_options(convention, k, tangent_size, warmup, total_steps, qr_every)
    state = _initial_state(h0, cell, batch, dtype, device)

    with torch.no_grad(), _ieee_float32():
        drive = cell.drive(sequence)
        if convention == "aelle":
            warmup = min(warmup, total_steps)
            steps = total_steps
            recorder, rows = _aelle(
                cell,
                drive,
                state,
                k=k,
                warmup=warmup,
                keep_finite_time=keep_finite_time,
                keep_vectors=keep_vectors,
                progress=progress,
            )
        else:
            steps = total_steps - warmup
            options = dict(
                k=k, warmup=warmup, keep_finite_time=keep_finite_time, keep_vectors=keep_vectors, progress=progress
            )
            recorder, rows = _benettin(cell, drive, state, qr_every=qr_every, **options)
            if qr_every > 1 and not bool(recorder.max_spread <= _guard_threshold(dtype)):
                warnings.warn(
                    f"qr_every={qr_every} is ill-conditioned for this system (ln R_jj spread "
                    f"{float(recorder.max_spread):.3g} > {_guard_threshold(dtype):.3g} within one QR interval); "
                    "recomputing with qr_every=1",
                    RuntimeWarning,
                    stacklevel=2,
                )
                recorder, rows = _benettin(cell, drive, state, qr_every=1, **options)
    return _result(recorder, rows, convention, tangent_size, warmup, steps, keep_vectors)


def _result(
    recorder: _GrowthRecorder,
    rows: Tensor,
    convention: str,
    tangent_size: int,
    warmup: int,
    steps: int,
    keep_vectors: bool,
) -> LyapunovResult:
    """Average, sort descending and package the recorded growth."""
    exponents = recorder.total / steps
    order = exponents.argsort(dim=-1, descending=True)
    finite_time = recorder.finite_time()
    vectors = None
    if keep_vectors:
        signed = rows.mT * recorder.sign.to(rows.dtype)[:, None, :]
        vectors = signed.gather(-1, order[:, None, :].expand_as(signed))
    return LyapunovResult(
        exponents=exponents.gather(-1, order),
        stderr=recorder.stderr().gather(-1, order),
        finite_time=None if finite_time is None else finite_time.gather(-1, order[:, None, :].expand_as(finite_time)),
        vectors=vectors,
        state_size=tangent_size,
        convention=convention,
        warmup=warmup,
        steps=steps,
    )
