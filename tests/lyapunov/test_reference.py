"""``convention="reference"`` against an independent re-implementation of ``calc_LEs_an``
(shlizee/LyapunovAutoEncode), and its old name ``"aelle"``."""

from __future__ import annotations

import pytest
import torch
from helpers.cells import F64, HIDDEN, INPUT_SIZE, cell_module, linear_map
from torch import nn

from lyapunov_rnn.lyapunov import lyapunov_spectrum


def _sig(a):
    return 1 / (1 + torch.exp(-a))


def _sech2(a):
    return 1 / torch.cosh(a) ** 2


def _reference_lstm_jacobian(module, x_t, h, c):
    """Hidden-only LSTM Jacobian of the reference code, materialised with diag_embed."""
    w, u = module.weight_ih_l0, module.weight_hh_l0
    y = x_t @ w.T + h @ u.T
    if module.bias:
        y = y + module.bias_ih_l0 + module.bias_hh_l0
    n = module.hidden_size
    y_i, y_f, y_g, y_o = y.split(n, dim=-1)
    u_i, u_f, u_g, u_o = u.split(n, dim=0)
    c_next = _sig(y_f) * c + _sig(y_i) * torch.tanh(y_g)
    diag = torch.diag_embed
    a = (
        diag(_sig(y_f) * (1 - _sig(y_f)) * c) @ u_f
        + diag(_sig(y_i) * (1 - _sig(y_i)) * torch.tanh(y_g)) @ u_i
        + diag(_sig(y_i) * _sech2(y_g)) @ u_g
    )
    return diag(_sig(y_o) * _sech2(c_next)) @ a + diag(_sig(y_o) * (1 - _sig(y_o)) * torch.tanh(c_next)) @ u_o


def _reference_gru_jacobian(module, x_t, h, c):
    w, u = module.weight_ih_l0, module.weight_hh_l0
    y1, y2 = x_t @ w.T, h @ u.T
    if module.bias:
        y1, y2 = y1 + module.bias_ih_l0, y2 + module.bias_hh_l0
    n = module.hidden_size
    y = y1 + y2
    y_r, y_z = y[:, :n], y[:, n : 2 * n]
    u_r, u_z, u_n = u.split(n, dim=0)
    diag = torch.diag_embed
    n_t = torch.tanh(y1[:, 2 * n :] + _sig(y_r) * y2[:, 2 * n :])
    a_h = -diag(_sig(y_z) * (1 - _sig(y_z))) @ diag(n_t) @ u_z
    b_h = diag(1 - _sig(y_z)) @ (
        diag(_sech2(y1[:, 2 * n :] + _sig(y_r) * y2[:, 2 * n :]))
        @ (diag(_sig(y_r) * (1 - _sig(y_r))) @ diag(y2[:, 2 * n :]) @ u_r + diag(_sig(y_r)) @ u_n)
    )
    c_h = diag(_sig(y_z) * (1 - _sig(y_z))) @ diag(h) @ u_z + diag(_sig(y_z))
    return a_h + b_h + c_h


def _reference_calc_les(module, inputs, warmup, jacobian):
    """calc_LEs_an: J^T Q, warm-up without QR, replayed inputs, log2, T_ons = 1."""
    batch, steps, _ = inputs.shape
    n = module.hidden_size
    h = torch.zeros(batch, n, dtype=F64)
    c = torch.zeros(batch, n, dtype=F64)
    q = torch.eye(n, dtype=F64).repeat(batch, 1, 1)

    def advance(x_t, h, c):
        if isinstance(module, nn.LSTM):
            _, (h_next, c_next) = module(x_t[:, None], (h[None], c[None]))
            return h_next[0], c_next[0]
        return module(x_t[:, None], h[None])[1][0], c

    with torch.no_grad():
        for t in range(min(warmup, steps)):
            j = jacobian(module, inputs[:, t], h, c)
            h, c = advance(inputs[:, t], h, c)
            q = j.transpose(1, 2) @ q
        q, _ = torch.linalg.qr(q)
        diagonals = []
        for t in range(steps):
            j = jacobian(module, inputs[:, t], h, c)
            h, c = advance(inputs[:, t], h, c)
            z = j.transpose(1, 2) @ q
            q_new, r = torch.linalg.qr(z)
            signs = torch.diag_embed(torch.sign(torch.diagonal(r, dim1=1, dim2=2)))
            q, r = q_new @ signs, signs @ r
            diagonals.append(torch.diagonal(r, dim1=1, dim2=2))
    return (torch.log2(torch.stack(diagonals, dim=1)).sum(1) / steps).sort(dim=-1, descending=True).values


@pytest.mark.parametrize(
    ("name", "jacobian"),
    [
        ("lstm", _reference_lstm_jacobian),
        ("lstm_nobias", _reference_lstm_jacobian),
        ("gru", _reference_gru_jacobian),
        ("gru_nobias", _reference_gru_jacobian),
    ],
)
@pytest.mark.parametrize(("steps", "warmup"), [(25, 0), (25, 7), (6, 10)])
def test_reference_convention_reproduces_the_reference_algorithm(name, jacobian, steps, warmup):
    # long warm-ups without re-orthonormalisation make the reference ill-conditioned: keep them short
    module = cell_module(name)
    inputs = torch.randn(3, steps, INPUT_SIZE, dtype=F64, generator=torch.Generator().manual_seed(10))
    result = lyapunov_spectrum(module, inputs, warmup=warmup, convention="reference", keep_finite_time=True)
    expected = _reference_calc_les(module, inputs, warmup, jacobian)
    assert result.state_size == HIDDEN and result.steps == steps and result.warmup == min(warmup, steps)
    torch.testing.assert_close(result.exponents, expected, atol=1e-10, rtol=0)
    torch.testing.assert_close(result.finite_time[:, -1], result.exponents, atol=1e-12, rtol=0)


def test_reference_coupled_oscillator_uses_the_full_state():
    module = cell_module("cornn")
    result = lyapunov_spectrum(module, torch.randn(2, 10, INPUT_SIZE, dtype=F64), convention="reference")
    assert result.exponents.shape == (2, 2 * HIDDEN) and result.state_size == 2 * HIDDEN


@pytest.mark.parametrize("name", ["lstm", "gru", "cornn", "step_function"])
def test_aelle_is_the_old_name_of_reference(name):
    inputs = torch.randn(2, 12, INPUT_SIZE, dtype=F64, generator=torch.Generator().manual_seed(11))
    if name == "step_function":
        model = linear_map(torch.tensor([[0.9, 0.3], [-0.2, 0.7]], dtype=F64))
        options = dict(h0=torch.ones(2, 2, dtype=F64))
    else:
        model, options = cell_module(name), {}
    options.update(warmup=3, keep_finite_time=True, keep_vectors=True)
    results = [lyapunov_spectrum(model, inputs, convention=c, **options) for c in ("aelle", "reference")]
    for result in results:
        assert result.convention == "reference"
    old, new = results
    for field in ("exponents", "stderr", "finite_time", "vectors"):
        assert torch.equal(getattr(old, field), getattr(new, field)), field
    assert (old.state_size, old.warmup, old.steps) == (new.state_size, new.warmup, new.steps)
