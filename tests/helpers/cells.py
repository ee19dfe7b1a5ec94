"""Small recurrent modules and their step functions, shared by the Lyapunov-engine tests.

Every step function here is built from the module's own forward/step code, so
its autograd Jacobian is an oracle independent of the engine's tangent maps.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn
from torch.func import jacrev

from lyapunov_rnn.models import AntisymmetricRNN, CoupledOscillatoryRNN

F64 = torch.float64
INPUT_SIZE, HIDDEN = 3, 5
CELLS = ("rnn_tanh", "rnn_relu", "lstm", "lstm_nobias", "gru", "gru_nobias", "asrnn", "cornn")

Step = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def cell_module(name: str) -> nn.Module:
    """A small float64 recurrent module of ``CELLS`` with non-trivial weights."""
    torch.manual_seed(11)
    modules = {
        "rnn_tanh": lambda: nn.RNN(INPUT_SIZE, HIDDEN, batch_first=True),
        "rnn_relu": lambda: nn.RNN(INPUT_SIZE, HIDDEN, nonlinearity="relu", batch_first=True),
        "lstm": lambda: nn.LSTM(INPUT_SIZE, HIDDEN, batch_first=True),
        "lstm_nobias": lambda: nn.LSTM(INPUT_SIZE, HIDDEN, bias=False, batch_first=True),
        "gru": lambda: nn.GRU(INPUT_SIZE, HIDDEN, batch_first=True),
        "gru_nobias": lambda: nn.GRU(INPUT_SIZE, HIDDEN, bias=False, batch_first=True),
        "asrnn": lambda: AntisymmetricRNN(INPUT_SIZE, HIDDEN, eps=0.4, gamma=0.1, bias=True),
        "cornn": lambda: CoupledOscillatoryRNN(INPUT_SIZE, HIDDEN, dt=0.2, bias=True),
    }
    module = modules[name]().double()
    with torch.no_grad():
        for parameter in module.parameters():
            parameter.mul_(2.5)  # leave the near-linear regime of the default init
    return module


def module_step(module: nn.Module) -> Step:
    """``f(x_t, s) -> s'`` on the flat state, built from the module's own forward/step code."""
    if isinstance(module, nn.LSTM):

        def step(x_t, state):
            h, c = state.split(module.hidden_size, dim=-1)
            _, (h_next, c_next) = module(x_t[:, None], (h[None].contiguous(), c[None].contiguous()))
            return torch.cat((h_next[0], c_next[0]), dim=-1)

    elif isinstance(module, (nn.RNN, nn.GRU)):

        def step(x_t, state):
            return module(x_t[:, None], state[None].contiguous())[1][0]

    elif isinstance(module, CoupledOscillatoryRNN):

        def step(x_t, state):
            return torch.cat(module.step(x_t, tuple(state.split(module.hidden_size, dim=-1))), dim=-1)

    else:

        def step(x_t, state):
            return module.step(x_t, (state,))[0]

    return step


def state_size(module: nn.Module) -> int:
    """Full state size of a single-layer module: 2N for LSTM (h, c) and coRNN (y, z), N otherwise."""
    doubled = isinstance(module, (nn.LSTM, CoupledOscillatoryRNN))
    return 2 * module.hidden_size if doubled else module.hidden_size


def jacobians(step: Step, x_t: torch.Tensor, state: torch.Tensor) -> torch.Tensor:
    """Autograd Jacobians d step / d state, (B, D, D)."""
    return torch.stack([jacrev(lambda s, x=x: step(x[None], s[None])[0])(s) for x, s in zip(x_t, state, strict=True)])


def stacked_module(kind: str, layers: int) -> nn.Module:
    """A float64 ``nn.RNN``/``nn.GRU``/``nn.LSTM`` (``kind`` rnn, gru, lstm) of ``layers`` layers."""
    torch.manual_seed(5)
    module_type = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}[kind]
    module = module_type(INPUT_SIZE, HIDDEN, num_layers=layers, batch_first=True)
    module = module.double()
    with torch.no_grad():
        for parameter in module.parameters():
            parameter.mul_(2.5)
    return module


def stacked_step(module: nn.Module) -> Step:
    """``f(x_t, s) -> s'`` on [layer 0 state, layer 1 state, ...], through the module's own forward."""
    layers, n = module.num_layers, module.hidden_size

    def step(x_t, state):
        per_layer = state.view(state.shape[0], layers, -1).transpose(0, 1)  # (L, B, components * N)
        if isinstance(module, nn.LSTM):
            hidden = (per_layer[..., :n].contiguous(), per_layer[..., n:].contiguous())
            _, (h_next, c_next) = module(x_t[:, None], hidden)
            stacked = torch.cat((h_next, c_next), dim=-1)
        else:
            stacked = module(x_t[:, None], per_layer.contiguous())[1]
        return stacked.transpose(0, 1).reshape(state.shape)

    return step


def linear_map(matrix: torch.Tensor) -> Step:
    """The step function ``s' = M s`` (inputs ignored)."""
    return lambda x_t, state: state @ matrix.T
