"""Options, dtypes, layouts and the errors of :func:`lyapunov_spectrum`."""

from __future__ import annotations

import math

import pytest
import torch
from helpers.cells import F64, HIDDEN, INPUT_SIZE, cell_module, linear_map
from torch import nn

from lyapunov_rnn.lyapunov import LyapunovResult, lyapunov_spectrum
from lyapunov_rnn.models import SequenceModel


def test_qr_every_is_exact_when_well_conditioned():
    module = cell_module("gru")
    inputs = torch.randn(2, 41, INPUT_SIZE, dtype=F64, generator=torch.Generator().manual_seed(12))
    every_step = lyapunov_spectrum(module, inputs, warmup=3)
    blocked = lyapunov_spectrum(module, inputs, warmup=3, qr_every=4, keep_finite_time=True)
    torch.testing.assert_close(blocked.exponents, every_step.exponents, atol=1e-10, rtol=0)
    assert blocked.finite_time.shape == (2, 38, HIDDEN)
    torch.testing.assert_close(blocked.finite_time[:, -1], blocked.exponents, atol=1e-12, rtol=0)


def test_ill_conditioned_qr_every_warns_and_falls_back():
    matrix = torch.diag(torch.tensor([math.exp(3.0), math.exp(-3.0)], dtype=F64))
    with pytest.warns(RuntimeWarning, match="qr_every=10") as caught:
        result = lyapunov_spectrum(
            linear_map(matrix), torch.zeros(1, 40, 1), h0=torch.ones(1, 2, dtype=F64), qr_every=10
        )
    torch.testing.assert_close(result.exponents[0], torch.tensor([3.0, -3.0], dtype=F64), atol=1e-12, rtol=0)
    (warning,) = [record for record in caught if "qr_every" in str(record.message)]
    assert warning.filename == __file__  # it points at the caller's line


def test_float32_model_and_inputs():
    module = cell_module("lstm")
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
    module = cell_module("lstm")
    inputs = torch.randn(2, 10, INPUT_SIZE, dtype=F64)
    h, c = torch.randn(2, HIDDEN, dtype=F64), torch.randn(2, HIDDEN, dtype=F64)
    flat = lyapunov_spectrum(module, inputs, h0=torch.cat((h, c), dim=-1))
    pytorch_layout = lyapunov_spectrum(module, inputs, h0=(h[None], c[None]))
    torch.testing.assert_close(flat.exponents, pytorch_layout.exponents)


def test_progress_bar_runs():
    result = lyapunov_spectrum(cell_module("rnn_tanh"), torch.randn(1, 5, INPUT_SIZE, dtype=F64), progress=True)
    assert isinstance(result, LyapunovResult)


@pytest.mark.parametrize(
    ("change", "error", "match"),
    [
        (dict(inputs=torch.randn(4, INPUT_SIZE)), ValueError, "3-D"),
        (dict(inputs=torch.randn(1, 4, INPUT_SIZE + 1)), ValueError, "input_size"),
        (dict(k=0), ValueError, "k must be"),
        (dict(k=11), ValueError, "k must be"),
        (dict(k=6, convention="reference"), ValueError, "k must be"),
        (dict(warmup=6), ValueError, "warmup"),
        (dict(convention="shlizerman"), ValueError, "unknown convention"),
        (dict(qr_every=0), ValueError, "qr_every"),
        (dict(qr_every=2, convention="aelle"), ValueError, "qr_every"),
        (dict(qr_every=2, convention="reference"), ValueError, "qr_every"),
        (dict(h0=torch.zeros(1, 7)), ValueError, "h0"),
        (dict(model=nn.LSTM(INPUT_SIZE, HIDDEN, bidirectional=True)), ValueError, "bidirectional"),
        (
            dict(model=nn.LSTM(INPUT_SIZE, HIDDEN, num_layers=2).double(), convention="aelle"),
            ValueError,
            "single-layer",
        ),
        (
            dict(model=nn.GRU(INPUT_SIZE, HIDDEN, num_layers=2).double(), convention="reference"),
            ValueError,
            "single-layer",
        ),
        (dict(model=nn.GRU(INPUT_SIZE, HIDDEN, num_layers=2).double(), h0=torch.zeros(1, 1, HIDDEN)), ValueError, "h0"),
        (dict(model=nn.Linear(2, 2)), TypeError, "unsupported model"),
        (dict(model=lambda x, s: s), ValueError, "h0"),
    ],
)
def test_invalid_arguments_are_named(change, error, match):
    arguments = dict(model=cell_module("lstm"), inputs=torch.randn(1, 6, INPUT_SIZE, dtype=F64))
    arguments.update(change)
    with pytest.raises(error, match=match):
        lyapunov_spectrum(arguments.pop("model"), arguments.pop("inputs"), **arguments)


def _with_value(shape: tuple[int, ...], index: tuple[int, ...], value: float) -> torch.Tensor:
    tensor = torch.randn(*shape, dtype=F64, generator=torch.Generator().manual_seed(3))
    tensor[index] = value
    return tensor


@pytest.mark.parametrize("value", [math.inf, -math.inf, math.nan], ids=["inf", "-inf", "nan"])
def test_non_finite_data_is_an_error(value):
    # Unchecked, an infinite input saturated every unit and gave finite exponents (-71.5), a NaN one NaN exponents.
    module = cell_module("lstm")
    with pytest.raises(ValueError, match=r"inputs contain 1 non-finite values .* index \(0, 2, 1\)"):
        lyapunov_spectrum(module, _with_value((1, 6, INPUT_SIZE), (0, 2, 1), value))
    with pytest.raises(ValueError, match="h0 contain 1 non-finite"):
        inputs = torch.randn(1, 6, INPUT_SIZE, dtype=F64)
        lyapunov_spectrum(module, inputs, h0=_with_value((1, 2 * HIDDEN), (0, 0), value))
    diverged = cell_module("gru")
    with torch.no_grad():
        diverged.weight_hh_l0[0, 0] = value
    with pytest.raises(ValueError, match="parameters 'weight_hh_l0' of the model"):
        lyapunov_spectrum(diverged, torch.randn(1, 6, INPUT_SIZE, dtype=F64))
