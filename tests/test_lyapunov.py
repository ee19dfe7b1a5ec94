"""Tests of the Lyapunov-spectrum engine against autograd and closed-form spectra.

Every expected value comes from an independent source: autograd Jacobians of
the modules' own forward/step code, closed-form spectra of known maps, or an
independent re-implementation of the published reference algorithm.
"""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn
from torch.func import jacrev

from lyapunov_rnn.lyapunov import LyapunovResult, _make_cell, lyapunov_spectrum
from lyapunov_rnn.models import AntisymmetricRNN, CoupledOscillatoryRNN, SequenceModel

F64 = torch.float64
INPUT_SIZE, HIDDEN = 3, 5


@pytest.fixture(autouse=True)
def single_thread():
    """Tiny batched LAPACK calls run faster, and far more reliably on a shared machine, on one thread."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _cell_module(name: str) -> nn.Module:
    """A small float64 recurrent module with non-trivial weights."""
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


CELLS = ("rnn_tanh", "rnn_relu", "lstm", "lstm_nobias", "gru", "gru_nobias", "asrnn", "cornn")


def _module_step(module: nn.Module):
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


def _state_size(module: nn.Module) -> int:
    doubled = isinstance(module, (nn.LSTM, CoupledOscillatoryRNN))
    return 2 * module.hidden_size if doubled else module.hidden_size


def _jacobians(step, x_t: torch.Tensor, state: torch.Tensor) -> torch.Tensor:
    """Autograd Jacobians d step / d state, (B, D, D)."""
    return torch.stack(
        [jacrev(lambda s, x=x: step(x[None], s[None])[0])(s) for x, s in zip(x_t, state, strict=True)]
    )


# --------------------------------------------------------------------------- #
# Analytic tangent maps against autograd
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("name", CELLS)
def test_analytic_tangent_maps_equal_autograd(name):
    module = _cell_module(name)
    step, size = _module_step(module), _state_size(module)
    cell = _make_cell(module, F64, torch.device("cpu"))
    generator = torch.Generator().manual_seed(3)
    batch, k = 4, 3
    x_t = torch.randn(batch, 1, INPUT_SIZE, dtype=F64, generator=generator)
    state = torch.randn(batch, size, dtype=F64, generator=generator)
    jacobian = _jacobians(step, x_t[:, 0], state)

    rows = torch.randn(batch, k, size, dtype=F64, generator=generator)
    drive_t = cell.drive(x_t)[:, 0]
    components = tuple(state.split(list(cell.component_sizes), dim=-1))
    pushed, next_state = cell.tangent(drive_t, components, rows)
    torch.testing.assert_close(pushed, rows @ jacobian.mT, atol=1e-10, rtol=0)
    torch.testing.assert_close(torch.cat(next_state, dim=-1), step(x_t[:, 0], state), atol=1e-12, rtol=0)

    # "aelle" uses the hidden block (c held fixed) for LSTM, the full Jacobian otherwise
    aelle_jacobian = jacobian[:, :HIDDEN, :HIDDEN] if isinstance(module, nn.LSTM) else jacobian
    aelle_rows = rows[..., : cell.aelle_size]
    pulled, _ = cell.aelle_cotangent(drive_t, components, aelle_rows)
    torch.testing.assert_close(pulled, aelle_rows @ aelle_jacobian, atol=1e-10, rtol=0)


@pytest.mark.parametrize("name", CELLS)
def test_analytic_spectrum_equals_generic_autograd_path(name):
    module = _cell_module(name)
    if name == "rnn_relu":
        with torch.no_grad():  # keep every unit active so that all exponents are finite
            module.bias_ih_l0.fill_(20.0)
            module.weight_hh_l0.mul_(0.1)
    inputs = torch.randn(3, 30, INPUT_SIZE, dtype=F64, generator=torch.Generator().manual_seed(4))
    h0 = 0.3 * torch.ones(3, _state_size(module), dtype=F64)
    analytic = lyapunov_spectrum(module, inputs, warmup=5, h0=h0)
    generic = lyapunov_spectrum(_module_step(module), inputs, warmup=5, h0=h0)
    assert analytic.exponents.shape == (3, _state_size(module))
    assert torch.isfinite(analytic.exponents).all()
    torch.testing.assert_close(analytic.exponents, generic.exponents, atol=1e-10, rtol=0)
    torch.testing.assert_close(analytic.stderr, generic.stderr, atol=1e-10, rtol=0)


# --------------------------------------------------------------------------- #
# Multi-layer networks: the stacked state of all layers
# --------------------------------------------------------------------------- #
def _stacked_module(kind: str, layers: int) -> nn.Module:
    torch.manual_seed(5)
    module_type = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}[kind]
    module = module_type(INPUT_SIZE, HIDDEN, num_layers=layers, batch_first=True)
    module = module.double()
    with torch.no_grad():
        for parameter in module.parameters():
            parameter.mul_(2.5)
    return module


def _stacked_step(module: nn.Module):
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


@pytest.mark.parametrize("layers", [2, 3])
@pytest.mark.parametrize("kind", ["rnn", "gru", "lstm"])
def test_multi_layer_tangent_map_equals_autograd(kind, layers):
    module = _stacked_module(kind, layers)
    step = _stacked_step(module)
    cell = _make_cell(module, F64, torch.device("cpu"))
    size = layers * (2 if kind == "lstm" else 1) * HIDDEN
    assert cell.state_size == size
    generator = torch.Generator().manual_seed(6)
    x_t = torch.randn(4, INPUT_SIZE, dtype=F64, generator=generator)
    state = torch.randn(4, size, dtype=F64, generator=generator)
    rows = torch.randn(4, 7, size, dtype=F64, generator=generator)
    components = tuple(state.split(list(cell.component_sizes), dim=-1))
    pushed, next_state = cell.tangent(cell.drive(x_t), components, rows)
    torch.testing.assert_close(pushed, rows @ _jacobians(step, x_t, state).mT, atol=1e-10, rtol=0)
    torch.testing.assert_close(torch.cat(next_state, dim=-1), step(x_t, state), atol=1e-12, rtol=0)


@pytest.mark.parametrize("kind", ["rnn", "gru", "lstm"])
def test_multi_layer_spectrum_equals_generic_path_and_accepts_pytorch_h0(kind):
    module = _stacked_module(kind, 2)
    inputs = torch.randn(2, 25, INPUT_SIZE, dtype=F64, generator=torch.Generator().manual_seed(7))
    components = 2 if kind == "lstm" else 1
    pytorch_h0 = tuple(0.2 * torch.randn(2, 2, HIDDEN, dtype=F64) for _ in range(components))
    flat_h0 = torch.cat([part[layer] for layer in range(2) for part in pytorch_h0], dim=-1)
    analytic = lyapunov_spectrum(module, inputs, warmup=3, h0=pytorch_h0 if kind == "lstm" else pytorch_h0[0])
    generic = lyapunov_spectrum(_stacked_step(module), inputs, warmup=3, h0=flat_h0)
    assert analytic.exponents.shape == (2, 2 * components * HIDDEN)
    torch.testing.assert_close(analytic.exponents, generic.exponents, atol=1e-10, rtol=0)
    torch.testing.assert_close(lyapunov_spectrum(module, inputs, warmup=3, h0=flat_h0).exponents, analytic.exponents)


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


# --------------------------------------------------------------------------- #
# Closed-form spectra
# --------------------------------------------------------------------------- #
def _linear_map(matrix: torch.Tensor):
    return lambda x_t, state: state @ matrix.T


def test_diagonal_map_is_exact_at_every_step():
    result = lyapunov_spectrum(
        _linear_map(torch.diag(torch.tensor([1.1, 0.8], dtype=F64))),
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
        _linear_map(torch.diag(torch.tensor([0.5, 0.0], dtype=dtype))),
        torch.zeros(1, 10, 1),
        h0=torch.ones(1, 2, dtype=dtype),
        dtype=dtype,
        keep_vectors=True,
    )
    assert torch.isfinite(result.exponents).all()
    assert result.exponents[0, 0].item() == pytest.approx(math.log(0.5), abs=1e-6)
    assert result.exponents[0, 1].item() == pytest.approx(floor, rel=1e-12)
    assert torch.isfinite(result.vectors).all() and (result.vectors.norm(dim=1) > 0.99).all()


def test_constant_linear_map_converges_like_one_over_t():
    eigenvalues = torch.tensor([2.0, -1.2, 0.5, 0.1], dtype=F64)
    basis = torch.eye(4, dtype=F64) + 0.4 * torch.randn(4, 4, dtype=F64, generator=torch.Generator().manual_seed(0))
    matrix = basis @ torch.diag(eigenvalues) @ torch.linalg.inv(basis)
    expected = eigenvalues.abs().log()
    errors = {}
    for steps in (100, 400):
        result = lyapunov_spectrum(
            _linear_map(matrix), torch.zeros(1, steps, 1), h0=torch.ones(1, 4, dtype=F64), keep_vectors=True
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

    step = _module_step(rnn)
    state = torch.zeros(1, 6, dtype=F64)
    for t in range(warmup):
        state = step(inputs[:, t], state)
    jacobians = []
    for t in range(warmup, warmup + period):
        jacobians.append(_jacobians(step, inputs[:, t], state)[0])
        state = step(inputs[:, t], state)
    j1, j2, j3 = jacobians
    correct = torch.linalg.eigvals(j3 @ j2 @ j1).abs().log().sort(descending=True).values / period
    transposed = torch.linalg.eigvals(j1 @ j2 @ j3).abs().log().sort(descending=True).values / period
    assert (correct - transposed).abs().max() > 0.05
    torch.testing.assert_close(result.exponents[0], correct, atol=5e-3, rtol=0)
    aelle = lyapunov_spectrum(rnn, inputs, warmup=warmup, convention="aelle")
    torch.testing.assert_close(aelle.exponents[0] * math.log(2.0), transposed, atol=5e-3, rtol=0)


@pytest.mark.parametrize("name", ["lstm", "gru", "cornn", "asrnn"])
def test_sum_of_all_exponents_is_mean_log_determinant(name):
    module = _cell_module(name)
    step, size = _module_step(module), _state_size(module)
    inputs = torch.randn(2, 20, INPUT_SIZE, dtype=F64, generator=torch.Generator().manual_seed(8))
    result = lyapunov_spectrum(module, inputs, warmup=4)
    state = torch.zeros(2, size, dtype=F64)
    log_dets = []
    for t in range(inputs.shape[1]):
        if t >= 4:
            log_dets.append(torch.linalg.slogdet(_jacobians(step, inputs[:, t], state)).logabsdet)
        state = step(inputs[:, t], state)
    expected = torch.stack(log_dets).mean(0)
    torch.testing.assert_close(result.exponents.sum(-1), expected, atol=1e-10, rtol=0)


def test_leading_k_exponents_equal_the_top_of_the_full_spectrum():
    module = _cell_module("lstm")
    inputs = torch.randn(2, 60, INPUT_SIZE, dtype=F64, generator=torch.Generator().manual_seed(9))
    full = lyapunov_spectrum(module, inputs, warmup=10)
    top = lyapunov_spectrum(module, inputs, warmup=10, k=4, keep_vectors=True)
    assert top.exponents.shape == (2, 4) and top.vectors.shape == (2, 10, 4)
    torch.testing.assert_close(top.exponents, full.exponents[:, :4], atol=1e-10, rtol=0)
    torch.testing.assert_close(top.vectors.mT @ top.vectors, torch.eye(4, dtype=F64).expand(2, 4, 4))


# --------------------------------------------------------------------------- #
# convention="aelle" against an independent re-implementation of calc_LEs_an
# --------------------------------------------------------------------------- #
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
def test_aelle_convention_reproduces_the_reference_algorithm(name, jacobian, steps, warmup):
    # long warm-ups without re-orthonormalisation make the reference ill-conditioned: keep them short
    module = _cell_module(name)
    inputs = torch.randn(3, steps, INPUT_SIZE, dtype=F64, generator=torch.Generator().manual_seed(10))
    result = lyapunov_spectrum(module, inputs, warmup=warmup, convention="aelle", keep_finite_time=True)
    expected = _reference_calc_les(module, inputs, warmup, jacobian)
    assert result.state_size == HIDDEN and result.steps == steps and result.warmup == min(warmup, steps)
    torch.testing.assert_close(result.exponents, expected, atol=1e-10, rtol=0)
    torch.testing.assert_close(result.finite_time[:, -1], result.exponents, atol=1e-12, rtol=0)


def test_aelle_coupled_oscillator_uses_the_full_state():
    module = _cell_module("cornn")
    result = lyapunov_spectrum(module, torch.randn(2, 10, INPUT_SIZE, dtype=F64), convention="aelle")
    assert result.exponents.shape == (2, 2 * HIDDEN) and result.state_size == 2 * HIDDEN


# --------------------------------------------------------------------------- #
# Options, dtypes, layouts and errors
# --------------------------------------------------------------------------- #
def test_qr_every_is_exact_when_well_conditioned():
    module = _cell_module("gru")
    inputs = torch.randn(2, 41, INPUT_SIZE, dtype=F64, generator=torch.Generator().manual_seed(12))
    every_step = lyapunov_spectrum(module, inputs, warmup=3)
    blocked = lyapunov_spectrum(module, inputs, warmup=3, qr_every=4, keep_finite_time=True)
    torch.testing.assert_close(blocked.exponents, every_step.exponents, atol=1e-10, rtol=0)
    assert blocked.finite_time.shape == (2, 38, HIDDEN)
    torch.testing.assert_close(blocked.finite_time[:, -1], blocked.exponents, atol=1e-12, rtol=0)


def test_ill_conditioned_qr_every_warns_and_falls_back():
    matrix = torch.diag(torch.tensor([math.exp(3.0), math.exp(-3.0)], dtype=F64))
    with pytest.warns(RuntimeWarning, match="qr_every=10"):
        result = lyapunov_spectrum(
            _linear_map(matrix), torch.zeros(1, 40, 1), h0=torch.ones(1, 2, dtype=F64), qr_every=10
        )
    torch.testing.assert_close(result.exponents[0], torch.tensor([3.0, -3.0], dtype=F64), atol=1e-12, rtol=0)


def test_float32_model_and_inputs():
    module = _cell_module("lstm")
    inputs = torch.randn(2, 30, INPUT_SIZE, dtype=F64, generator=torch.Generator().manual_seed(13))
    reference = lyapunov_spectrum(module, inputs, warmup=5)
    single = module.float()
    promoted = lyapunov_spectrum(single, inputs.float(), warmup=5)
    assert promoted.exponents.dtype == F64
    assert next(single.parameters()).dtype == torch.float32  # the user's model is not touched
    torch.testing.assert_close(promoted.exponents, reference.exponents, atol=1e-5, rtol=0)
    in_float32 = lyapunov_spectrum(single, inputs.float(), warmup=5, dtype=torch.float32, keep_vectors=True)
    assert in_float32.exponents.dtype == F64 and in_float32.vectors.dtype == torch.float32
    torch.testing.assert_close(in_float32.exponents, reference.exponents, atol=1e-4, rtol=0)


def test_batch_second_layout_and_sequence_model():
    model = SequenceModel("gru", INPUT_SIZE, HIDDEN, 2).double()
    inputs = torch.randn(3, 12, INPUT_SIZE, dtype=F64)
    batch_first = lyapunov_spectrum(model, inputs)
    time_first = nn.GRU(INPUT_SIZE, HIDDEN, bias=False, batch_first=False).double()
    time_first.load_state_dict(model.rnn.state_dict())
    torch.testing.assert_close(lyapunov_spectrum(time_first, inputs.transpose(0, 1)).exponents, batch_first.exponents)


def test_initial_state_formats_agree():
    module = _cell_module("lstm")
    inputs = torch.randn(2, 10, INPUT_SIZE, dtype=F64)
    h, c = torch.randn(2, HIDDEN, dtype=F64), torch.randn(2, HIDDEN, dtype=F64)
    flat = lyapunov_spectrum(module, inputs, h0=torch.cat((h, c), dim=-1))
    pytorch_layout = lyapunov_spectrum(module, inputs, h0=(h[None], c[None]))
    torch.testing.assert_close(flat.exponents, pytorch_layout.exponents)


def test_progress_bar_runs():
    result = lyapunov_spectrum(_cell_module("rnn_tanh"), torch.randn(1, 5, INPUT_SIZE, dtype=F64), progress=True)
    assert isinstance(result, LyapunovResult)


@pytest.mark.parametrize(
    ("change", "error", "match"),
    [
        (dict(inputs=torch.randn(4, INPUT_SIZE)), ValueError, "3-D"),
        (dict(inputs=torch.randn(1, 4, INPUT_SIZE + 1)), ValueError, "input_size"),
        (dict(k=0), ValueError, "k must be"),
        (dict(k=11), ValueError, "k must be"),
        (dict(warmup=6), ValueError, "warmup"),
        (dict(convention="shlizerman"), ValueError, "unknown convention"),
        (dict(qr_every=0), ValueError, "qr_every"),
        (dict(qr_every=2, convention="aelle"), ValueError, "qr_every"),
        (dict(h0=torch.zeros(1, 7)), ValueError, "h0"),
        (dict(model=nn.LSTM(INPUT_SIZE, HIDDEN, bidirectional=True)), ValueError, "bidirectional"),
        (
            dict(model=nn.LSTM(INPUT_SIZE, HIDDEN, num_layers=2).double(), convention="aelle"),
            ValueError,
            "single-layer",
        ),
        (dict(model=nn.GRU(INPUT_SIZE, HIDDEN, num_layers=2).double(), h0=torch.zeros(1, 1, HIDDEN)), ValueError, "h0"),
        (dict(model=nn.Linear(2, 2)), TypeError, "unsupported model"),
        (dict(model=lambda x, s: s), ValueError, "h0"),
    ],
)
def test_invalid_arguments_are_named(change, error, match):
    arguments = dict(model=_cell_module("lstm"), inputs=torch.randn(1, 6, INPUT_SIZE, dtype=F64))
    arguments.update(change)
    with pytest.raises(error, match=match):
        lyapunov_spectrum(arguments.pop("model"), arguments.pop("inputs"), **arguments)
