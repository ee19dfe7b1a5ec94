"""The LSTM map's two Jacobian products (matrix-free and materialised) against autograd, and the rule between them."""

from __future__ import annotations

import pytest
import torch
from helpers.cells import F64, HIDDEN, INPUT_SIZE, cell_module, jacobians, module_step, stacked_module, stacked_step
from torch import nn

from lyapunov_rnn.lyapunov import algorithms, lyapunov_spectrum, spectrum, tangent_map_for
from lyapunov_rnn.lyapunov.tangent import StepFunctionMap
from lyapunov_rnn.lyapunov.torch_rnn import ELEMENTWISE_COST, LSTMMap, StackedMap

CPU = torch.device("cpu")
PRODUCTS = ("matrix-free", "materialised")


def _wide_lstm(hidden_size: int, dtype: torch.dtype = F64) -> nn.LSTM:
    """An LSTM wide enough that the rule materialises a full spectrum, out of its near-linear regime."""
    torch.manual_seed(21)
    module = nn.LSTM(INPUT_SIZE, hidden_size, batch_first=True).to(dtype)
    with torch.no_grad():
        for parameter in module.parameters():
            parameter.mul_(2.5)
    return module


@pytest.mark.parametrize("product", PRODUCTS)
@pytest.mark.parametrize("name", ["lstm", "lstm_nobias"])
def test_both_products_equal_autograd_jacobians(name, product):
    module = cell_module(name)
    tangent_map = LSTMMap(module, F64, CPU, jacobian_product=product)
    step = module_step(module)
    generator = torch.Generator().manual_seed(3)
    batch, size = 4, 2 * HIDDEN
    x_t = torch.randn(batch, INPUT_SIZE, dtype=F64, generator=generator)
    state = torch.randn(batch, size, dtype=F64, generator=generator)
    jacobian = jacobians(step, x_t, state)
    drive_t = tangent_map.drive(x_t[:, None])[:, 0]
    components = tuple(state.split(HIDDEN, dim=-1))
    for k in (1, 3, size):  # fewer rows than, and as many as, the state has
        rows = torch.randn(batch, k, size, dtype=F64, generator=generator)
        pushed, next_state = tangent_map.push_forward(drive_t, components, rows)
        torch.testing.assert_close(pushed, rows @ jacobian.mT, atol=1e-10, rtol=0)
        torch.testing.assert_close(torch.cat(next_state, dim=-1), step(x_t, state), atol=1e-12, rtol=0)
        pulled, pulled_state = tangent_map.pull_back(drive_t, components, rows)
        torch.testing.assert_close(pulled, rows @ jacobian, atol=1e-10, rtol=0)
        torch.testing.assert_close(torch.cat(pulled_state, dim=-1), step(x_t, state), atol=1e-12, rtol=0)
        hidden_rows = rows[..., :HIDDEN]
        block, _ = tangent_map.reference_pull_back(drive_t, components, hidden_rows)
        torch.testing.assert_close(block, hidden_rows @ jacobian[:, :HIDDEN, :HIDDEN], atol=1e-10, rtol=0)
        # the product must not write into the caller's rows
        assert rows.data_ptr() != pushed.data_ptr() and rows.data_ptr() != pulled.data_ptr()


@pytest.mark.parametrize("product", PRODUCTS)
def test_both_products_in_a_stack_pass_the_input_tangent_up(product):
    module = stacked_module("lstm", 2)
    step = stacked_step(module)
    tangent_map = StackedMap([LSTMMap(module, F64, CPU, layer, jacobian_product=product) for layer in range(2)])
    generator = torch.Generator().manual_seed(6)
    size = 4 * HIDDEN
    x_t = torch.randn(3, INPUT_SIZE, dtype=F64, generator=generator)
    state = torch.randn(3, size, dtype=F64, generator=generator)
    rows = torch.randn(3, size, size, dtype=F64, generator=generator)
    components = tuple(state.split(HIDDEN, dim=-1))
    pushed, next_state = tangent_map.push_forward(tangent_map.drive(x_t), components, rows)
    torch.testing.assert_close(pushed, rows @ jacobians(step, x_t, state).mT, atol=1e-10, rtol=0)
    torch.testing.assert_close(torch.cat(next_state, dim=-1), step(x_t, state), atol=1e-12, rtol=0)


def test_products_agree_in_float32_at_the_benchmark_size():
    module = _wide_lstm(64, torch.float32)
    maps = {product: LSTMMap(module, torch.float32, CPU, jacobian_product=product) for product in PRODUCTS}
    generator = torch.Generator().manual_seed(8)
    x_t = torch.randn(5, 1, INPUT_SIZE, generator=generator)
    components = (0.5 * torch.randn(5, 64, generator=generator), torch.randn(5, 64, generator=generator))
    drive_t = maps["matrix-free"].drive(x_t)[:, 0]
    full_rows = torch.linalg.qr(torch.randn(5, 128, 128, generator=generator))[0].mT
    hidden_rows = torch.linalg.qr(torch.randn(5, 64, 64, generator=generator))[0].mT
    for method, rows in (("push_forward", full_rows), ("pull_back", full_rows), ("reference_pull_back", hidden_rows)):
        free, _ = getattr(maps["matrix-free"], method)(drive_t, components, rows)
        materialised, _ = getattr(maps["materialised"], method)(drive_t, components, rows)
        scale = free.abs().max()
        torch.testing.assert_close(materialised, free, atol=float(1e-5 * scale), rtol=0)


def test_the_rule_materialises_full_spectra_and_keeps_few_exponents_matrix_free():
    tangent_map = LSTMMap(_wide_lstm(128), F64, CPU)
    assert tangent_map.jacobian_product == "auto"
    # full spectra: k = N (reference block), k = 2N and k = N (full state)
    assert tangent_map.materialises(128, reference_block=True)
    assert tangent_map.materialises(256, reference_block=False)
    assert tangent_map.materialises(128, reference_block=False)
    # a few leading exponents, and the memory bound N <= 4k (hidden block) / N <= 2k (full state)
    for k in (1, 8, 31):
        assert not tangent_map.materialises(k, reference_block=True)
    assert tangent_map.materialises(32, reference_block=True)
    assert not tangent_map.materialises(63, reference_block=False)
    assert tangent_map.materialises(64, reference_block=False)
    # the flop bound: below k = 4c/3 (hidden block) or 2c (full state) the build costs more than it saves
    small = LSTMMap(_wide_lstm(8), F64, CPU)
    assert not small.materialises(8, reference_block=True)  # 6 * 8 <= 8 * ELEMENTWISE_COST
    assert not small.materialises(16, reference_block=False)
    assert 6 * 8 <= 8 * ELEMENTWISE_COST and 4 * 16 <= 8 * ELEMENTWISE_COST
    # forcing a product overrides the rule
    assert LSTMMap(_wide_lstm(8), F64, CPU, jacobian_product="materialised").materialises(1, reference_block=True)
    assert not LSTMMap(_wide_lstm(8), F64, CPU, jacobian_product="matrix-free").materialises(256, reference_block=False)
    with pytest.raises(ValueError, match="jacobian_product"):
        LSTMMap(_wide_lstm(8), F64, CPU, jacobian_product="dense")


@pytest.mark.parametrize("convention", ["benettin", "reference"])
def test_a_materialised_spectrum_equals_the_autograd_step_function_path(convention):
    hidden_size = 24
    module = _wide_lstm(hidden_size)
    size = 2 * hidden_size if convention == "benettin" else hidden_size
    assert tangent_map_for(module, F64, CPU).materialises(size, reference_block=convention == "reference")
    inputs = torch.randn(2, 15, INPUT_SIZE, dtype=F64, generator=torch.Generator().manual_seed(9))
    h0 = 0.3 * torch.randn(2, 2 * hidden_size, dtype=F64, generator=torch.Generator().manual_seed(10))
    options = dict(warmup=3, h0=h0, convention=convention)
    engine = lyapunov_spectrum(module, inputs, **options)
    if convention == "reference":  # the reference's hidden-only Jacobian: c held fixed, rows over h only
        generic = _hidden_block_spectrum(module, inputs, h0, options)
    else:
        generic = lyapunov_spectrum(module_step(module), inputs, **options)
    assert engine.exponents.shape == (2, size) and torch.isfinite(engine.exponents).all()
    torch.testing.assert_close(engine.exponents, generic.exponents, atol=1e-10, rtol=0)
    assert torch.equal(engine.resolved, generic.resolved)


def _hidden_block_spectrum(module: nn.LSTM, inputs: torch.Tensor, h0: torch.Tensor, options: dict):
    """The reference convention through the generic zero-padded path (autograd ``vjp`` of the module's own step)."""

    class HiddenBlock(StepFunctionMap):
        @property
        def reference_size(self) -> int:
            return module.hidden_size

    step = module_step(module)
    tangent_map = HiddenBlock(step, 2 * module.hidden_size)
    state = tuple(h0.split(2 * module.hidden_size, dim=-1))
    with torch.no_grad():
        run = algorithms.reference(
            tangent_map,
            inputs,
            state,
            k=module.hidden_size,
            warmup=options["warmup"],
            keep_finite_time=False,
            keep_vectors=False,
            progress=False,
        )
    return spectrum._result(run, "reference", module.hidden_size, keep_vectors=False)
