import pytest
import torch

from lyapunov_rnn.models import (
    ARCHITECTURES,
    AntisymmetricRNN,
    CoupledOscillatoryRNN,
    SequenceModel,
    initialize_uniform,
)


@pytest.mark.parametrize("architecture", ARCHITECTURES)
@pytest.mark.parametrize("readout", ["last", "every"])
def test_sequence_model_output_shapes(architecture, readout):
    model = SequenceModel(architecture, 3, 8, 5, readout=readout)
    outputs = model(torch.randn(4, 7, 3))
    assert outputs.shape == ((4, 5) if readout == "last" else (4, 7, 5))


def test_unknown_architecture_is_named():
    with pytest.raises(ValueError, match="'transformer'"):
        SequenceModel("transformer", 3, 8, 5)


@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_uniform_init_bounds_every_recurrent_and_input_weight(architecture):
    model = SequenceModel(architecture, 3, 16, 2, bias=True)
    initialize_uniform(model, 0.3, torch.Generator().manual_seed(1))
    weights = [p for name, p in model.rnn.named_parameters() if name.startswith("weight")]
    assert len(weights) >= 2
    for weight in weights:
        assert weight.abs().max() <= 0.3
        assert weight.abs().max() > 0.25  # drawn from the full range, not the default init
    with pytest.raises(ValueError, match="positive"):
        initialize_uniform(model, 0.0, torch.Generator())


def test_asrnn_step_matches_its_definition():
    cell = AntisymmetricRNN(2, 4, eps=0.1, gamma=0.2, bias=True)
    x, h = torch.randn(3, 2), torch.randn(3, 4)
    W, V, b = cell.weight_hh, cell.weight_ih, cell.bias
    expected = h + 0.1 * torch.tanh(h @ (W - W.T - 0.2 * torch.eye(4)).T + x @ V.T + b)
    (h_next,) = cell.step(x, (h,))
    torch.testing.assert_close(h_next, expected)


def test_cornn_step_is_the_imex_discretisation():
    cell = CoupledOscillatoryRNN(2, 4, dt=0.1, gamma=2.0, eps=3.0)
    x, y, z = torch.randn(3, 2), torch.randn(3, 4), torch.randn(3, 4)
    a = y @ cell.weight_hy.T + z @ cell.weight_hz.T + x @ cell.weight_ih.T
    z_next = z + 0.1 * (torch.tanh(a) - 2.0 * y - 3.0 * z)
    y_next, z_out = cell.step(x, (y, z))
    torch.testing.assert_close(z_out, z_next)
    torch.testing.assert_close(y_next, y + 0.1 * z_next)


@pytest.mark.parametrize("cls", [AntisymmetricRNN, CoupledOscillatoryRNN])
def test_custom_cells_follow_batch_first(cls):
    cell_bf = cls(2, 4, batch_first=True)
    cell_tf = cls(2, 4, batch_first=False)
    cell_tf.load_state_dict(cell_bf.state_dict())
    x = torch.randn(3, 5, 2)
    out_bf, state_bf = cell_bf(x)
    out_tf, state_tf = cell_tf(x.transpose(0, 1))
    torch.testing.assert_close(out_bf, out_tf.transpose(0, 1))
    torch.testing.assert_close(state_bf[0], state_tf[0])


@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_unit_uniform_input_init_is_the_reference_codes(architecture):
    model = SequenceModel(architecture, 3, 16, 2)
    initialize_uniform(model, 0.3, torch.Generator().manual_seed(1), input_init="unit_uniform")
    for name, weight in model.rnn.named_parameters():
        if name.startswith("weight_ih"):
            assert weight.min() >= 0 and weight.max() <= 1 and weight.max() > 0.9  # U(0, 1)
        elif name.startswith("weight"):
            assert weight.abs().max() <= 0.3 and weight.abs().max() > 0.25  # U(-p, p)
    with pytest.raises(ValueError, match="input_init"):
        initialize_uniform(model, 0.3, torch.Generator(), input_init="normal")


def test_custom_cell_biases_follow_the_reference_initialisation():
    torch.manual_seed(0)
    asrnn = AntisymmetricRNN(28, 64, bias=True)
    assert asrnn.bias.abs().max() <= 1 / 28**0.5 and asrnn.bias.std() > 0.05  # nn.Linear(28, 64)'s bias
    cornn = CoupledOscillatoryRNN(28, 64, bias=True)
    bound = 2 / 64**0.5 + 1 / 28**0.5  # sum of three nn.Linear biases
    assert cornn.bias.abs().max() <= bound and cornn.bias.std() > 0.1
    assert AntisymmetricRNN(28, 64).bias is None and CoupledOscillatoryRNN(28, 64).bias is None
