"""Tangent maps of PyTorch's ``nn.RNN`` (tanh, relu), ``nn.GRU`` and ``nn.LSTM``, one layer or a stack.

The Jacobian is never materialised: each map applies ``J_t`` (or ``J_t^T``)
to the k tangent rows with one GEMM of the layer's stacked recurrent weight
plus elementwise gate derivatives, computed from pre-activations in
numerically stable forms (:mod:`lyapunov_rnn.lyapunov.numerics`). A step
therefore needs memory for the (B, k, D) rows only, not for B Jacobians of
D x D, and its cost scales with k (leading exponents, k << D). Tangent rows
are stored as (B, k, D), which is the memory layout LAPACK returns Q in, so
``rows @ J^T`` is one large GEMM and no transposition copy is needed.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from typing import NamedTuple

import torch
from torch import Tensor, nn

from lyapunov_rnn.lyapunov.numerics import _input_projection, _sech2, _sigmoid_slope
from lyapunov_rnn.lyapunov.tangent import State, TangentMap, _tensor_copy, register_tangent_map

__all__ = ["ElmanMap", "GRUMap", "LSTMMap", "StackedMap"]


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
        return torch.addmm(drive_t, state[0], self.weight_hh.T)

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
        pushed = rows @ self.weight_hh.T
        if input_rows is not None:
            pushed += input_rows @ self.weight_ih.T
        return pushed.mul_(slope[:, None, :]), (h_next,)

    def pull_back(self, drive_t: Tensor, state: State, rows: Tensor) -> tuple[Tensor, State]:
        h_next, slope = self._activate(self._preactivation(drive_t, state))
        return (rows * slope[:, None, :]) @ self.weight_hh, (h_next,)


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

    def push_forward(
        self, drive_t: Tensor, state: State, rows: Tensor, input_rows: Tensor | None = None
    ) -> tuple[Tensor, State]:
        h_next, weights, z, candidate_slope = self._linearise(drive_t, state)
        batch, k, n = rows.shape
        gate_terms = (rows @ self.weight_hh.T).view(batch, k, 3, n).mul_(weights[:, None])
        if input_rows is not None:
            input_weights = torch.stack((weights[:, 0], weights[:, 1], candidate_slope), dim=1)
            gate_terms += (input_rows @ self.weight_ih.T).view(batch, k, 3, n) * input_weights[:, None]
        return gate_terms.sum(dim=2).addcmul_(rows, z[:, None, :]), (h_next,)

    def pull_back(self, drive_t: Tensor, state: State, rows: Tensor) -> tuple[Tensor, State]:
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


class LSTMMap(_LayerMap):
    """PyTorch LSTM, gate order (i, f, g, o), state ``(h, c)``.

    ``c' = f c + i g``, ``h' = o tanh(c')``. Tangent rows are ``[v_h | v_c]``.
    The reference convention uses the hidden block ``dh'/dh`` (``c`` held
    fixed): :attr:`reference_size` is N.
    """

    def __init__(self, lstm: nn.LSTM, dtype: torch.dtype, device: torch.device, layer: int = 0) -> None:
        weights = _layer_parameters(lstm, layer, dtype, device)
        self.weight_ih, self.weight_hh = weights["weight_ih"], weights["weight_hh"]
        self.bias = weights["bias_ih"] + weights["bias_hh"] if lstm.bias else None
        self.hidden_size = lstm.hidden_size
        self.component_sizes = (lstm.hidden_size, lstm.hidden_size)

    @property
    def reference_size(self) -> int:
        return self.hidden_size

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

    def push_forward(
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

    def pull_back(self, drive_t: Tensor, state: State, rows: Tensor) -> tuple[Tensor, State]:
        """``[u_h | u_c] @ J`` on the full state ``(h, c)``.

        ``h'`` depends on ``c'`` only, so the cotangent of ``c'`` is
        ``w = u_h slope_c + u_c``; it flows to ``h`` through the gates i, f, g
        and to ``c`` through the forget gate, and ``u_h`` flows to ``h``
        through the output gate: ``[w slope_i, w slope_f, w slope_g,
        u_h slope_o] @ U`` (one GEMM with the stacked ``weight_hh``) and
        ``w forget``.
        """
        lin = self._linearise(drive_t, state)
        n = self.hidden_size
        rows_h, rows_c = rows[..., :n], rows[..., n:]
        through_c = torch.addcmul(rows_c, rows_h, lin.slope_c[:, None, :])
        batch, k, _ = rows.shape
        scaled = rows.new_empty(batch, k, 4, n)
        gate_slopes = torch.stack((lin.slope_i, lin.slope_f, lin.slope_g), dim=1)
        torch.mul(through_c[:, :, None, :], gate_slopes[:, None], out=scaled[:, :, :3])
        torch.mul(rows_h, lin.slope_o[:, None, :], out=scaled[:, :, 3])
        pulled_h = scaled.view(batch, k, 4 * n) @ self.weight_hh
        pulled_c = through_c.mul_(lin.forget[:, None, :])
        return torch.cat((pulled_h, pulled_c), dim=-1), (lin.h_next, lin.c_next)

    def reference_pull_back(self, drive_t: Tensor, state: State, rows: Tensor) -> tuple[Tensor, State]:
        """``rows @ J[:N, :N]``, the reference's hidden-only Jacobian ``dh'/dh`` (``c`` held fixed).

        The block of :meth:`pull_back` with ``u_c = 0``, computed directly:
        ``[u_h slope_c slope_i, u_h slope_c slope_f, u_h slope_c slope_g,
        u_h slope_o] @ U``. The default (pad the rows to ``(h, c)``, pull back,
        cut) adds the ``c`` half to every elementwise operation and about ten
        small operations per step: 10-25 % slower at N <= 128 on a CPU.
        """
        lin = self._linearise(drive_t, state)
        weights = torch.stack(
            (lin.slope_c * lin.slope_i, lin.slope_c * lin.slope_f, lin.slope_c * lin.slope_g, lin.slope_o), dim=1
        )
        batch, k, n = rows.shape
        scaled = (rows[:, :, None, :] * weights[:, None]).view(batch, k, 4 * n)
        return scaled @ self.weight_hh, (lin.h_next, lin.c_next)


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
