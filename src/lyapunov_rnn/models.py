"""Recurrent cells and the sequence models trained by the workflow.

The recurrent part of every model is exposed as ``model.rnn`` so that the
Lyapunov engine can treat it as a driven dynamical system. Cells provided here
(besides PyTorch's ``nn.RNN``/``nn.LSTM``/``nn.GRU``):

* :class:`AntisymmetricRNN` (Chang et al. 2019)
  ``h <- h + eps * tanh((W - W^T - gamma I) h + V x + b)``
* :class:`CoupledOscillatoryRNN` (Rusch & Mishra 2021), state ``(y, z)``::

      z <- z + dt * (tanh(W y + W_z z + V x + b) - gamma * y - eps * z)
      y <- y + dt * z

Both share PyTorch's calling convention ``output, state = cell(x, state0)``
with ``batch_first`` inputs and expose ``step(x_t, state) -> state`` for a
single time step, with ``state`` a tuple of (B, N) tensors.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
from torch import nn

ARCHITECTURES: tuple[str, ...] = ("rnn", "lstm", "gru", "asrnn", "cornn")
Readout = Literal["last", "every"]


def antisymmetric_matrix(weight: torch.Tensor, gamma: float) -> torch.Tensor:
    """``W - W^T - gamma I`` for a square ``weight`` W, in its dtype and on its device.

    The recurrent matrix of :class:`AntisymmetricRNN`; a function so that the
    Lyapunov engine builds it from its own (possibly float64) copy of ``W``.
    """
    eye = torch.eye(weight.shape[0], dtype=weight.dtype, device=weight.device)
    return weight - weight.T - gamma * eye


class AntisymmetricRNN(nn.Module):
    """Antisymmetric RNN cell (forward-Euler discretisation).

    Parameters
    ----------
    input_size, hidden_size : int
        Input dimension I and hidden dimension N.
    eps : float
        Euler step size (dimensionless).
    gamma : float
        Diffusion constant subtracted on the diagonal of the antisymmetric
        matrix; keeps the discretisation stable.
    bias : bool
        Whether the pre-activation has a bias ``b`` (initialised as the bias
        of ``nn.Linear(input_size, hidden_size)``).
    batch_first : bool
        Layout of ``forward`` inputs: (B, T, I) if True, else (T, B, I).
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        *,
        eps: float = 0.01,
        gamma: float = 0.01,
        bias: bool = False,
        batch_first: bool = True,
    ) -> None:
        super().__init__()
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.eps = float(eps)
        self.gamma = float(gamma)
        self.batch_first = batch_first
        self.weight_hh = nn.Parameter(torch.empty(hidden_size, hidden_size))
        self.weight_ih = nn.Parameter(torch.empty(hidden_size, input_size))
        bound = 1.0 / math.sqrt(hidden_size)
        for weight in (self.weight_hh, self.weight_ih):
            nn.init.uniform_(weight, -bound, bound)
        # The input projection's bias, initialised as nn.Linear(input_size, hidden_size) does (as the reference).
        input_bound = 1.0 / math.sqrt(input_size)
        self.bias = nn.Parameter(torch.empty(hidden_size).uniform_(-input_bound, input_bound)) if bias else None

    def recurrent_matrix(self) -> torch.Tensor:
        """Return ``W - W^T - gamma I``, the matrix applied to ``h`` (N, N)."""
        return antisymmetric_matrix(self.weight_hh, self.gamma)

    def preactivation(self, x_t: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        """Pre-activation ``a = (W - W^T - gamma I) h + V x + b``, shape (B, N)."""
        a = h @ self.recurrent_matrix().T + x_t @ self.weight_ih.T
        if self.bias is not None:
            a = a + self.bias
        return a

    def step(self, x_t: torch.Tensor, state: tuple[torch.Tensor]) -> tuple[torch.Tensor]:
        """Advance one step: ``x_t`` (B, I), ``state = (h,)`` with h (B, N)."""
        (h,) = state
        return (h + self.eps * torch.tanh(self.preactivation(x_t, h)),)

    def initial_state(self, batch: int, like: torch.Tensor) -> tuple[torch.Tensor]:
        return (like.new_zeros(batch, self.hidden_size),)

    def forward(
        self, inputs: torch.Tensor, state: tuple[torch.Tensor] | torch.Tensor | None = None
    ) -> tuple[torch.Tensor, tuple[torch.Tensor]]:
        """Run over a sequence; returns (outputs of h, final state)."""
        return _unroll(self, inputs, state)


class CoupledOscillatoryRNN(nn.Module):
    """Coupled oscillatory RNN (coRNN) with state ``(y, z)``.

    Parameters
    ----------
    input_size, hidden_size : int
        Input dimension I and number of oscillators N (state size 2N).
    dt : float
        Time step of the IMEX discretisation.
    gamma, eps : float
        Oscillator stiffness and damping.
    bias : bool
        Whether the pre-activation has a bias (initialised as the sum of the
        default biases of the reference's three ``nn.Linear`` maps).
    batch_first : bool
        Layout of ``forward`` inputs.
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        *,
        dt: float = 0.042,
        gamma: float = 2.7,
        eps: float = 4.7,
        bias: bool = False,
        batch_first: bool = True,
    ) -> None:
        super().__init__()
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.dt = float(dt)
        self.gamma = float(gamma)
        self.eps = float(eps)
        self.batch_first = batch_first
        self.weight_hy = nn.Parameter(torch.empty(hidden_size, hidden_size))
        self.weight_hz = nn.Parameter(torch.empty(hidden_size, hidden_size))
        self.weight_ih = nn.Parameter(torch.empty(hidden_size, input_size))
        bound = 1.0 / math.sqrt(hidden_size)
        for weight in (self.weight_hy, self.weight_hz, self.weight_ih):
            nn.init.uniform_(weight, -bound, bound)
        # One bias for the three linear maps of the reference (y, z, input), initialised as the sum of
        # their nn.Linear default biases: U(+-1/sqrt(N)) + U(+-1/sqrt(N)) + U(+-1/sqrt(I)).
        self.bias = None
        if bias:
            input_bound = 1.0 / math.sqrt(input_size)
            draws = [torch.empty(hidden_size).uniform_(-b, b) for b in (bound, bound, input_bound)]
            self.bias = nn.Parameter(sum(draws))

    def preactivation(self, x_t: torch.Tensor, y: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """``a = W y + W_z z + V x + b``, shape (B, N)."""
        a = y @ self.weight_hy.T + z @ self.weight_hz.T + x_t @ self.weight_ih.T
        if self.bias is not None:
            a = a + self.bias
        return a

    def step(
        self, x_t: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Advance one step; ``state = (y, z)``, each (B, N)."""
        y, z = state
        z_next = z + self.dt * (torch.tanh(self.preactivation(x_t, y, z)) - self.gamma * y - self.eps * z)
        y_next = y + self.dt * z_next
        return (y_next, z_next)

    def initial_state(self, batch: int, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        zeros = like.new_zeros(batch, self.hidden_size)
        return (zeros, zeros.clone())

    def forward(
        self, inputs: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor] | None = None
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        """Run over a sequence; returns (outputs of y, final state)."""
        return _unroll(self, inputs, state)


def _unroll(cell: nn.Module, inputs: torch.Tensor, state) -> tuple[torch.Tensor, tuple]:
    seq = inputs if cell.batch_first else inputs.transpose(0, 1)
    if state is None:
        state = cell.initial_state(seq.shape[0], seq)
    elif isinstance(state, torch.Tensor):
        state = (state,)
    outputs = []
    for t in range(seq.shape[1]):
        state = cell.step(seq[:, t], state)
        outputs.append(state[0])
    out = torch.stack(outputs, dim=1)
    return (out if cell.batch_first else out.transpose(0, 1)), tuple(state)


def make_recurrent(
    architecture: str,
    input_size: int,
    hidden_size: int,
    *,
    bias: bool = False,
    asrnn_eps: float = 0.01,
    asrnn_gamma: float = 0.01,
    cornn_dt: float = 0.042,
    cornn_gamma: float = 2.7,
    cornn_eps: float = 4.7,
) -> nn.Module:
    """Build the single-layer recurrent module for ``architecture`` (batch first)."""
    if architecture == "rnn":
        return nn.RNN(input_size, hidden_size, nonlinearity="tanh", bias=bias, batch_first=True)
    if architecture == "lstm":
        return nn.LSTM(input_size, hidden_size, bias=bias, batch_first=True)
    if architecture == "gru":
        return nn.GRU(input_size, hidden_size, bias=bias, batch_first=True)
    if architecture == "asrnn":
        return AntisymmetricRNN(input_size, hidden_size, eps=asrnn_eps, gamma=asrnn_gamma, bias=bias)
    if architecture == "cornn":
        return CoupledOscillatoryRNN(
            input_size, hidden_size, dt=cornn_dt, gamma=cornn_gamma, eps=cornn_eps, bias=bias
        )
    raise ValueError(f"unknown architecture {architecture!r}; expected one of {ARCHITECTURES}")


class SequenceModel(nn.Module):
    """Recurrent layer + dropout + linear readout.

    Parameters
    ----------
    architecture : str
        One of :data:`ARCHITECTURES`.
    input_size, hidden_size, output_size : int
        Input features per step, hidden units, readout outputs.
    readout : {"last", "every"}
        Read out the last hidden state (sequence classification) or every
        step (language modelling), giving (B, C) or (B, T, C) outputs.
    dropout : float
        Dropout probability applied to hidden states before the readout.
    cell_options : dict
        Extra keyword arguments for :func:`make_recurrent` (``bias``,
        ``asrnn_eps``, ...).
    """

    def __init__(
        self,
        architecture: str,
        input_size: int,
        hidden_size: int,
        output_size: int,
        *,
        readout: Readout = "last",
        dropout: float = 0.0,
        **cell_options,
    ) -> None:
        super().__init__()
        if readout not in ("last", "every"):
            raise ValueError(f"readout must be 'last' or 'every', got {readout!r}")
        self.architecture = architecture
        self.readout_mode = readout
        self.rnn = make_recurrent(architecture, input_size, hidden_size, **cell_options)
        self.dropout = nn.Dropout(dropout)
        self.readout = nn.Linear(hidden_size, output_size)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        """Map (B, T, I) inputs to (B, C) or (B, T, C) outputs."""
        hidden, _ = self.rnn(inputs)
        if self.readout_mode == "last":
            hidden = hidden[:, -1]
        return self.readout(self.dropout(hidden))


INPUT_INITS: tuple[str, ...] = ("init_param", "unit_uniform")


def initialize_uniform(
    model: SequenceModel, init_param: float, generator: torch.Generator, *, input_init: str = "init_param"
) -> None:
    """Draw every recurrent and input weight of ``model.rnn`` from U(-p, p).

    This is the weight initialisation sweep of the AeLLE papers,
    ``p = init_param``. Biases and the readout keep their defaults.

    Parameters
    ----------
    model : SequenceModel
        Its ``rnn`` weights (parameters named ``weight*``) are overwritten,
        in the order of ``named_parameters``.
    init_param : float
        p > 0.
    generator : torch.Generator
        Source of the draws.
    input_init : {"init_param", "unit_uniform"}
        ``"unit_uniform"`` draws the input weights (``weight_ih*``) from
        U(0, 1) instead: what the reference code (shlizee/LyapunovAutoEncode)
        does for RNN, LSTM and GRU, where an aliasing bug in its config drops
        the bounds.
    """
    if not init_param > 0:
        raise ValueError(f"init_param must be positive, got {init_param}")
    if input_init not in INPUT_INITS:
        raise ValueError(f"input_init must be one of {INPUT_INITS}, got {input_init!r}")
    with torch.no_grad():
        for name, param in model.rnn.named_parameters():
            if name.startswith("weight"):
                unit = input_init == "unit_uniform" and name.startswith("weight_ih")
                low, high = (0.0, 1.0) if unit else (-init_param, init_param)
                param.copy_(torch.empty_like(param).uniform_(low, high, generator=generator))
