import pytest
import torch

from lyapunov_rnn.devices import resolve_device


def test_a_named_device_is_kept():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device(torch.device("cuda", 1)) == torch.device("cuda", 1)  # naming a device does not need it


@pytest.mark.parametrize("cuda", [True, False])
def test_the_default_is_cuda_where_pytorch_sees_it(monkeypatch, cuda):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    assert resolve_device(None) == torch.device("cuda" if cuda else "cpu")
