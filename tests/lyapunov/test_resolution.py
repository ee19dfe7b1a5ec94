"""Which exponents the arithmetic resolves: the ``resolved`` mask against known cases and thread counts."""

from __future__ import annotations

import math

import pytest
import torch
from helpers.cells import F64, linear_map
from torch import nn

from lyapunov_rnn.lyapunov import lyapunov_spectrum, rounding_tolerance


def _rotated_contraction(nats: float, dtype: torch.dtype) -> torch.Tensor:
    """``U diag(1, e^-nats) U^T`` with U a rotation by 0.3 rad: a normal map whose QR mixes both directions.

    (A diagonal map would be factorised exactly, without rounding, whatever its contraction.)
    """
    rotation = torch.tensor([[math.cos(0.3), -math.sin(0.3)], [math.sin(0.3), math.cos(0.3)]], dtype=F64)
    return (rotation @ torch.diag(torch.tensor([1.0, math.exp(-nats)], dtype=F64)) @ rotation.T).to(dtype)


@pytest.mark.parametrize(
    "dtype, nats, resolved, sum_rule_holds",
    [
        # The floor is a one-step contraction by ln(1 / eps) / 2: 18.0 nats in float64, 8.0 in float32.
        (torch.float64, 10.0, True, True),
        (torch.float64, 25.0, False, True),  # flagged although still accurate: the floor keeps headroom
        (torch.float64, 40.0, False, False),  # below rounding (eps = e^-36): the value is noise
        (torch.float32, 5.0, True, True),
        (torch.float32, 25.0, False, False),
    ],
)
def test_contraction_below_half_the_digits_is_flagged(dtype, nats, resolved, sum_rule_holds):
    result = lyapunov_spectrum(
        linear_map(_rotated_contraction(nats, dtype)),
        torch.zeros(1, 50, 1),
        h0=torch.ones(1, 2, dtype=dtype),
        dtype=dtype,
    )
    assert result.resolved.tolist() == [[True, resolved]]
    # Sum rule: the exponents add up to ln|det| = -nats per step. An accurate R_22 ~ e^-nats carries a
    # rounding error of up to ~40 eps ||Z|| (the measured noise level), relative 40 eps e^nats.
    error = abs(result.exponents.sum().item() + nats)
    if sum_rule_holds:
        assert error <= 40 * torch.finfo(dtype).eps * math.exp(nats)
    else:
        assert error > 1.0  # rounding, not the map, set the second exponent


def test_diagonal_map_is_flagged_although_exact():
    """The flag is conservative: it does not know that a diagonal map is factorised without rounding."""
    result = lyapunov_spectrum(
        linear_map(torch.diag(torch.tensor([1.0, math.exp(-40.0)], dtype=F64))),
        torch.zeros(1, 20, 1),
        h0=torch.ones(1, 2, dtype=F64),
    )
    torch.testing.assert_close(result.exponents, torch.tensor([[0.0, -40.0]], dtype=F64), atol=1e-12, rtol=0)
    assert result.resolved.tolist() == [[True, False]]


def test_resolved_follows_the_sorted_exponents():
    """Step 0 applies diag(1, e^-20): QR column 2 is flagged (20 > 18 nats). The 5 later steps apply
    diag(e^-5, 1), which contracts column 1. The flagged column ends with the larger exponent, -20 / 6
    against -25 / 6, and its flag moves with it. (Diagonal maps: no mixing of the columns, exact values.)"""
    first = torch.diag(torch.tensor([1.0, math.exp(-20.0)], dtype=F64))
    later = torch.diag(torch.tensor([math.exp(-5.0), 1.0], dtype=F64))

    def step(x_t: torch.Tensor, state: torch.Tensor) -> torch.Tensor:
        return x_t * (state @ first.T) + (1 - x_t) * (state @ later.T)

    inputs = torch.zeros(1, 6, 1, dtype=F64)
    inputs[:, 0] = 1.0  # step 0 applies `first`
    result = lyapunov_spectrum(step, inputs, h0=torch.ones(1, 2, dtype=F64))
    torch.testing.assert_close(result.exponents, torch.tensor([[-20.0 / 6, -25.0 / 6]], dtype=F64), atol=1e-12, rtol=0)
    assert result.resolved.tolist() == [[False, True]]


def test_reference_warmup_that_collapses_the_basis_is_unresolved():
    """The reference's warm-up multiplies Jacobians without QR: a 10-step warm-up of a map that contracts
    the second direction by 5 nats per step relative to the first pushes it 50 nats below the first, below
    rounding, although each measured step (5 nats) is resolved."""
    matrix = _rotated_contraction(5.0, F64)
    options = dict(h0=torch.ones(1, 2, dtype=F64), convention="reference")
    plain = lyapunov_spectrum(linear_map(matrix), torch.zeros(1, 20, 1), warmup=0, **options)
    collapsed = lyapunov_spectrum(linear_map(matrix), torch.zeros(1, 20, 1), warmup=10, **options)
    assert plain.resolved.tolist() == [[True, True]]
    assert collapsed.resolved.tolist() == [[True, False]]


def _saturated_lstm(hidden_size: int, init_param: float, seed: int) -> nn.LSTM:
    """An LSTM without bias, weights ~ U(-p, p) (the experiments' init): large p saturates its gates."""
    lstm = nn.LSTM(4, hidden_size, bias=False, batch_first=True).double()
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for weight in lstm.parameters():
            weight.copy_(torch.empty_like(weight).uniform_(-init_param, init_param, generator=generator))
    return lstm


def _saturated_case(hidden_size: int) -> tuple[nn.LSTM, torch.Tensor]:
    """The saturated LSTM (weights ~ U(-8, 8)) and 8 sequences of 28 steps whose first input is blank."""
    lstm = _saturated_lstm(hidden_size, init_param=8.0, seed=0)
    inputs = torch.randn(8, 28, 4, dtype=F64, generator=torch.Generator().manual_seed(1))
    inputs[:, 0] = 0.0
    return lstm, inputs


def test_saturated_lstm_resolved_exponents_agree_across_thread_counts():
    """A blank first input at the zero state (as the top rows of an MNIST digit) gives dh' = dc' / 2
    exactly, a Jacobian of rank N: the lowest N exponents are -inf, and every value the arithmetic
    returns for them is rounding. They are flagged; the resolved ones agree between 1 and 2 threads."""
    hidden_size = 32
    lstm, inputs = _saturated_case(hidden_size)
    threads = torch.get_num_threads()
    try:
        results = {}
        for count in (1, 2):
            torch.set_num_threads(count)
            results[count] = lyapunov_spectrum(lstm, inputs)
    finally:
        torch.set_num_threads(threads)
    one, two = results[1], results[2]
    assert not one.resolved[:, hidden_size:].any()  # the rank-deficient half, for every sequence
    assert one.resolved.sum(dim=1).min() >= hidden_size - 4  # most of the other half (measured: 29-32 of 32)
    assert torch.equal(one.resolved, two.resolved)
    # Resolved exponents agree to rounding amplified by the tangent dynamics over 28 steps: measured up to
    # 1.8e-4 nats per step here (seeds 0-7: 6e-8 ... 1.8e-4) on a 2-core VM, while the unresolved ones
    # differed by 0.5 ... 1.1 nats per step.
    torch.testing.assert_close(one.exponents[one.resolved], two.exponents[two.resolved], atol=1e-3, rtol=0)


def test_rounding_check_leaves_exponents_that_agree_across_thread_counts():
    """The one-step floor misses rounding that the tangent dynamics amplify over the sequence: the saturated LSTM
    above has floor-resolved exponents that differ by up to 1.8e-4 nats per step between 1 and 2 threads. The
    rounding check (a second run perturbed by 1024 x rounding at every step) flags them; what stays resolved
    agrees across thread counts to far better than its tolerance (measured 1.6e-9 on a 2-core VM)."""
    hidden_size = 32
    lstm, inputs = _saturated_case(hidden_size)
    threads = torch.get_num_threads()
    try:
        checked, floor_only = {}, {}
        for count in (1, 2):
            torch.set_num_threads(count)
            checked[count] = lyapunov_spectrum(lstm, inputs, rounding_check=True)
            floor_only[count] = lyapunov_spectrum(lstm, inputs)
    finally:
        torch.set_num_threads(threads)
    one, two = checked[1], checked[2]
    # The check changes the mask only, never the values, and only by taking exponents away.
    assert torch.equal(one.exponents, floor_only[1].exponents)
    assert not (one.resolved & ~floor_only[1].resolved).any()
    assert torch.equal(one.resolved, two.resolved)
    # Measured: 0 to 27 of 64 per sequence stay resolved. In one sequence none does: its state trajectory is
    # chaotic (leading exponent > 0), so rounding in the state itself grows along the sequence.
    assert one.resolved.sum() >= 64
    torch.testing.assert_close(
        one.exponents[one.resolved], two.exponents[two.resolved], atol=rounding_tolerance(F64) / 10, rtol=0
    )


def test_rounding_check_flags_an_exponent_that_a_rounding_sized_perturbation_moves():
    """Deterministic counterpart of the thread test: perturb the inputs of the first step by one rounding unit
    (relative eps). Exponents the check keeps move by less than its tolerance; some it flags move by more."""
    lstm, inputs = _saturated_case(32)
    result = lyapunov_spectrum(lstm, inputs, rounding_check=True)
    nudged_inputs = inputs.clone()
    nudged_inputs[:, 1] *= 1 + torch.finfo(F64).eps
    nudged = lyapunov_spectrum(lstm, nudged_inputs)
    moved = (result.exponents - nudged.exponents).abs()
    floor_resolved = lyapunov_spectrum(lstm, inputs).resolved
    assert moved[result.resolved].max() < rounding_tolerance(F64)
    assert moved[floor_resolved & ~result.resolved].max() > moved[result.resolved].max()
