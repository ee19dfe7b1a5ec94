"""Tangent maps of PyTorch's ``nn.RNN`` (tanh, relu), ``nn.GRU`` and ``nn.LSTM``, one layer or a stack.

Each map applies ``J_t`` (or ``J_t^T``) to the k tangent rows with one GEMM
of the layer's stacked recurrent weight plus elementwise gate derivatives,
computed from pre-activations in numerically stable forms
(:mod:`lyapunov_rnn.lyapunov.numerics`), without materialising the
Jacobian. A step therefore needs memory for the (B, k, D) rows only, not for
B Jacobians of D x D, and its cost scales with k (leading exponents,
k << D). Tangent rows are stored as (B, k, D), which is the memory layout
LAPACK returns Q in, so ``rows @ J^T`` is one large GEMM and no
transposition copy is needed. The weights may also be those of G networks
stacked along a leading dimension (G, ...), for an ensemble of networks in one
run (:mod:`lyapunov_rnn.lyapunov.ensemble`): the products then go through the
helpers of :mod:`lyapunov_rnn.lyapunov.numerics`, which apply network g's
weight to its block of the batch.

The LSTM is the exception where k is close to the state size: its
matrix-free product multiplies the rows by all four gate blocks (4N x N,
``8 N^2 k`` flops per sequence and step), while the Jacobian blocks it
needs are N x N sums of the gate blocks weighted by the gate derivatives.
:class:`LSTMMap` then materialises them (B, N, N) from the gate derivatives
(``8 N^2`` elementwise flops) and multiplies the rows by them (``2 N^2 k``
for the reference's hidden block, a quarter of the matrix-free flops at
k = N; ``4 N^2 k`` for the full ``(h, c)`` state, which needs the ``c``
block and ``U_o``: a half). The rule, from these flop counts with the
elementwise build weighted by its measured cost per flop relative to a GEMM
(:data:`ELEMENTWISE_COST`): materialise when the flops saved exceed the
weighted build, ``6 N^2 k > 8 c N^2`` (hidden block, k > 16) or
``4 N^2 k > 8 c N^2`` (full state, k > 24), and the blocks (N^2 or 2 N^2
per sequence) take no more memory than the matrix-free path's (k, 4N) gate
products: ``N <= 4 k`` (hidden block) or ``N <= 2 k`` (full state). The
batch size B multiplies both sides of every comparison and drops out. So a
few leading exponents (k < N/4) keep the matrix-free path and its memory,
and a full spectrum is materialised. See :class:`LSTMMap`.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from typing import Literal, NamedTuple

import torch
from torch import Tensor, nn

from lyapunov_rnn.lyapunov.numerics import _add_bias, _addmm, _input_projection, _matmul, _sech2, _sigmoid_slope
from lyapunov_rnn.lyapunov.tangent import State, TangentMap, _tensor_copy, register_tangent_map

__all__ = ["ElmanMap", "GRUMap", "LSTMMap", "StackedMap"]

ELEMENTWISE_COST = 12
"""Cost of an elementwise flop of the LSTM Jacobian build relative to a GEMM flop (CPU, measured).

One pass over B x N x N elements is memory-bound; a GEMM is not. Measured
on a 2-core x86 VM (torch 2.13, float32 and float64, B = 15 and 64, N = 32
to 256): the materialised products break even at k between 8 and 32
(hidden block) and between 16 and 48 (full state); c = 12 puts the flop
bound of the rule of :class:`LSTMMap` at k = 16 and k = 24.
"""


class _LayerMap(TangentMap):
    """A layer of a PyTorch ``nn.RNN``/``nn.GRU``/``nn.LSTM``, possibly one of a stack.

    Its :meth:`push_forward` also takes the tangent of the layer's input,
    ``input_rows`` (B, k, I): in a stack, the input of layer l is the new
    hidden state of layer l - 1, so a perturbation of the layers below
    reaches this one through ``W_ih``. The hidden state ``h`` is the first
    ``hidden_size`` entries of the layer's state.
    """

    hidden_size: int

    @abstractmethod
    def push_forward(
        self, drive_t: Tensor, state: State, rows: Tensor, input_rows: Tensor | None = None
    ) -> tuple[Tensor, State]:
        """``rows @ J^T + input_rows @ (d state' / d x)^T`` and the next state."""


def _layer_parameters(rnn: nn.RNNBase, layer: int, dtype: torch.dtype, device: torch.device) -> dict[str, Tensor]:
    """Copies of ``weight_ih``, ``weight_hh`` (and ``bias_ih``, ``bias_hh``) of one layer, in ``dtype``."""
    names = ("weight_ih", "weight_hh", "bias_ih", "bias_hh") if rnn.bias else ("weight_ih", "weight_hh")
    return {name: _tensor_copy(getattr(rnn, f"{name}_l{layer}"), dtype, device) for name in names}


class ElmanMap(_LayerMap):
    """``h' = phi(W_ih x + b_ih + W_hh h + b_hh)`` with phi = tanh or relu."""

    def __init__(self, rnn: nn.RNN, dtype: torch.dtype, device: torch.device, layer: int = 0) -> None:
        weights = _layer_parameters(rnn, layer, dtype, device)
        self.weight_ih, self.weight_hh = weights["weight_ih"], weights["weight_hh"]
        self.bias = weights["bias_ih"] + weights["bias_hh"] if rnn.bias else None
        self.relu = rnn.nonlinearity == "relu"
        self.hidden_size = rnn.hidden_size
        self.component_sizes = (rnn.hidden_size,)

    def drive(self, inputs: Tensor) -> Tensor:
        return _input_projection(inputs, self.weight_ih, self.bias)

    def _preactivation(self, drive_t: Tensor, state: State) -> Tensor:
        return _addmm(drive_t, state[0], self.weight_hh.mT)

    def _activate(self, a: Tensor) -> tuple[Tensor, Tensor]:
        """Return ``(phi(a), phi'(a))``."""
        if self.relu:
            return torch.relu(a), (a > 0).to(a.dtype)
        return torch.tanh(a), _sech2(a)

    def advance(self, drive_t: Tensor, state: State) -> State:
        return (self._activate(self._preactivation(drive_t, state))[0],)

    def push_forward(
        self, drive_t: Tensor, state: State, rows: Tensor, input_rows: Tensor | None = None
    ) -> tuple[Tensor, State]:
        h_next, slope = self._activate(self._preactivation(drive_t, state))
        pushed = _matmul(rows, self.weight_hh.mT)
        if input_rows is not None:
            pushed += _matmul(input_rows, self.weight_ih.mT)
        return pushed.mul_(slope[:, None, :]), (h_next,)

    def pull_back(self, drive_t: Tensor, state: State, rows: Tensor) -> tuple[Tensor, State]:
        h_next, slope = self._activate(self._preactivation(drive_t, state))
        return _matmul(rows * slope[:, None, :], self.weight_hh), (h_next,)


class GRUMap(_LayerMap):
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

    def drive(self, inputs: Tensor) -> Tensor:
        return _input_projection(inputs, self.weight_ih, self.bias_ih)

    def _linearise(self, drive_t: Tensor, state: State) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """Return ``h'``, the gate weights ``w`` (B, 3, N), ``z`` and ``(1 - z) sech^2(a_n)`` (B, N).

        An input perturbation enters the candidate gate without the factor
        ``r`` that multiplies the hidden term, hence the last value.
        """
        (h,) = state
        hidden_term = _matmul(h, self.weight_hh.mT)
        if self.bias_hh is not None:
            hidden_term = _add_bias(hidden_term, self.bias_hh)
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

    def push_forward(
        self, drive_t: Tensor, state: State, rows: Tensor, input_rows: Tensor | None = None
    ) -> tuple[Tensor, State]:
        h_next, weights, z, candidate_slope = self._linearise(drive_t, state)
        batch, k, n = rows.shape
        gate_terms = _matmul(rows, self.weight_hh.mT).view(batch, k, 3, n).mul_(weights[:, None])
        if input_rows is not None:
            input_weights = torch.stack((weights[:, 0], weights[:, 1], candidate_slope), dim=1)
            gate_terms += _matmul(input_rows, self.weight_ih.mT).view(batch, k, 3, n) * input_weights[:, None]
        return gate_terms.sum(dim=2).addcmul_(rows, z[:, None, :]), (h_next,)

    def pull_back(self, drive_t: Tensor, state: State, rows: Tensor) -> tuple[Tensor, State]:
        h_next, weights, z, _ = self._linearise(drive_t, state)
        batch, k, n = rows.shape
        scaled = (rows[:, :, None, :] * weights[:, None]).view(batch, k, 3 * n)
        return _matmul(scaled, self.weight_hh).addcmul_(rows, z[:, None, :]), (h_next,)


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


JacobianProduct = Literal["auto", "matrix-free", "materialised"]


class LSTMMap(_LayerMap):
    """PyTorch LSTM, gate order (i, f, g, o), state ``(h, c)``.

    ``c' = f c + i g``, ``h' = o tanh(c')``. Tangent rows are ``[v_h | v_c]``.
    The reference convention uses the hidden block ``dh'/dh`` (``c`` held
    fixed): :attr:`reference_size` is N.

    Every Jacobian product has two implementations with equal results (up to
    rounding). The matrix-free one multiplies the k rows by the stacked
    recurrent weight ``U = [U_i; U_f; U_g; U_o]`` (4N x N) in one GEMM and
    weights the four gate terms by the gate derivatives. The materialised one
    first forms, from the gate derivatives, the N x N blocks ``sum_g
    diag(w_g) U_g`` of every sequence (B, N, N) and multiplies the rows by
    them in one batched GEMM. Per sequence and step, in flops (a multiply-add
    is 2):

    ================================  ============  ========================
    product                           matrix-free   materialised
    ================================  ============  ========================
    :meth:`reference_pull_back`       8 N^2 k       8 N^2 + 2 N^2 k
    (hidden block ``dh'/dh``, N x N)
    :meth:`push_forward`,             8 N^2 k       8 N^2 + 4 N^2 k
    :meth:`pull_back` (full state:
    ``dc'/dh`` and ``diag(s_o) U_o``)
    ================================  ============  ========================

    The build (four elementwise passes over B x N x N, at most ``8 N^2``
    flops) is memory-bound and costs about :data:`ELEMENTWISE_COST` ``= c``
    GEMM flops per flop. ``jacobian_product="auto"`` materialises when both

    * the flops saved exceed the weighted build: ``6 N^2 k > 8 c N^2``
      (hidden block: k > 16) or ``4 N^2 k > 8 c N^2`` (full state: k > 24);
    * the blocks take no more memory than the (B, k, 4N) gate products of
      the matrix-free path: ``B N^2 <= 4 B N k`` (hidden block) or
      ``2 B N^2 <= 4 B N k`` (full state).

    B multiplies both sides of both and drops out. A few leading exponents
    (k < N/4) keep the matrix-free path; a full spectrum (k = N for the
    reference, 2N for the full state) is materialised: a quarter (hidden
    block) or a half (full state) of the matrix-free GEMM flops. Measured on
    a 2-core CPU (float32, B = 15, k = N): the reference product alone is
    2.5-5.5x faster at N = 128, a whole ``convention="reference"`` run, which
    the QR dominates, 1.2x (N = 64) to 1.6x (N = 256) faster; for B = 1 and
    N <= 64, where a step takes microseconds, the materialised product can
    be up to 15 % slower (benchmarks/lstm_step.py).

    Parameters
    ----------
    lstm : nn.LSTM
        The module.
    dtype, device
        Compute dtype and device of the weight copies.
    layer : int
        Layer of a stack.
    jacobian_product : {"auto", "matrix-free", "materialised"}
        Which implementation the Jacobian products use; ``"auto"`` applies
        the rule above to the shapes of each call.
    """

    def __init__(
        self,
        lstm: nn.LSTM,
        dtype: torch.dtype,
        device: torch.device,
        layer: int = 0,
        *,
        jacobian_product: JacobianProduct = "auto",
    ) -> None:
        if jacobian_product not in ("auto", "matrix-free", "materialised"):
            raise ValueError(
                f"jacobian_product must be 'auto', 'matrix-free' or 'materialised', got {jacobian_product!r}"
            )
        weights = _layer_parameters(lstm, layer, dtype, device)
        self.weight_ih, self.weight_hh = weights["weight_ih"], weights["weight_hh"]
        self.bias = weights["bias_ih"] + weights["bias_hh"] if lstm.bias else None
        self.hidden_size = lstm.hidden_size
        self.component_sizes = (lstm.hidden_size, lstm.hidden_size)
        self.jacobian_product = jacobian_product
        # U_i, U_f, U_g, U_o as views of weight_hh, (4, N, N)
        self._gate_blocks = self.weight_hh.view(4, lstm.hidden_size, lstm.hidden_size)

    @property
    def reference_size(self) -> int:
        return self.hidden_size

    def materialises(self, k: int, *, reference_block: bool) -> bool:
        """Whether a Jacobian product with ``k`` tangent rows uses the materialised path (class docstring).

        Parameters
        ----------
        k : int
            Number of tangent rows.
        reference_block : bool
            True for :meth:`reference_pull_back` (the N x N hidden block),
            False for the full-state products.
        """
        if self.jacobian_product != "auto":
            return self.jacobian_product == "materialised"
        n = self.hidden_size
        saved = 6 * k if reference_block else 4 * k  # GEMM flops saved per sequence, / N^2
        blocks = 1 if reference_block else 2  # N x N blocks materialised per sequence
        return saved > 8 * ELEMENTWISE_COST and blocks * n <= 4 * k

    def drive(self, inputs: Tensor) -> Tensor:
        return _input_projection(inputs, self.weight_ih, self.bias)

    def _linearise(self, drive_t: Tensor, state: State) -> _LSTMLinearisation:
        h, c = state
        a_i, a_f, a_g, a_o = _addmm(drive_t, h, self.weight_hh.mT).chunk(4, dim=-1)
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

    def _gate_sum(self, gates: Sequence[int], slopes: Sequence[Tensor], out: Tensor | None = None) -> Tensor:
        """``sum_j diag(slopes[j]) U_{gates[j]}`` (B, N, N), into ``out`` if given.

        Gates ``(0, 1, 2)`` (i, f, g) with their slopes give the block
        ``dc'/dh``; all four give a block of the form of the reference's
        ``dh'/dh``. With stacked weights (an ensemble: ``_gate_blocks``
        (G, 4, N, N)) network g's blocks are weighted by the slopes of its
        B / G sequences.
        """
        blocks = self._gate_blocks if self._gate_blocks.ndim == 4 else self._gate_blocks[None]
        groups, n = blocks.shape[0], self.hidden_size

        def per_network(values: Tensor) -> Tensor:  # (B, ...) -> (G, B / G, ...)
            return values.view(groups, -1, *values.shape[1:])

        total = torch.mul(
            blocks[:, gates[0], None], per_network(slopes[0])[..., None], out=None if out is None else per_network(out)
        )
        for gate, slope in zip(gates[1:], slopes[1:], strict=True):
            total.addcmul_(blocks[:, gate, None], per_network(slope)[..., None])
        return total.view(-1, n, n)

    def _full_state_blocks(self, lin: _LSTMLinearisation) -> Tensor:
        """``[diag(slope_o) U_o; dc'/dh]`` (B, 2N, N), the two N x N blocks the full-state products need.

        Stacked so that each product is one batched GEMM: ``v_h @ blocks^T``
        is ``[slope_o (U_o v_h) | dc'/dh v_h]`` and ``[u_h | w] @ blocks`` is
        ``(u_h slope_o) @ U_o + w @ dc'/dh``.
        """
        n = self.hidden_size
        blocks = lin.forget.new_empty(lin.forget.shape[0], 2 * n, n)
        self._gate_sum((3,), (lin.slope_o,), out=blocks[:, :n])
        self._gate_sum((0, 1, 2), (lin.slope_i, lin.slope_f, lin.slope_g), out=blocks[:, n:])
        return blocks

    def advance(self, drive_t: Tensor, state: State) -> State:
        h, c = state
        a_i, a_f, a_g, a_o = _addmm(drive_t, h, self.weight_hh.mT).chunk(4, dim=-1)
        c_next = torch.sigmoid(a_f) * c + torch.sigmoid(a_i) * torch.tanh(a_g)
        return torch.sigmoid(a_o) * torch.tanh(c_next), c_next

    def push_forward(
        self, drive_t: Tensor, state: State, rows: Tensor, input_rows: Tensor | None = None
    ) -> tuple[Tensor, State]:
        """``rows @ J^T`` on the full state ``(h, c)`` (plus the input tangent's term) and the next state.

        ``v_c' = forget v_c + sum_{g in i,f,g} slope_g (U_g v_h)`` and
        ``v_h' = slope_c v_c' + slope_o (U_o v_h)``; the ``U v_h`` terms are
        one GEMM with the stacked ``weight_hh`` (matrix-free) or one batched
        GEMM ``v_h @ [diag(slope_o) U_o; A]^T`` with ``A = dc'/dh =
        sum_{i,f,g} diag(slope_g) U_g`` materialised (class docstring). The
        input tangent enters through ``weight_ih`` in both.
        """
        lin = self._linearise(drive_t, state)
        n = self.hidden_size
        rows_h, rows_c = rows[..., :n], rows[..., n:]
        if self.materialises(rows.shape[1], reference_block=False):
            # [slope_o (U_o v_h) | dc'/dh v_h] in the place of [v_h' | v_c']
            out = rows_h @ self._full_state_blocks(lin).mT
            out_h, out_c = out[..., :n], out[..., n:]
            if input_rows is not None:
                x_i, x_f, x_g, x_o = _matmul(input_rows, self.weight_ih.mT).chunk(4, dim=-1)
                out_c.addcmul_(x_i, lin.slope_i[:, None, :])
                out_c.addcmul_(x_f, lin.slope_f[:, None, :])
                out_c.addcmul_(x_g, lin.slope_g[:, None, :])
                out_h.addcmul_(x_o, lin.slope_o[:, None, :])
            out_c.addcmul_(rows_c, lin.forget[:, None, :])
            out_h.addcmul_(out_c, lin.slope_c[:, None, :])
            return out, (lin.h_next, lin.c_next)
        out = torch.empty_like(rows)
        out_h, out_c = out[..., :n], out[..., n:]
        preactivation = _matmul(rows_h, self.weight_hh.mT)
        if input_rows is not None:
            preactivation += _matmul(input_rows, self.weight_ih.mT)
        p_i, p_f, p_g, p_o = preactivation.chunk(4, dim=-1)
        torch.mul(rows_c, lin.forget[:, None, :], out=out_c)
        out_c.addcmul_(p_i, lin.slope_i[:, None, :])
        out_c.addcmul_(p_f, lin.slope_f[:, None, :])
        out_c.addcmul_(p_g, lin.slope_g[:, None, :])
        torch.mul(out_c, lin.slope_c[:, None, :], out=out_h)
        out_h.addcmul_(p_o, lin.slope_o[:, None, :])
        return out, (lin.h_next, lin.c_next)

    def pull_back(self, drive_t: Tensor, state: State, rows: Tensor) -> tuple[Tensor, State]:
        """``[u_h | u_c] @ J`` on the full state ``(h, c)``.

        ``h'`` depends on ``c'`` only, so the cotangent of ``c'`` is
        ``w = u_h slope_c + u_c``; it flows to ``h`` through the gates i, f, g
        and to ``c`` through the forget gate, and ``u_h`` flows to ``h``
        through the output gate: ``[w slope_i, w slope_f, w slope_g,
        u_h slope_o] @ U`` (one GEMM with the stacked ``weight_hh``;
        materialised: ``[u_h | w] @ [diag(slope_o) U_o; A]``, one batched
        GEMM, with ``A = dc'/dh``) and ``w forget``.
        """
        lin = self._linearise(drive_t, state)
        n = self.hidden_size
        rows_h, rows_c = rows[..., :n], rows[..., n:]
        batch, k, _ = rows.shape
        if self.materialises(k, reference_block=False):
            # [u_h | w] @ [diag(slope_o) U_o; dc'/dh]
            stacked_rows = rows.clone()
            through_c = stacked_rows[..., n:].addcmul_(rows_h, lin.slope_c[:, None, :])
            pulled_h = stacked_rows @ self._full_state_blocks(lin)
        else:
            through_c = torch.addcmul(rows_c, rows_h, lin.slope_c[:, None, :])
            scaled = rows.new_empty(batch, k, 4, n)
            gate_slopes = torch.stack((lin.slope_i, lin.slope_f, lin.slope_g), dim=1)
            torch.mul(through_c[:, :, None, :], gate_slopes[:, None], out=scaled[:, :, :3])
            torch.mul(rows_h, lin.slope_o[:, None, :], out=scaled[:, :, 3])
            pulled_h = _matmul(scaled.view(batch, k, 4 * n), self.weight_hh)
        pulled_c = through_c.mul_(lin.forget[:, None, :])
        return torch.cat((pulled_h, pulled_c), dim=-1), (lin.h_next, lin.c_next)

    def reference_pull_back(self, drive_t: Tensor, state: State, rows: Tensor) -> tuple[Tensor, State]:
        """``rows @ J[:N, :N]``, the reference's hidden-only Jacobian ``dh'/dh`` (``c`` held fixed).

        ``J[:N, :N] = sum_g diag(w_g) U_g`` with ``w = (slope_c slope_i,
        slope_c slope_f, slope_c slope_g, slope_o)``: the block of
        :meth:`pull_back` with ``u_c = 0``, computed directly as ``[u_h w_i,
        u_h w_f, u_h w_g, u_h w_o] @ U`` (matrix-free) or as ``u_h @ J[:N,
        :N]`` with the block materialised (class docstring). The default
        (pad the rows to ``(h, c)``, pull back, cut) adds the ``c`` half to
        every elementwise operation and about ten small operations per step:
        10-25 % slower at N <= 128 on a CPU.
        """
        lin = self._linearise(drive_t, state)
        gate_weights = (lin.slope_c * lin.slope_i, lin.slope_c * lin.slope_f, lin.slope_c * lin.slope_g, lin.slope_o)
        batch, k, n = rows.shape
        if self.materialises(k, reference_block=True):
            return rows @ self._gate_sum((0, 1, 2, 3), gate_weights), (lin.h_next, lin.c_next)
        weights = torch.stack(gate_weights, dim=1)
        scaled = (rows[:, :, None, :] * weights[:, None]).view(batch, k, 4 * n)
        return _matmul(scaled, self.weight_hh), (lin.h_next, lin.c_next)


class StackedMap(TangentMap):
    """A multi-layer ``nn.RNN``/``nn.GRU``/``nn.LSTM`` as one map on the stacked state.

    The state is every layer's state, layer 0 first (``[h_0, h_1, ...]``;
    ``[h_0, c_0, h_1, c_1, ...]`` for LSTM). Layer ``l > 0`` is driven by the
    new hidden state of layer ``l - 1``, so the Jacobian is block
    lower-triangular and its tangent map is applied layer by layer, passing
    each layer's new hidden-state tangent up as the next layer's input
    tangent. Dropout between layers is a training device and is not part of
    the map. :meth:`pull_back` is the autograd default; the reference
    convention is defined for single-layer networks only
    (:attr:`reference_size` is None).
    """

    def __init__(self, layers: Sequence[_LayerMap]) -> None:
        self.layers = tuple(layers)
        self.component_sizes = tuple(size for layer in self.layers for size in layer.component_sizes)

    @property
    def reference_size(self) -> None:
        return None

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

    def push_forward(self, drive_t: Tensor, state: State, rows: Tensor) -> tuple[Tensor, State]:
        layer_rows = rows.split([layer.state_size for layer in self.layers], dim=-1)
        pushed: list[Tensor] = []
        next_state: list[Tensor] = []
        h_below: Tensor | None = None
        input_rows = None
        for layer, layer_state, rows_of_layer in zip(self.layers, self._per_layer(state), layer_rows, strict=True):
            layer_drive = drive_t if h_below is None else layer.drive(h_below)
            layer_pushed, layer_next = layer.push_forward(layer_drive, layer_state, rows_of_layer, input_rows)
            h_below, input_rows = layer_next[0], layer_pushed[..., : layer.hidden_size]
            pushed.append(layer_pushed)
            next_state.extend(layer_next)
        return torch.cat(pushed, dim=-1), tuple(next_state)

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


def _layers_or_stack(
    layer_map: type[_LayerMap], rnn: nn.RNNBase, dtype: torch.dtype, device: torch.device
) -> TangentMap:
    """One layer map, or a :class:`StackedMap` of ``rnn.num_layers`` of them."""
    if rnn.bidirectional:
        raise ValueError("bidirectional RNNs are not dynamical systems in time; use a unidirectional module")
    if getattr(rnn, "proj_size", 0):
        raise ValueError("LSTM with proj_size > 0 is not supported")
    layers = [layer_map(rnn, dtype, device, layer) for layer in range(rnn.num_layers)]
    return layers[0] if len(layers) == 1 else StackedMap(layers)


@register_tangent_map(nn.RNN)
def _rnn_map(rnn: nn.RNN, dtype: torch.dtype, device: torch.device) -> TangentMap:
    return _layers_or_stack(ElmanMap, rnn, dtype, device)


@register_tangent_map(nn.GRU)
def _gru_map(gru: nn.GRU, dtype: torch.dtype, device: torch.device) -> TangentMap:
    return _layers_or_stack(GRUMap, gru, dtype, device)


@register_tangent_map(nn.LSTM)
def _lstm_map(lstm: nn.LSTM, dtype: torch.dtype, device: torch.device) -> TangentMap:
    return _layers_or_stack(LSTMMap, lstm, dtype, device)
