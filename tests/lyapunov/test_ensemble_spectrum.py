"""Spectra of several networks in one run (:func:`ensemble_spectrum`) against per-network calls and autograd."""

from __future__ import annotations

import copy

import pytest
import torch
from helpers.cells import (
    CELLS,
    F64,
    HIDDEN,
    INPUT_SIZE,
    cell_module,
    jacobians,
    module_step,
    stacked_module,
    state_size,
)
from torch import nn

from lyapunov_rnn.lyapunov import ensemble_spectrum, lyapunov_spectrum, tangent_map_for
from lyapunov_rnn.lyapunov.ensemble import _PerNetworkMap, stack_tangent_maps
from lyapunov_rnn.lyapunov.torch_rnn import LSTMMap, StackedMap
from lyapunov_rnn.models import CoupledOscillatoryRNN

CPU = torch.device("cpu")
NETWORKS, SEQUENCES = 3, 4
# Resolved exponents: float64 differs by the summation order of the batched GEMMs only; float32 rounding,
# amplified by the dynamics over the run, must leave about half the digits of O(1) exponents. Unresolved
# exponents are set by rounding (LyapunovResult.resolved) and may differ by more.
TOLERANCE = {torch.float64: 1e-10, torch.float32: 1e-3}


def _networks(name: str, count: int = NETWORKS) -> list[nn.Module]:
    """``count`` networks of cell ``name`` with different weights (checkpoints of one architecture)."""
    networks = []
    for index in range(count):
        network = copy.deepcopy(cell_module(name))
        generator = torch.Generator().manual_seed(100 + index)
        with torch.no_grad():
            for parameter in network.parameters():
                parameter.add_(0.3 * torch.randn(parameter.shape, generator=generator, dtype=parameter.dtype))
            if name == "rnn_relu":  # keep every unit active, so that the exponents are resolved (test_cells)
                network.bias_ih_l0.fill_(20.0)
                network.weight_hh_l0.mul_(0.1)
        networks.append(network)
    return networks


def _inputs(seed: int = 5) -> torch.Tensor:
    return torch.randn(SEQUENCES, 20, INPUT_SIZE, dtype=F64, generator=torch.Generator().manual_seed(seed))


def _assert_equal_results(ensemble, separate, dtype: torch.dtype) -> None:
    assert len(ensemble) == len(separate)
    for together, alone in zip(ensemble, separate, strict=True):
        assert together.exponents.shape == alone.exponents.shape
        assert torch.isfinite(together.exponents).all()
        assert torch.equal(together.resolved, alone.resolved)
        resolved = alone.resolved
        assert resolved.any()
        atol = TOLERANCE[dtype]
        torch.testing.assert_close(together.exponents[resolved], alone.exponents[resolved], atol=atol, rtol=0)
        torch.testing.assert_close(together.stderr[resolved], alone.stderr[resolved], atol=atol, rtol=0)
        assert (together.state_size, together.convention) == (alone.state_size, alone.convention)
        assert (together.warmup, together.steps) == (alone.warmup, alone.steps)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("convention", ["benettin", "reference"])
@pytest.mark.parametrize("name", CELLS)
def test_ensemble_equals_one_call_per_network(name, convention, dtype):
    networks, inputs = _networks(name), _inputs()
    options = dict(warmup=3, convention=convention, dtype=dtype)
    ensemble = ensemble_spectrum(networks, inputs, **options)
    separate = [lyapunov_spectrum(network, inputs, **options) for network in networks]
    _assert_equal_results(ensemble, separate, dtype)


MAPS = [(name, None) for name in CELLS if "lstm" not in name] + [
    (name, product) for name in CELLS if "lstm" in name for product in ("matrix-free", "materialised")
]


@pytest.mark.parametrize("name, product", MAPS)
def test_stacked_maps_equal_each_networks_autograd_jacobian(name, product):
    networks = _networks(name)
    if product is None:
        maps = [tangent_map_for(network, F64, CPU) for network in networks]
    else:
        maps = [LSTMMap(network, F64, CPU, jacobian_product=product) for network in networks]
    stacked = stack_tangent_maps(maps)
    assert type(stacked) is type(maps[0])
    size = state_size(networks[0])
    generator = torch.Generator().manual_seed(7)
    x_t = torch.randn(NETWORKS * SEQUENCES, INPUT_SIZE, dtype=F64, generator=generator)
    state = torch.randn(NETWORKS * SEQUENCES, size, dtype=F64, generator=generator)
    rows = torch.randn(NETWORKS * SEQUENCES, size, size, dtype=F64, generator=generator)
    drive_t = stacked.drive(x_t[:, None])[:, 0]
    components = tuple(state.split(list(stacked.component_sizes), dim=-1))
    blocks = list(zip(networks, x_t.chunk(NETWORKS), state.chunk(NETWORKS), strict=True))
    jacobian = torch.cat([jacobians(module_step(network), x_block, s_block) for network, x_block, s_block in blocks])
    next_state = torch.cat([module_step(network)(x_block, s_block) for network, x_block, s_block in blocks])
    pushed, pushed_state = stacked.push_forward(drive_t, components, rows)
    torch.testing.assert_close(pushed, rows @ jacobian.mT, atol=1e-10, rtol=0)
    torch.testing.assert_close(torch.cat(pushed_state, dim=-1), next_state, atol=1e-12, rtol=0)
    pulled, _ = stacked.pull_back(drive_t, components, rows)
    torch.testing.assert_close(pulled, rows @ jacobian, atol=1e-10, rtol=0)
    torch.testing.assert_close(torch.cat(stacked.advance(drive_t, components), dim=-1), next_state, atol=1e-12, rtol=0)
    block = stacked.reference_size
    reference_block = jacobian[:, :HIDDEN, :HIDDEN] if isinstance(networks[0], nn.LSTM) else jacobian
    pulled_block, _ = stacked.reference_pull_back(drive_t, components, rows[..., :block])
    torch.testing.assert_close(pulled_block, rows[..., :block] @ reference_block, atol=1e-10, rtol=0)


@pytest.mark.parametrize("kind", ["rnn", "gru", "lstm"])
def test_multi_layer_networks_are_stacked_layer_by_layer(kind):
    networks = []
    for index in range(NETWORKS):
        network = stacked_module(kind, 2)
        with torch.no_grad():
            for parameter in network.parameters():
                parameter.mul_(1.0 + 0.1 * index)
        networks.append(network)
    stacked = stack_tangent_maps([tangent_map_for(network, F64, CPU) for network in networks])
    assert isinstance(stacked, StackedMap) and stacked.layers[0].weight_hh.shape[0] == NETWORKS
    inputs = _inputs(11)
    ensemble = ensemble_spectrum(networks, inputs, warmup=3)
    _assert_equal_results(ensemble, [lyapunov_spectrum(network, inputs, warmup=3) for network in networks], F64)


def test_networks_with_different_scalar_hyperparameters_loop_over_their_own_maps():
    torch.manual_seed(3)
    networks = [CoupledOscillatoryRNN(INPUT_SIZE, HIDDEN, dt=dt, bias=True).double() for dt in (0.1, 0.2, 0.3)]
    stacked = stack_tangent_maps([tangent_map_for(network, F64, CPU) for network in networks])
    assert isinstance(stacked, _PerNetworkMap)
    inputs = _inputs(12)
    for convention in ("benettin", "reference"):
        ensemble = ensemble_spectrum(networks, inputs, warmup=2, convention=convention)
        separate = [lyapunov_spectrum(network, inputs, warmup=2, convention=convention) for network in networks]
        _assert_equal_results(ensemble, separate, F64)


def test_per_network_inputs_initial_states_and_extras_are_split_in_network_order():
    networks = _networks("lstm")
    inputs = [_inputs(seed) for seed in (20, 21, 22)]
    h0 = 0.3 * torch.randn(NETWORKS, SEQUENCES, 2 * HIDDEN, dtype=F64, generator=torch.Generator().manual_seed(23))
    options = dict(warmup=2, keep_finite_time=True, keep_vectors=True, k=4)
    ensemble = ensemble_spectrum(networks, inputs, h0=h0, **options)
    for index, network in enumerate(networks):
        alone = lyapunov_spectrum(network, inputs[index], h0=h0[index], **options)
        _assert_equal_results([ensemble[index]], [alone], F64)
        torch.testing.assert_close(ensemble[index].finite_time, alone.finite_time, atol=1e-10, rtol=0)
        torch.testing.assert_close(ensemble[index].vectors, alone.vectors, atol=1e-8, rtol=0)
    # one (S, D) state for every network, and time-major inputs of a batch_first=False module
    shared = ensemble_spectrum(networks, inputs[0], h0=h0[0], warmup=2)
    _assert_equal_results(shared, [lyapunov_spectrum(net, inputs[0], h0=h0[0], warmup=2) for net in networks], F64)
    time_major = []
    for network in networks:
        copied = copy.deepcopy(network)
        copied.batch_first = False
        time_major.append(copied)
    transposed = ensemble_spectrum(time_major, inputs[0].transpose(0, 1), warmup=2)
    _assert_equal_results(transposed, [lyapunov_spectrum(net, inputs[0], warmup=2) for net in networks], F64)


def test_invalid_ensembles_are_rejected():
    inputs = _inputs()
    with pytest.raises(ValueError, match="at least one"):
        ensemble_spectrum([], inputs)
    with pytest.raises(ValueError, match="architecture and size"):
        ensemble_spectrum([cell_module("lstm"), cell_module("gru")], inputs)
    with pytest.raises(ValueError, match="weight shapes|architecture and size"):
        ensemble_spectrum([cell_module("gru"), nn.GRU(INPUT_SIZE, HIDDEN + 1, batch_first=True).double()], inputs)
    with pytest.raises(ValueError, match="structure"):
        ensemble_spectrum([cell_module("gru"), cell_module("gru_nobias")], inputs)
    with pytest.raises(ValueError, match="architecture and size"):
        ensemble_spectrum([stacked_module("gru", 2), stacked_module("gru", 3)], inputs)
    with pytest.raises(ValueError, match="2 tensors for 3 networks"):
        ensemble_spectrum(_networks("gru"), [inputs, inputs])
    with pytest.raises(ValueError, match=r"h0 must be \(3, 4, D\)"):
        ensemble_spectrum(_networks("gru"), inputs, h0=torch.zeros(2, SEQUENCES, HIDDEN, dtype=F64))
    diverged = _networks("gru")
    with torch.no_grad():
        diverged[1].weight_hh_l0[0, 0] = float("nan")
    with pytest.raises(ValueError, match=r"networks\.1\.weight_hh_l0"):
        ensemble_spectrum(diverged, inputs)
