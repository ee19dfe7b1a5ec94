"""Spectra with a closed form: constant and diagonal maps, the Henon map, products of Gaussian matrices,
networks at a fixed point, periodically driven networks (Floquet) and the sum rule."""

from __future__ import annotations

import math

import pytest
import torch
from helpers.cells import F64, INPUT_SIZE, cell_module, jacobians, linear_map, module_step, state_size
from torch import nn

from lyapunov_rnn.lyapunov import lyapunov_spectrum


def test_diagonal_map_is_exact_at_every_step():
    result = lyapunov_spectrum(
        linear_map(torch.diag(torch.tensor([1.1, 0.8], dtype=F64))),
        torch.zeros(2, 25, 1),
        h0=torch.ones(2, 2, dtype=F64),
        keep_finite_time=True,
        keep_vectors=True,
    )
    expected = torch.tensor([[0.0953101798043249, -0.2231435513142098]], dtype=F64).expand(2, 2)
    torch.testing.assert_close(result.exponents, expected, atol=1e-12, rtol=0)
    assert result.finite_time.shape == (2, 25, 2)
    torch.testing.assert_close(result.finite_time, expected[:, None].expand(2, 25, 2), atol=1e-12, rtol=0)
    torch.testing.assert_close(result.vectors, torch.eye(2, dtype=F64).expand(2, 2, 2))
    torch.testing.assert_close(result.stderr, torch.zeros(2, 2, dtype=F64), atol=1e-14, rtol=0)
    assert (result.steps, result.warmup, result.state_size, result.convention) == (25, 0, 2, "benettin")


@pytest.mark.parametrize("dtype, floor", [(torch.float64, -708.3964185322641), (torch.float32, -87.33654475055310)])
def test_annihilated_direction_reports_the_resolution_floor(dtype, floor):
    # diag(0.5, 0) kills the second direction exactly at every step: log R_22 = log 0.
    # The engine reports ln(tiny) of the compute dtype per step instead of -inf.
    result = lyapunov_spectrum(
        linear_map(torch.diag(torch.tensor([0.5, 0.0], dtype=dtype))),
        torch.zeros(1, 10, 1),
        h0=torch.ones(1, 2, dtype=dtype),
        dtype=dtype,
        keep_vectors=True,
    )
    assert torch.isfinite(result.exponents).all()
    assert result.exponents[0, 0].item() == pytest.approx(math.log(0.5), abs=1e-6)
    assert result.exponents[0, 1].item() == pytest.approx(floor, rel=1e-12)
    assert result.resolved.tolist() == [[True, False]]  # the floor is no measurement
    assert torch.isfinite(result.vectors).all() and (result.vectors.norm(dim=1) > 0.99).all()


def test_constant_linear_map_converges_like_one_over_t():
    eigenvalues = torch.tensor([2.0, -1.2, 0.5, 0.1], dtype=F64)
    basis = torch.eye(4, dtype=F64) + 0.4 * torch.randn(4, 4, dtype=F64, generator=torch.Generator().manual_seed(0))
    matrix = basis @ torch.diag(eigenvalues) @ torch.linalg.inv(basis)
    expected = eigenvalues.abs().log()
    errors = {}
    for steps in (100, 400):
        result = lyapunov_spectrum(
            linear_map(matrix), torch.zeros(1, steps, 1), h0=torch.ones(1, 4, dtype=F64), keep_vectors=True
        )
        errors[steps] = (result.exponents[0] - expected).abs().max().item()
        # the error of a constant map is O(1/T): C / T with C ~ ln cond(basis) + O(1)
        assert errors[steps] < 5.0 / steps
    assert errors[400] < errors[100] / 3
    # Gram-Schmidt vectors of a constant map converge to its Schur basis
    q = result.vectors[0]
    torch.testing.assert_close(q.T @ q, torch.eye(4, dtype=F64), atol=1e-12, rtol=0)
    schur = q.T @ matrix @ q
    assert schur.tril(-1).abs().max() < 1e-6
    torch.testing.assert_close(schur.diagonal(), eigenvalues, atol=1e-6, rtol=0)


def test_henon_map_spectrum():
    a, b = 1.4, 0.3

    def henon(x_t, state):
        x, y = state.unbind(-1)
        return torch.stack((1.0 - a * x * x + y, b * x), dim=-1)

    generator = torch.Generator().manual_seed(1)
    h0 = 0.1 * torch.rand(48, 2, dtype=F64, generator=generator)
    result = lyapunov_spectrum(henon, torch.zeros(48, 1700, 1), h0=h0, warmup=200)
    # the sum rule holds per trajectory: |det J| = b at every step
    torch.testing.assert_close(result.exponents.sum(-1), torch.full((48,), math.log(b), dtype=F64), atol=1e-12, rtol=0)
    mean = result.exponents.mean(0)
    assert abs(mean[0].item() - 0.41922) < 5e-3
    assert abs(mean[1].item() - (-1.62319)) < 5e-3


def test_products_of_gaussian_matrices():
    """lambda_k = ln s + (ln 2 + digamma((N - k + 1) / 2)) / 2 (Newman 1986)."""
    size, scale, batch, steps = 16, 1.0, 12, 300
    generator = torch.Generator().manual_seed(5)
    matrices = scale * torch.randn(batch, steps, size, size, dtype=F64, generator=generator)
    h0 = torch.randn(batch, size, dtype=F64, generator=generator)
    result = lyapunov_spectrum(lambda m, s: torch.einsum("bij,bj->bi", m, s), matrices, h0=h0)
    degrees = torch.arange(size, 0, -1, dtype=F64)  # N - k + 1 for k = 1..N
    expected = math.log(scale) + (math.log(2.0) + torch.special.digamma(degrees / 2)) / 2
    assert expected[0].item() == pytest.approx(1.35439, abs=1e-5)
    assert expected[-1].item() == pytest.approx(-0.635181, abs=1e-6)
    # R_jj^2 ~ chi^2_{N-j+1}, independent over steps: the stderr is exact and known
    local_sd = (torch.special.polygamma(1, degrees / 2) / 4).sqrt()
    torch.testing.assert_close(result.stderr.mean(0), local_sd / math.sqrt(steps), rtol=0.15, atol=0)
    combined_stderr = (result.stderr**2).sum(0).sqrt() / batch
    assert ((result.exponents.mean(0) - expected).abs() < 4.5 * combined_stderr).all()


def test_tanh_rnn_at_zero_fixed_point_has_log_eigenvalue_moduli():
    torch.manual_seed(2)
    rnn = nn.RNN(2, 8, bias=False, batch_first=True).double()
    with torch.no_grad():
        weight = torch.randn(8, 8, dtype=F64)
        rnn.weight_hh_l0.copy_(0.9 * weight / torch.linalg.eigvals(weight).abs().max())
    result = lyapunov_spectrum(rnn, torch.zeros(1, 2000, 2, dtype=F64))
    expected = torch.linalg.eigvals(rnn.weight_hh_l0.detach()).abs().log().sort(descending=True).values
    torch.testing.assert_close(result.exponents[0], expected, atol=5e-3, rtol=0)
    # complex-conjugate pairs give equal exponents
    assert (expected[:-1] - expected[1:]).min() < 1e-12


def test_two_layer_tanh_rnn_at_zero_has_the_union_of_the_layer_spectra():
    """At the zero fixed point J = [[W_0, 0], [W_ih_1, W_1]]: block-triangular, spectrum = both layers' log|eig|."""
    torch.manual_seed(8)
    rnn = nn.RNN(2, 4, num_layers=2, bias=False, batch_first=True).double()
    with torch.no_grad():
        for layer, radius in ((0, 0.9), (1, 0.6)):
            weight = torch.randn(4, 4, dtype=F64)
            getattr(rnn, f"weight_hh_l{layer}").copy_(radius * weight / torch.linalg.eigvals(weight).abs().max())
    result = lyapunov_spectrum(rnn, torch.zeros(1, 2000, 2, dtype=F64))
    eigenvalues = torch.cat([torch.linalg.eigvals(getattr(rnn, f"weight_hh_l{layer}").detach()) for layer in (0, 1)])
    expected = eigenvalues.abs().log().sort(descending=True).values
    torch.testing.assert_close(result.exponents[0], expected, atol=5e-3, rtol=0)


def test_periodically_driven_rnn_uses_the_time_ordered_product():
    """lambda = (1/P) ln|eig(J_P ... J_1)|; the reference's J^T Q gives eig(J_1 ... J_P) instead."""
    torch.manual_seed(7)
    rnn = nn.RNN(2, 6, batch_first=True).double()
    with torch.no_grad():
        weight = torch.randn(6, 6, dtype=F64)
        rnn.weight_hh_l0.copy_(0.95 * weight / torch.linalg.matrix_norm(weight, ord=2))  # a contraction
    period, cycles = 3, 400
    pattern = 2.0 * torch.randn(1, period, 2, dtype=F64)
    inputs = pattern.repeat(1, cycles, 1)
    warmup = 60 * period
    result = lyapunov_spectrum(rnn, inputs, warmup=warmup)

    step = module_step(rnn)
    state = torch.zeros(1, 6, dtype=F64)
    for t in range(warmup):
        state = step(inputs[:, t], state)
    step_jacobians = []
    for t in range(warmup, warmup + period):
        step_jacobians.append(jacobians(step, inputs[:, t], state)[0])
        state = step(inputs[:, t], state)
    j1, j2, j3 = step_jacobians
    correct = torch.linalg.eigvals(j3 @ j2 @ j1).abs().log().sort(descending=True).values / period
    transposed = torch.linalg.eigvals(j1 @ j2 @ j3).abs().log().sort(descending=True).values / period
    assert (correct - transposed).abs().max() > 0.05
    torch.testing.assert_close(result.exponents[0], correct, atol=5e-3, rtol=0)
    reference = lyapunov_spectrum(rnn, inputs, warmup=warmup, convention="reference")
    torch.testing.assert_close(reference.exponents[0] * math.log(2.0), transposed, atol=5e-3, rtol=0)


@pytest.mark.parametrize("name", ["lstm", "gru", "cornn", "asrnn"])
def test_sum_of_all_exponents_is_mean_log_determinant(name):
    module = cell_module(name)
    step, size = module_step(module), state_size(module)
    inputs = torch.randn(2, 20, INPUT_SIZE, dtype=F64, generator=torch.Generator().manual_seed(8))
    result = lyapunov_spectrum(module, inputs, warmup=4)
    state = torch.zeros(2, size, dtype=F64)
    log_dets = []
    for t in range(inputs.shape[1]):
        if t >= 4:
            log_dets.append(torch.linalg.slogdet(jacobians(step, inputs[:, t], state)).logabsdet)
        state = step(inputs[:, t], state)
    expected = torch.stack(log_dets).mean(0)
    torch.testing.assert_close(result.exponents.sum(-1), expected, atol=1e-10, rtol=0)


def test_leading_k_exponents_equal_the_top_of_the_full_spectrum():
    module = cell_module("lstm")
    inputs = torch.randn(2, 60, INPUT_SIZE, dtype=F64, generator=torch.Generator().manual_seed(9))
    full = lyapunov_spectrum(module, inputs, warmup=10)
    top = lyapunov_spectrum(module, inputs, warmup=10, k=4, keep_vectors=True)
    assert top.exponents.shape == (2, 4) and top.vectors.shape == (2, 10, 4)
    torch.testing.assert_close(top.exponents, full.exponents[:, :4], atol=1e-10, rtol=0)
    torch.testing.assert_close(top.vectors.mT @ top.vectors, torch.eye(4, dtype=F64).expand(2, 4, 4))
