"""The CUDA path: same numbers as on the CPU, no host synchronisation in the Lyapunov loop, training on a GPU.

Skipped where PyTorch sees no CUDA device (CI has none); run on a GPU machine with
``python -m pytest tests/lyapunov/test_cuda.py``.
"""

from __future__ import annotations

import contextlib

import pytest
import torch
from helpers.cells import CELLS, INPUT_SIZE, cell_module, stacked_module

from lyapunov_rnn.checkpoints import checkpoint_name, load_checkpoint
from lyapunov_rnn.config import NetworkSpec, TrainingConfig
from lyapunov_rnn.lyapunov import lyapunov_spectrum
from lyapunov_rnn.train import train_network

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
CUDA = torch.device("cuda")
TRAINING = TrainingConfig(epochs=3, batch_size=16, learning_rate=0.01)


@contextlib.contextmanager
def _no_host_sync():
    """Raise on any operation that makes the host wait for the device."""
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        yield
    finally:
        torch.cuda.set_sync_debug_mode("default")


@pytest.mark.parametrize("name", CELLS)
def test_cuda_spectrum_equals_cpu_spectrum(name):
    module = cell_module(name)
    inputs = torch.randn(3, 40, INPUT_SIZE, dtype=torch.float64, generator=torch.Generator().manual_seed(9))
    on_cpu = lyapunov_spectrum(module, inputs, warmup=5, keep_vectors=True)
    on_gpu = lyapunov_spectrum(module.to(CUDA), inputs.to(CUDA), warmup=5, keep_vectors=True)
    assert on_gpu.exponents.device.type == "cuda"
    torch.testing.assert_close(on_gpu.exponents.cpu(), on_cpu.exponents, atol=1e-9, rtol=0)
    torch.testing.assert_close(on_gpu.stderr.cpu(), on_cpu.stderr, atol=1e-9, rtol=0)


@pytest.mark.parametrize("convention", ["benettin", "reference"])
@pytest.mark.parametrize("name", ["rnn_tanh", "gru", "lstm", "cornn"])
def test_lyapunov_loop_never_waits_for_the_gpu(name, convention):
    module = cell_module(name).to(CUDA)
    inputs = torch.randn(4, 30, INPUT_SIZE, dtype=torch.float64, device=CUDA)
    with _no_host_sync():
        result = lyapunov_spectrum(module, inputs, warmup=5, convention=convention, keep_finite_time=True)
    assert torch.isfinite(result.exponents).all()


def test_multi_layer_spectrum_on_cuda_equals_cpu():
    module = stacked_module("lstm", 2)
    inputs = torch.randn(2, 30, INPUT_SIZE, dtype=torch.float64, generator=torch.Generator().manual_seed(10))
    on_cpu = lyapunov_spectrum(module, inputs)
    on_gpu = lyapunov_spectrum(module.to(CUDA), inputs.to(CUDA))
    torch.testing.assert_close(on_gpu.exponents.cpu(), on_cpu.exponents, atol=1e-9, rtol=0)


def test_training_runs_on_cuda_and_checkpoints_load_on_cpu(tmp_path, toy_task):
    spec = NetworkSpec("lstm", hidden_size=8, init_param=0.5, seed=0)
    metrics = train_network(spec, toy_task, TRAINING, tmp_path, device=CUDA, progress=False)
    assert metrics["val_loss"].iloc[1:].notna().all()
    model, _ = load_checkpoint(tmp_path / checkpoint_name(TRAINING.epochs))
    assert next(model.parameters()).device.type == "cpu"
