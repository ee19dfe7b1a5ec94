"""The public call :func:`lyapunov_spectrum`, its result and the validation of its arguments."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from typing import Literal

import torch
from torch import Tensor, nn

from lyapunov_rnn.conventions import canonical_convention
from lyapunov_rnn.lyapunov.algorithms import Jitter, Run, benettin, reference, tangent_dimension
from lyapunov_rnn.lyapunov.recorder import resolution_floor
from lyapunov_rnn.lyapunov.tangent import (
    State,
    StepFunction,
    StepFunctionMap,
    TangentMap,
    _recurrent_module,
    tangent_map_for,
)
from lyapunov_rnn.lyapunov.torch_rnn import StackedMap

__all__ = ["JITTER_SCALE", "LyapunovResult", "lyapunov_spectrum", "rounding_tolerance", "tangent_size"]

#: The rounding check's perturbation, in units of the compute dtype's machine epsilon.
JITTER_SCALE = 1024


def rounding_tolerance(dtype: torch.dtype) -> float:
    """How far the rounding check's jittered run may move a resolved exponent: ``8 sqrt(eps)`` per step.

    1.2e-7 for float64, 2.8e-3 for float32 (in the convention's units, nats
    or bits per step): an exponent keeps about half the digits of the dtype
    under perturbations :data:`JITTER_SCALE` times larger than rounding,
    the same standard as the one-step floor (:func:`resolution_floor`).
    """
    return 8 * resolution_floor(dtype)

Convention = Literal["benettin", "reference", "aelle"]


@dataclass
class LyapunovResult:
    """Lyapunov spectrum of a batch of input sequences.

    Attributes
    ----------
    exponents : Tensor
        (B, k) float64 Lyapunov exponents per input sequence, sorted in
        descending order. Nats per step for ``convention="benettin"``, bits
        per step (log2) for ``"reference"``. Always finite for finite inputs:
        a step that annihilates a direction exactly (``R_jj = 0``: a dead ReLU
        unit, or a saturated tanh unit whose derivative underflows) counts as
        ``ln(tiny)`` of the compute dtype (-708.4 nats for float64, -87.3 for
        float32), the resolution limit, instead of ``-inf``.
    resolved : Tensor
        (B, k) bool, in the order of ``exponents``: False where rounding,
        not only the network and its inputs, sets the value. A QR interval
        (or, for ``"reference"``, the QR after its warm-up) whose stretch
        ``|R_jj|`` is at or below ``sqrt(eps) * ||Z||_F``, with ``Z = J_t Q``
        (the product of the interval's Jacobians when ``qr_every > 1``) and
        ``eps`` the machine epsilon of the compute dtype, makes the
        exponent of QR column j and of every later column unresolved: a
        one-step contraction by more than 18.0 nats (float64) or 8.0 nats
        (float32) relative to ``||Z||_F``, the scale of the leading
        directions, leaves fewer than half the digits of that direction,
        and the later columns are measured against it. Read from the ``R``
        of each QR (no extra factorisation). Conservative: it also flags
        exactly computable cases (a diagonal map). With
        ``rounding_check=True``, also False where rounding amplified by the
        dynamics sets the value: a second run whose state and tangent
        vectors are perturbed at every step (relative ``JITTER_SCALE * eps``)
        moves the exponent by more than :func:`rounding_tolerance` (README,
        "Numerical resolution"; docs/numerical-resolution.md). Without it,
        resolved exponents can still carry such amplified rounding.
    stderr : Tensor
        (B, k) float64 standard error of each exponent over time: with
        ``l_j(n) = log R_n[j, j] / m_n`` the growth rate (same units as
        ``exponents``) of QR interval ``n`` of ``m_n`` steps (``m_n = 1``
        when ``qr_every=1``), ``stderr_j = std_n(l_j(n), ddof=1) / sqrt(n_QR)``
        over the ``n_QR`` measured intervals. It ignores the autocorrelation
        of ``l_j`` and so underestimates the uncertainty of correlated
        dynamics; NaN when there is a single interval.
    finite_time : Tensor or None
        (B, steps, k) float64 finite-time exponents: row ``t`` is the running
        estimate over the first ``t + 1`` measured steps (the last row equals
        ``exponents``). With ``qr_every > 1`` an interval's growth is spread
        evenly over its steps. Only with ``keep_finite_time=True``.
    vectors : Tensor or None
        (B, D_t, k) final orthonormal Gram-Schmidt vectors ``Q`` (columns in
        the order of ``exponents``), in the compute dtype, where ``D_t`` is the
        tangent-space dimension. Only with ``keep_vectors=True``.
    state_size : int
        Tangent-space dimension ``D_t``: the full state size (2N for LSTM and
        coRNN) or N for the hidden-only LSTM Jacobian of ``"reference"``
        (:func:`tangent_size`).
    convention : str
        The canonical name, ``"benettin"`` or ``"reference"`` (also when
        called with the alias ``"aelle"``).
    warmup : int
        Number of warm-up steps actually used.
    steps : int
        Number of measured steps the exponents average over.
    """

    exponents: Tensor
    resolved: Tensor
    stderr: Tensor
    finite_time: Tensor | None
    vectors: Tensor | None
    state_size: int
    convention: str
    warmup: int
    steps: int


def _module_device(module: nn.Module) -> torch.device:
    parameter = next(module.parameters(), None)
    return parameter.device if parameter is not None else torch.device("cpu")


def tangent_size(model: nn.Module, convention: str = "benettin") -> int:
    """Dimension of the tangent space, the number of exponents of a full spectrum, of ``model`` in ``convention``.

    Parameters
    ----------
    model : nn.Module
        Any module :func:`lyapunov_spectrum` accepts (a step function has no
        size of its own: it is the width of its ``h0``).
    convention : {"benettin", "reference", "aelle"}
        ``"aelle"`` is an alias of ``"reference"``.

    Returns
    -------
    int
        ``"benettin"``: the full state (2N for LSTM ``(h, c)`` and coRNN
        ``(y, z)``, the sum over layers for a stack, N otherwise).
        ``"reference"``: N for LSTM (hidden-only Jacobian), as ``"benettin"``
        otherwise.

    Raises
    ------
    ValueError
        For an unknown convention, or ``"reference"`` with a multi-layer module.
    TypeError
        For an unsupported model type.
    """
    convention = canonical_convention(convention)
    module = _recurrent_module(model)
    parameter = next(module.parameters(), None)
    dtype = torch.float64 if parameter is None else parameter.dtype
    return tangent_dimension(tangent_map_for(module, dtype, _module_device(module)), convention)


@contextmanager
def _ieee_float32() -> Iterator[None]:
    """Disable TF32 in CUDA matmuls and cuDNN for the duration of the block."""
    matmul = torch.backends.cuda.matmul
    if hasattr(matmul, "fp32_precision"):
        backends = [matmul, torch.backends.cudnn.conv, torch.backends.cudnn.rnn]
        previous = [backend.fp32_precision for backend in backends]
        for backend in backends:
            backend.fp32_precision = "ieee"
        try:
            yield
        finally:
            for backend, value in zip(backends, previous, strict=True):
                backend.fp32_precision = value
    else:
        previous_flags = (matmul.allow_tf32, torch.backends.cudnn.allow_tf32)
        matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
        try:
            yield
        finally:
            matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = previous_flags


# --------------------------------------------------------------------------- #
# Input validation
# --------------------------------------------------------------------------- #
def _batch_first_inputs(module: nn.Module | None, inputs: Tensor) -> Tensor:
    """Return inputs as (B, T, ...), checking their shape against ``module``.

    A module is fed (B, T, I), or (T, B, I) when its ``batch_first`` is
    False; ``I`` is checked against its ``input_size`` where it has one.
    """
    if not isinstance(inputs, Tensor):
        raise TypeError(f"inputs must be a torch.Tensor, got {type(inputs).__name__}")
    if module is None:
        if inputs.ndim < 2:
            raise ValueError(f"inputs for a step function must be (B, T, ...), got shape {tuple(inputs.shape)}")
        return inputs
    batch_first = getattr(module, "batch_first", True)
    layout = "(B, T, I)" if batch_first else "(T, B, I)"
    if inputs.ndim != 3:
        raise ValueError(f"inputs must be 3-D {layout} for {type(module).__name__}, got shape {tuple(inputs.shape)}")
    input_size = getattr(module, "input_size", None)
    if input_size is not None and inputs.shape[-1] != input_size:
        raise ValueError(
            f"inputs have {inputs.shape[-1]} features but {type(module).__name__} expects input_size={input_size}"
        )
    return inputs if batch_first else inputs.transpose(0, 1)


def _check_finite(name: str, values: Tensor) -> None:
    """Raise ``ValueError`` when ``values`` hold NaN or infinity.

    Non-finite inputs do not fail loudly by themselves: an infinite input
    saturates every unit and gives finite, meaningless exponents (the
    resolution floor), a NaN input gives NaN exponents.
    """
    finite = torch.isfinite(values)
    if not bool(finite.all()):
        bad = (~finite).nonzero()[0].tolist()
        raise ValueError(
            f"{name} contain {int((~finite).sum())} non-finite values (NaN or infinity), the first at index "
            f"{tuple(bad)}; the Lyapunov spectrum of non-finite data is not defined"
        )


def _initial_state(
    h0: Tensor | Sequence[Tensor] | None, tangent_map: TangentMap, batch: int, dtype: torch.dtype, device: torch.device
) -> State:
    """Split/validate ``h0`` into the map's state components, each (B, N_c)."""
    sizes = tangent_map.component_sizes
    if h0 is None:
        return tuple(torch.zeros(batch, size, dtype=dtype, device=device) for size in sizes)
    if isinstance(h0, Tensor):
        flat = h0[0] if h0.ndim == 3 and h0.shape[0] == 1 else h0
        if flat.shape != (batch, tangent_map.state_size):
            raise ValueError(
                f"h0 must have shape ({batch}, {tangent_map.state_size}) (the full state, components {sizes} "
                f"concatenated), got {tuple(h0.shape)}"
            )
        return tuple(part.to(device=device, dtype=dtype) for part in flat.split(list(sizes), dim=-1))
    components = tuple(h0)
    if len(components) != len(sizes):
        raise ValueError(f"h0 must have {len(sizes)} components of sizes {sizes}, got {len(components)}")
    state = []
    for component, size in zip(components, sizes, strict=True):
        flat = component[0] if component.ndim == 3 and component.shape[0] == 1 else component
        if flat.shape != (batch, size):
            raise ValueError(f"each h0 component must be ({batch}, {size}), got {tuple(component.shape)}")
        state.append(flat.to(device=device, dtype=dtype))
    return tuple(state)


def _check_options(convention: str, k: int | None, size: int, warmup: int, steps: int, qr_every: int) -> int:
    """Validate the scalar options; return ``k``."""
    k = size if k is None else k
    if not 1 <= k <= size:
        raise ValueError(f"k must be between 1 and the tangent-space dimension {size}, got {k}")
    if warmup < 0:
        raise ValueError(f"warmup must be >= 0, got {warmup}")
    if convention == "benettin" and warmup >= steps:
        raise ValueError(f"warmup={warmup} leaves no measured step of the T={steps} inputs")
    if qr_every < 1:
        raise ValueError(f"qr_every must be >= 1, got {qr_every}")
    if convention == "reference" and qr_every != 1:
        raise ValueError("convention='reference' orthonormalises every step; qr_every must be 1")
    return k


# --------------------------------------------------------------------------- #
# Public entry point
# --------------------------------------------------------------------------- #
def lyapunov_spectrum(
    model: nn.Module | StepFunction,
    inputs: Tensor,
    *,
    k: int | None = None,
    warmup: int = 0,
    h0: Tensor | Sequence[Tensor] | None = None,
    qr_every: int = 1,
    dtype: torch.dtype = torch.float64,
    convention: Convention = "benettin",
    keep_finite_time: bool = False,
    keep_vectors: bool = False,
    rounding_check: bool = False,
    progress: bool = False,
) -> LyapunovResult:
    """Lyapunov spectrum of a recurrent network driven by ``inputs``.

    Parameters
    ----------
    model : nn.Module or callable
        ``nn.RNN`` (tanh or relu), ``nn.LSTM``, ``nn.GRU`` (unidirectional,
        any ``batch_first``/``bias``; with ``num_layers > 1`` the state is
        every layer's state stacked, layer 0 first, ``"benettin"`` only),
        :class:`~lyapunov_rnn.models.AntisymmetricRNN`,
        :class:`~lyapunov_rnn.models.CoupledOscillatoryRNN`, a
        :class:`~lyapunov_rnn.models.SequenceModel` (its ``.rnn`` is used),
        any module with a map registered by
        :func:`~lyapunov_rnn.lyapunov.register_tangent_map`, or a step
        function ``f(x_t, state) -> next_state`` with ``state`` (B, D),
        differentiated by forward-mode autograd (``h0`` required).
    inputs : Tensor
        (B, T, I) for batch-first modules, (T, B, I) for ``batch_first=False``;
        (B, T, ...) for a step function (``x_t = inputs[:, t]``).
    k : int, optional
        Number of leading exponents, ``1 <= k <= D_t``; default all.
    warmup : int
        ``"benettin"``: steps that only advance the state (``< T``).
        ``"reference"``: the reference's warm-up, see
        :mod:`lyapunov_rnn.lyapunov.algorithms`.
    h0 : Tensor or sequence of Tensor, optional
        Initial state: a (B, D) tensor (components concatenated, e.g.
        ``[h, c]`` for LSTM, ``[y, z]`` for coRNN) or a tuple of components
        in the module's order, each (B, N) or PyTorch's (1, B, N). For a
        multi-layer module: the (B, D) stacked state (``[h_0, c_0, h_1, c_1,
        ...]`` for LSTM) or PyTorch's ``h0`` (L, B, N) / ``(h0, c0)``. Default
        zeros; required for a step function.
    qr_every : int
        Steps between QR factorisations (``"benettin"`` only). Values > 1 are
        guarded; see :mod:`lyapunov_rnn.lyapunov.algorithms` for when they
        are safe.
    dtype : torch.dtype
        Compute dtype (a copy of the weights is cast to it). The logarithms
        are always accumulated in float64.
    convention : {"benettin", "reference", "aelle"}
        ``"benettin"``: standard algorithm, nats per step. ``"reference"``
        (``"aelle"`` is its former name): the reference implementation of
        the AeLLE papers, bits per step.
    keep_finite_time, keep_vectors : bool
        Also return the finite-time exponents / the final vectors.
    rounding_check : bool
        Compute the spectrum a second time with the state and the tangent
        vectors perturbed after every step by relative ``JITTER_SCALE * eps``
        (seeded, so reproducible), and mark the exponents it moves by more
        than :func:`rounding_tolerance` as unresolved: the dynamics amplify
        rounding in them (thread count, BLAS or device would change them).
        Doubles the cost; the exponents themselves are those of the first,
        unperturbed run.
    progress : bool
        Show a progress bar over time steps.

    Returns
    -------
    LyapunovResult
        Exponents (B, k) sorted descending, their standard errors and the
        optional extras, all on the device of the model's parameters.

    Raises
    ------
    ValueError
        For non-finite (NaN or infinite) inputs, ``h0`` or model parameters,
        and for malformed inputs or options (shape, input size, ``k``,
        ``warmup``, ``qr_every``, ``convention``, ``"reference"`` with a
        multi-layer module, bidirectional modules).
    TypeError
        For an unsupported model type.
    """
    convention = canonical_convention(convention)
    if isinstance(model, nn.Module):
        module = _recurrent_module(model)
        device = _module_device(module)
        tangent_map = tangent_map_for(module, dtype, device)
        sequence = _batch_first_inputs(module, inputs).to(device=device, dtype=dtype)
    elif callable(model):
        if not isinstance(h0, Tensor) or h0.ndim != 2:
            raise ValueError("a step function needs the initial state h0 as a (B, D) tensor")
        device = h0.device
        tangent_map = StepFunctionMap(model, h0.shape[1])
        sequence = _batch_first_inputs(None, inputs).to(device=device, dtype=dtype)
    else:
        raise TypeError(f"model must be an nn.Module or a step function, got {type(model).__name__}")
    _check_finite("inputs", sequence)
    if isinstance(model, nn.Module):
        for name, parameter in module.named_parameters():
            _check_finite(f"the parameters {name!r} of the model (a diverged network?)", parameter.detach())
    batch, total_steps = sequence.shape[:2]
    size = tangent_dimension(tangent_map, convention)
    if isinstance(tangent_map, StackedMap) and h0 is not None and not (isinstance(h0, Tensor) and h0.ndim == 2):
        h0 = tangent_map.flat_h0(h0, batch)
    k = _check_options(convention, k, size, warmup, total_steps, qr_every)
    state = _initial_state(h0, tangent_map, batch, dtype, device)
    for component in state:
        _check_finite("h0", component)

    options = dict(k=k, warmup=warmup, keep_finite_time=keep_finite_time, keep_vectors=keep_vectors, progress=progress)
    with torch.no_grad(), _ieee_float32():
        drive = tangent_map.drive(sequence)
        algorithm = reference if convention == "reference" else partial(benettin, qr_every=qr_every)
        run = algorithm(tangent_map, drive, state, **options)
        if rounding_check:
            jitter = Jitter(JITTER_SCALE * torch.finfo(dtype).eps, device)
            quiet = dict(options, keep_finite_time=False, keep_vectors=False)
            jittered = algorithm(tangent_map, drive, state, **quiet, jitter=jitter)
            moved = (run.recorder.total - jittered.recorder.total).abs() / run.steps
            run.recorder.lost |= moved > rounding_tolerance(dtype)
    return _result(run, convention, size, keep_vectors)


def _result(run: Run, convention: str, size: int, keep_vectors: bool) -> LyapunovResult:
    """Average, sort descending and package the recorded growth."""
    recorder, rows = run.recorder, run.rows
    exponents = recorder.total / run.steps
    order = exponents.argsort(dim=-1, descending=True)
    finite_time = recorder.finite_time()
    vectors = None
    if keep_vectors:
        signed = rows.mT * recorder.sign.to(rows.dtype)[:, None, :]
        vectors = signed.gather(-1, order[:, None, :].expand_as(signed))
    return LyapunovResult(
        exponents=exponents.gather(-1, order),
        resolved=(~recorder.lost).gather(-1, order),
        stderr=recorder.stderr().gather(-1, order),
        finite_time=None if finite_time is None else finite_time.gather(-1, order[:, None, :].expand_as(finite_time)),
        vectors=vectors,
        state_size=size,
        convention=convention,
        warmup=run.warmup,
        steps=run.steps,
    )
