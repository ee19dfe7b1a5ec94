"""The built-in tangent maps (one layer and stacks) against autograd Jacobians of the modules' own code."""

from __future__ import annotations

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
    stacked_step,
    state_size,
)
from torch import nn

from lyapunov_rnn.lyapunov import TangentMap, lyapunov_spectrum, tangent_map_for

CPU = torch.device("cpu")


# --------------------------------------------------------------------------- #
# Analytic tangent maps against autograd
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("name", CELLS)
def test_analytic_tangent_maps_equal_autograd(name):
    module = cell_module(name)
    step, size = module_step(module), state_size(module)
    tangent_map = tangent_map_for(module, F64, CPU)
    assert tangent_map.state_size == size
    generator = torch.Generator().manual_seed(3)
    batch, k = 4, 3
    x_t = torch.randn(batch, 1, INPUT_SIZE, dtype=F64, generator=generator)
    state = torch.randn(batch, size, dtype=F64, generator=generator)
    jacobian = jacobians(step, x_t[:, 0], state)

    rows = torch.randn(batch, k, size, dtype=F64, generator=generator)
    drive_t = tangent_map.drive(x_t)[:, 0]
    components = tuple(state.split(list(tangent_map.component_sizes), dim=-1))
    pushed, next_state = tangent_map.push_forward(drive_t, components, rows)
    torch.testing.assert_close(pushed, rows @ jacobian.mT, atol=1e-10, rtol=0)
    torch.testing.assert_close(torch.cat(next_state, dim=-1), step(x_t[:, 0], state), atol=1e-12, rtol=0)
    pulled, pulled_state = tangent_map.pull_back(drive_t, components, rows)
    torch.testing.assert_close(pulled, rows @ jacobian, atol=1e-10, rtol=0)
    torch.testing.assert_close(torch.cat(pulled_state, dim=-1), step(x_t[:, 0], state), atol=1e-12, rtol=0)

    # "reference" uses the hidden block (c held fixed) for LSTM, the full Jacobian otherwise
    reference_jacobian = jacobian[:, :HIDDEN, :HIDDEN] if isinstance(module, nn.LSTM) else jacobian
    assert tangent_map.reference_size == reference_jacobian.shape[-1]
    reference_rows = rows[..., : tangent_map.reference_size]
    block, _ = tangent_map.reference_pull_back(drive_t, components, reference_rows)
    torch.testing.assert_close(block, reference_rows @ reference_jacobian, atol=1e-10, rtol=0)
    # the LSTM's direct block equals the generic one: zero-padded rows through the full pull-back
    padded_block, _ = TangentMap.reference_pull_back(tangent_map, drive_t, components, reference_rows)
    torch.testing.assert_close(block, padded_block, atol=1e-12, rtol=0)


@pytest.mark.parametrize("name", CELLS)
def test_analytic_spectrum_equals_generic_autograd_path(name):
    module = cell_module(name)
    if name == "rnn_relu":
        with torch.no_grad():  # keep every unit active so that all exponents are finite
            module.bias_ih_l0.fill_(20.0)
            module.weight_hh_l0.mul_(0.1)
    inputs = torch.randn(3, 30, INPUT_SIZE, dtype=F64, generator=torch.Generator().manual_seed(4))
    h0 = 0.3 * torch.ones(3, state_size(module), dtype=F64)
    analytic = lyapunov_spectrum(module, inputs, warmup=5, h0=h0)
    generic = lyapunov_spectrum(module_step(module), inputs, warmup=5, h0=h0)
    assert analytic.exponents.shape == (3, state_size(module))
    assert torch.isfinite(analytic.exponents).all()
    torch.testing.assert_close(analytic.exponents, generic.exponents, atol=1e-10, rtol=0)
    torch.testing.assert_close(analytic.stderr, generic.stderr, atol=1e-10, rtol=0)


# --------------------------------------------------------------------------- #
# Multi-layer networks: the stacked state of all layers
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("layers", [2, 3])
@pytest.mark.parametrize("kind", ["rnn", "gru", "lstm"])
def test_multi_layer_tangent_map_equals_autograd(kind, layers):
    module = stacked_module(kind, layers)
    step = stacked_step(module)
    tangent_map = tangent_map_for(module, F64, CPU)
    size = layers * (2 if kind == "lstm" else 1) * HIDDEN
    assert tangent_map.state_size == size
    assert tangent_map.reference_size is None
    generator = torch.Generator().manual_seed(6)
    x_t = torch.randn(4, INPUT_SIZE, dtype=F64, generator=generator)
    state = torch.randn(4, size, dtype=F64, generator=generator)
    rows = torch.randn(4, 7, size, dtype=F64, generator=generator)
    components = tuple(state.split(list(tangent_map.component_sizes), dim=-1))
    jacobian = jacobians(step, x_t, state)
    pushed, next_state = tangent_map.push_forward(tangent_map.drive(x_t), components, rows)
    torch.testing.assert_close(pushed, rows @ jacobian.mT, atol=1e-10, rtol=0)
    torch.testing.assert_close(torch.cat(next_state, dim=-1), step(x_t, state), atol=1e-12, rtol=0)
    pulled, _ = tangent_map.pull_back(tangent_map.drive(x_t), components, rows)
    torch.testing.assert_close(pulled, rows @ jacobian, atol=1e-10, rtol=0)


@pytest.mark.parametrize("kind", ["rnn", "gru", "lstm"])
def test_multi_layer_spectrum_equals_generic_path_and_accepts_pytorch_h0(kind):
    module = stacked_module(kind, 2)
    inputs = torch.randn(2, 25, INPUT_SIZE, dtype=F64, generator=torch.Generator().manual_seed(7))
    components = 2 if kind == "lstm" else 1
    pytorch_h0 = tuple(0.2 * torch.randn(2, 2, HIDDEN, dtype=F64) for _ in range(components))
    flat_h0 = torch.cat([part[layer] for layer in range(2) for part in pytorch_h0], dim=-1)
    analytic = lyapunov_spectrum(module, inputs, warmup=3, h0=pytorch_h0 if kind == "lstm" else pytorch_h0[0])
    generic = lyapunov_spectrum(stacked_step(module), inputs, warmup=3, h0=flat_h0)
    assert analytic.exponents.shape == (2, 2 * components * HIDDEN)
    torch.testing.assert_close(analytic.exponents, generic.exponents, atol=1e-10, rtol=0)
    torch.testing.assert_close(lyapunov_spectrum(module, inputs, warmup=3, h0=flat_h0).exponents, analytic.exponents)
