"""The TangentMap interface: autograd defaults, a user's cell as one class, the registry and ``tangent_size``."""

from __future__ import annotations

import copy
import math

import pytest
import torch
from helpers.cells import CELLS, F64, HIDDEN, INPUT_SIZE, cell_module, stacked_module, state_size
from torch import Tensor, nn

from lyapunov_rnn.lyapunov import (
    TangentMap,
    lyapunov_spectrum,
    register_tangent_map,
    tangent_map_for,
    tangent_size,
)
from lyapunov_rnn.models import ARCHITECTURES, SequenceModel

CPU = torch.device("cpu")


class LeakyRNN(nn.Module):
    """A cell the engine does not know: ``h' = (1 - a) h + a tanh(W_hh h + W_ih x)``."""

    def __init__(self, input_size: int, hidden_size: int, leak: float) -> None:
        super().__init__()
        self.input_size, self.hidden_size, self.leak = input_size, hidden_size, leak
        self.weight_ih = nn.Parameter(torch.randn(hidden_size, input_size) / math.sqrt(input_size))
        self.weight_hh = nn.Parameter(torch.randn(hidden_size, hidden_size) / math.sqrt(hidden_size))

    def step(self, x_t: Tensor, h: Tensor) -> Tensor:
        return (1 - self.leak) * h + self.leak * torch.tanh(h @ self.weight_hh.T + x_t @ self.weight_ih.T)

    def forward(self, inputs: Tensor) -> Tensor:
        h = inputs.new_zeros(inputs.shape[0], self.hidden_size)
        outputs = []
        for x_t in inputs.unbind(1):
            h = self.step(x_t, h)
            outputs.append(h)
        return torch.stack(outputs, dim=1)


@register_tangent_map(LeakyRNN)
class LeakyRNNMap(TangentMap):
    """All a user writes for a new cell: the state layout and the step; autograd does the Jacobian products."""

    def __init__(self, cell: LeakyRNN, dtype: torch.dtype, device: torch.device) -> None:
        self.cell = copy.deepcopy(cell).to(device=device, dtype=dtype)
        self.component_sizes = (cell.hidden_size,)

    def advance(self, drive_t: Tensor, state: tuple[Tensor, ...]) -> tuple[Tensor, ...]:
        return (self.cell.step(drive_t, state[0]),)


def _leaky_rnn(hidden: int, radius: float) -> LeakyRNN:
    torch.manual_seed(12)
    cell = LeakyRNN(INPUT_SIZE, hidden, leak=0.3).double()
    with torch.no_grad():
        cell.weight_hh.mul_(radius / torch.linalg.eigvals(cell.weight_hh).abs().max())
    return cell


@pytest.mark.parametrize("convention", ["benettin", "reference"])
def test_a_user_cell_is_one_class_and_equals_the_step_function_path(convention):
    cell = _leaky_rnn(6, radius=2.0)
    inputs = torch.randn(3, 30, INPUT_SIZE, dtype=F64, generator=torch.Generator().manual_seed(14))
    h0 = 0.3 * torch.randn(3, 6, dtype=F64, generator=torch.Generator().manual_seed(15))
    options = dict(warmup=5, h0=h0, convention=convention, keep_finite_time=True)
    registered = lyapunov_spectrum(cell, inputs, **options)
    step_function = lyapunov_spectrum(lambda x_t, h: cell.step(x_t, h), inputs, **options)
    assert registered.exponents.shape == (3, 6) and torch.isfinite(registered.exponents).all()
    torch.testing.assert_close(registered.exponents, step_function.exponents, atol=1e-12, rtol=0)
    torch.testing.assert_close(registered.finite_time, step_function.finite_time, atol=1e-12, rtol=0)


@pytest.mark.parametrize("convention", ["benettin", "reference"])
def test_a_user_cell_at_its_fixed_point_has_log_eigenvalue_moduli(convention):
    """At h = 0 with zero input J = (1 - a) I + a W_hh, constant: both conventions give ln|eig J|."""
    cell = _leaky_rnn(6, radius=0.9)
    result = lyapunov_spectrum(cell, torch.zeros(1, 2000, INPUT_SIZE, dtype=F64), convention=convention)
    jacobian = (1 - cell.leak) * torch.eye(6, dtype=F64) + cell.leak * cell.weight_hh.detach()
    expected = torch.linalg.eigvals(jacobian).abs().log().sort(descending=True).values
    in_nats = result.exponents[0] * (math.log(2.0) if convention == "reference" else 1.0)
    torch.testing.assert_close(in_nats, expected, atol=5e-3, rtol=0)


class _AdvanceOnly(TangentMap):
    """A built-in map reduced to ``drive`` and ``advance``: the Jacobian products fall back to autograd."""

    def __init__(self, tangent_map: TangentMap) -> None:
        self.inner = tangent_map
        self.component_sizes = tangent_map.component_sizes

    def drive(self, inputs: Tensor) -> Tensor:
        return self.inner.drive(inputs)

    def advance(self, drive_t: Tensor, state: tuple[Tensor, ...]) -> tuple[Tensor, ...]:
        return self.inner.advance(drive_t, state)


@pytest.mark.parametrize("name", CELLS)
def test_autograd_defaults_equal_the_analytic_maps(name):
    """The defaults on the flattened state, for one component (h) and two ((h, c), (y, z))."""
    analytic = tangent_map_for(cell_module(name), F64, CPU)
    default = _AdvanceOnly(analytic)
    generator = torch.Generator().manual_seed(16)
    size = state_size(cell_module(name))
    drive_t = analytic.drive(torch.randn(4, 1, INPUT_SIZE, dtype=F64, generator=generator))[:, 0]
    state = tuple(torch.randn(4, size, dtype=F64, generator=generator).split(list(analytic.component_sizes), dim=-1))
    rows = torch.randn(4, 3, size, dtype=F64, generator=generator)
    for method in ("push_forward", "pull_back"):
        expected, expected_state = getattr(analytic, method)(drive_t, state, rows)
        result, result_state = getattr(default, method)(drive_t, state, rows)
        torch.testing.assert_close(result, expected, atol=1e-12, rtol=0)
        assert len(result_state) == len(analytic.component_sizes)
        torch.testing.assert_close(torch.cat(result_state, dim=-1), torch.cat(expected_state, dim=-1))


def test_registry_follows_subclasses_and_sequence_models():
    class MyGRU(nn.GRU):
        pass

    torch.manual_seed(0)
    gru = MyGRU(INPUT_SIZE, HIDDEN, batch_first=True).double()
    assert type(tangent_map_for(gru, F64, CPU)) is type(tangent_map_for(nn.GRU(INPUT_SIZE, HIDDEN), F64, CPU))
    inputs = torch.randn(2, 8, INPUT_SIZE, dtype=F64)
    plain = nn.GRU(INPUT_SIZE, HIDDEN, batch_first=True).double()
    plain.load_state_dict(gru.state_dict())
    assert torch.equal(lyapunov_spectrum(gru, inputs).exponents, lyapunov_spectrum(plain, inputs).exponents)
    model = SequenceModel("lstm", INPUT_SIZE, HIDDEN, 2)
    assert tangent_map_for(model, F64, CPU).state_size == 2 * HIDDEN


def test_unregistered_types_are_named():
    with pytest.raises(TypeError, match="unsupported model type Linear.*LeakyRNN"):
        tangent_map_for(nn.Linear(2, 2), F64, CPU)
    with pytest.raises(TypeError, match="nn.Module subclass"):
        register_tangent_map(int)


@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_tangent_size_of_every_architecture(architecture):
    model = SequenceModel(architecture, INPUT_SIZE, HIDDEN, 2).double()
    doubled = architecture in ("lstm", "cornn")
    expected = {"benettin": (2 if doubled else 1) * HIDDEN, "reference": (2 if architecture == "cornn" else 1) * HIDDEN}
    inputs = torch.randn(2, 6, INPUT_SIZE, dtype=F64)
    assert tangent_size(model) == expected["benettin"]
    assert tangent_size(model, "aelle") == expected["reference"]
    for convention, size in expected.items():
        assert tangent_size(model, convention) == size
        assert tangent_size(model.rnn, convention) == size
        assert lyapunov_spectrum(model, inputs, convention=convention).state_size == size


def test_tangent_size_of_stacks_user_cells_and_errors():
    assert tangent_size(stacked_module("lstm", 2)) == 4 * HIDDEN
    assert tangent_size(stacked_module("gru", 3), "benettin") == 3 * HIDDEN
    with pytest.raises(ValueError, match="single-layer"):
        tangent_size(stacked_module("rnn", 2), "reference")
    assert tangent_size(_leaky_rnn(7, radius=1.0), "reference") == 7
    with pytest.raises(ValueError, match="unknown convention"):
        tangent_size(cell_module("gru"), "shlizerman")
    with pytest.raises(TypeError, match="unsupported model"):
        tangent_size(nn.Linear(2, 2))
