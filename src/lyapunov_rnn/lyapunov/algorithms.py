"""The two conventions for Lyapunov spectra, written once against :class:`~lyapunov_rnn.lyapunov.tangent.TangentMap`.

A recurrent network driven by inputs ``x_t`` is the non-autonomous map
``s_t = F(s_{t-1}, x_t)`` on its full dynamical state ``s`` (``h`` for
RNN/GRU/AntisymmetricRNN, ``(h, c)`` for LSTM, ``(y, z)`` for coRNN). Its
Lyapunov exponents are the asymptotic growth rates of the tangent dynamics
``v_t = J_t v_{t-1}`` with ``J_t = dF/ds (s_{t-1}, x_t)``.

Algorithm (``convention="benettin"``, the default): :func:`benettin`
--------------------------------------------------------------------
Benettin et al. (1980) / Shimada & Nagashima (1979) with a QR step:

1. the first ``warmup`` inputs only advance the state;
2. ``Q_0`` = first ``k`` columns of the identity (D x k);
3. for every remaining step: ``Q_t R_t = J_t Q_{t-1}`` (reduced QR, signs
   fixed so that ``diag(R_t) > 0``);
4. ``lambda_j = (1 / steps) * sum_t ln R_t[j, j]`` (nats per step), sorted
   in descending order.

The Jacobian is never materialised: the map applies ``J_t`` to the k
tangent vectors directly (:meth:`TangentMap.push_forward`: for the built-in
cells a few batched GEMMs with the cell's stacked weights plus elementwise
gate derivatives). Tangent vectors are stored as rows, ``V = Q^T`` (B, k, D),
which is the memory layout LAPACK returns Q in, so ``V @ J^T`` is one large
GEMM and no transposition copy is needed. A map without an analytic
``push_forward`` (a step function ``f(x_t, state) -> state`` or a user's
cell) is differentiated by forward-mode autograd (``torch.func.jvp``
vectorised over the tangent vectors with ``vmap``); that generic path is also
the oracle the analytic cells are tested against. ``log R_jj`` are
accumulated in float64 whatever ``dtype`` is.

``qr_every = m > 1`` multiplies ``m`` Jacobians before each QR. This is exact
in exact arithmetic but the trailing directions lose about
``m * (lambda_1 - lambda_k) / ln 10`` decimal digits to the leading one. The
run therefore records the largest spread ``max_j ln R_jj - min_j ln R_jj``
over all QR intervals and, if it exceeds ``ln(1 / eps) / 2`` of the compute
dtype (18.0 for float64, 8.0 for float32) or a value is not finite, warns and
recomputes with ``qr_every=1``. It is safe when
``m * (lambda_1 - lambda_k) < ln(1 / eps) / 2``, e.g. m <= 9 for a float64
spectrum spanning 2 nats per step.

Convention ``"reference"`` (alias ``"aelle"``): :func:`reference`
-----------------------------------------------------------------
``convention="reference"`` (``"aelle"`` is its former name and still
accepted) reproduces ``calc_LEs_an`` of the published AeLLE code
(shlizee/LyapunovAutoEncode, ``lyapunov.py``) so that spectra can be compared
with the papers. It differs from ``"benettin"`` in every point below:

* **Transposed Jacobian.** The reference propagates ``Q <- J_t^T Q``
  (:meth:`TangentMap.pull_back`). The product ``J_1^T J_2^T ... J_T^T``
  applied in time order is the transpose of the product of Jacobians in
  *reverse* time order, which is not the tangent dynamics of the network.
  For constant or two-periodic Jacobians the spectra coincide, but in general
  (e.g. period-3 driving) they differ; the test-suite shows a case.
* **Hidden-only LSTM Jacobian.** For LSTM the reference uses ``dh_t/dh_{t-1}``
  with the cell state ``c`` held fixed (N exponents instead of the 2N of the
  full state ``(h, c)``)::

      A = diag(s'(a_f) c_{t-1}) U_f + diag(s'(a_i) tanh(a_g)) U_i
          + diag(s(a_i) sech^2(a_g)) U_g
      J = diag(s(a_o) sech^2(c_t)) A + diag(s'(a_o) tanh(c_t)) U_o

  which ignores the memory path ``c_{t-1} -> c_t`` and is not the Jacobian of
  the LSTM as a dynamical system. It is the top-left N x N block of the full
  Jacobian: a map's :attr:`~TangentMap.reference_size` ``m`` names the
  leading coordinates the convention keeps, and the rows (B, k, m) are
  padded with zeros to the full state, pulled back and cut to ``m`` columns
  (``([r, 0] @ J)[:, :m] == r @ J[:m, :m]``), see
  :meth:`TangentMap.reference_pull_back` (the LSTM map computes the block
  directly, without the ``c`` half: the same block in fewer operations).
* **coRNN.** The reference keeps only the ``hy`` block and drops ``eps`` and
  the biases (a bug, not a convention). Here ``"reference"`` uses the full
  ``(y, z)`` Jacobian (2N exponents) with the other reference rules, so that
  only the transposition, the base and the time averaging differ.
* **Base 2.** Exponents are in bits per step (``log2``), not nats.
* **Warm-up.** The first ``min(warmup, T)`` inputs advance the state *and*
  propagate ``Q <- J^T Q`` without re-orthonormalisation, followed by one
  QR. For warm-ups longer than about ``ln(1/eps) / (lambda_1 - lambda_k)``
  steps the columns collapse onto the leading direction (or overflow) and
  the trailing exponents depend on rounding, in the reference as here.
* **Replayed inputs.** The measurement then runs over *all* ``T`` inputs from
  ``t = 0``, starting from the state reached after the warm-up, so the
  warm-up inputs are fed twice, and ``lambda_j = sum_t log2 R_t[j, j] / T``.
* **QR every step.** ``qr_every`` must be 1.
* **Sorting.** The reference leaves the exponents in QR-column order; here
  they are sorted in descending order (as in ``"benettin"``).
* **Single layer.** The reference code covers single-layer networks; a
  multi-layer stack (``reference_size`` None) is rejected before any
  computation.

RNN (tanh; relu, which the reference lacks), GRU and AntisymmetricRNN use
their true hidden-state Jacobian in both conventions (the reference's GRU
Jacobian is the true one). A step function uses its full-state Jacobian,
transposed via ``torch.func.vjp``.

Why ``"benettin"`` is the default: it is the standard definition. It
propagates the actual tangent dynamics (``J_t`` in time order), uses the full
state, so LSTM exponents satisfy the sum rule ``sum_j lambda_j =
<ln |det J_t|>``, re-orthonormalises every step (or under the guard above)
and does not feed any input twice. All of this is tested against closed-form
spectra (constant maps, the Henon map, products of Gaussian matrices,
periodically driven networks).
"""

from __future__ import annotations

import math
import warnings
from typing import NamedTuple

import torch
from torch import Tensor
from tqdm.auto import tqdm

from lyapunov_rnn.lyapunov.recorder import _GrowthRecorder, _orthonormalise, resolution_floor
from lyapunov_rnn.lyapunov.tangent import State, TangentMap

__all__ = ["Jitter", "Run", "benettin", "reference", "tangent_dimension"]

class Run(NamedTuple):
    """Outcome of one algorithm run, before averaging.

    Attributes
    ----------
    recorder : _GrowthRecorder
        The accumulated ``log R_jj``.
    rows : Tensor
        (B, k, D_t) final ``Q^T``, signs of its rows not fixed.
    warmup : int
        Warm-up steps actually used.
    steps : int
        Measured steps the exponents average over.
    """

    recorder: _GrowthRecorder
    rows: Tensor
    warmup: int
    steps: int


def tangent_dimension(tangent_map: TangentMap, convention: str) -> int:
    """Dimension ``D_t`` of the tangent space a (canonical) convention uses for ``tangent_map``.

    ``state_size`` for ``"benettin"``, ``reference_size`` for ``"reference"``.

    Raises
    ------
    ValueError
        For ``"reference"`` on a map without a reference block (a multi-layer stack).
    """
    if convention == "benettin":
        return tangent_map.state_size
    size = tangent_map.reference_size
    if size is None:
        raise ValueError(
            "convention='reference' (the reference code) is defined for single-layer networks only; "
            f"{type(tangent_map).__name__} has no reference Jacobian"
        )
    return size


class Jitter:
    """A stand-in for rounding: multiply tensors elementwise by ``1 + scale * z``, z ~ N(0, 1) from a seeded generator.

    Applied to the state and to the tangent vectors after every step, it
    perturbs a run as rounding does (relative errors of every entry at every
    step), only larger (``scale`` a multiple of the machine epsilon), so that
    an exponent that a jittered run changes by more than a tolerance is one
    that rounding (thread count, BLAS, device) changes too.

    Parameters
    ----------
    scale : float
        Relative size of the perturbation (dimensionless).
    device : torch.device
        Where the noise is drawn.
    seed : int
        Seed of the noise, so that the check is itself reproducible.
    """

    def __init__(self, scale: float, device: torch.device, seed: int = 0) -> None:
        self.scale = scale
        self.generator = torch.Generator(device=device).manual_seed(seed)

    def __call__(self, tensor: Tensor) -> Tensor:
        noise = torch.randn(tensor.shape, generator=self.generator, dtype=tensor.dtype, device=tensor.device)
        return tensor.addcmul(tensor, noise, value=self.scale)

    def state(self, state: State) -> State:
        return tuple(self(component) for component in state)


def _identity_rows(batch: int, k: int, size: int, dtype: torch.dtype, device: torch.device) -> Tensor:
    return torch.eye(size, dtype=dtype, device=device)[:k].expand(batch, k, size).contiguous()


def _progress(total: int, enabled: bool, description: str) -> tqdm:
    return tqdm(total=total, disable=not enabled, desc=description, unit="step", leave=False)


def _guard_threshold(dtype: torch.dtype) -> float:
    """Largest safe spread of ln R_jj within one QR interval: ``ln(1/eps) / 2``, the resolution floor's logarithm."""
    return -math.log(resolution_floor(dtype))


def benettin(
    tangent_map: TangentMap,
    drive: Tensor,
    state: State,
    *,
    k: int,
    warmup: int,
    qr_every: int,
    keep_finite_time: bool,
    keep_vectors: bool,
    progress: bool,
    jitter: Jitter | None = None,
) -> Run:
    """The Benettin QR iteration over the full state, ``Q <- qr(J_t Q)`` (nats).

    Parameters
    ----------
    tangent_map : TangentMap
        The map; :meth:`~TangentMap.push_forward` applies ``J_t``.
    drive : Tensor
        (B, T, ...) :meth:`~TangentMap.drive` of the inputs.
    state : tuple of Tensor
        Initial state, components (B, N_c) in the compute dtype.
    k : int
        Number of exponents, ``1 <= k <= D``.
    warmup : int
        Steps that only advance the state, ``0 <= warmup < T``.
    qr_every : int
        Steps between QR factorisations; ``> 1`` is guarded (module docstring):
        an ill-conditioned run warns and is recomputed with ``qr_every=1``.
    keep_finite_time, keep_vectors, progress : bool
        Record per-step rates / the signs of the final vectors; show a
        progress bar.
    jitter : Jitter, optional
        Perturb the state and the tangent vectors after every step (the
        rounding check of :func:`lyapunov_rnn.lyapunov.lyapunov_spectrum`).

    Returns
    -------
    Run
        ``steps = T - warmup``.
    """
    options = (keep_finite_time, keep_vectors, progress, jitter)
    run = _benettin_pass(tangent_map, drive, state, k, warmup, qr_every, *options)
    dtype = state[0].dtype
    if qr_every > 1 and not bool(run.recorder.max_spread <= _guard_threshold(dtype)):
        warnings.warn(
            f"qr_every={qr_every} is ill-conditioned for this system (ln R_jj spread "
            f"{float(run.recorder.max_spread):.3g} > {_guard_threshold(dtype):.3g} within one QR interval); "
            "recomputing with qr_every=1",
            RuntimeWarning,
            stacklevel=3,  # the caller of lyapunov_spectrum
        )
        run = _benettin_pass(tangent_map, drive, state, k, warmup, 1, *options)
    return run


def _benettin_pass(
    tangent_map: TangentMap,
    drive: Tensor,
    state: State,
    k: int,
    warmup: int,
    qr_every: int,
    keep_finite_time: bool,
    keep_vectors: bool,
    progress: bool,
    jitter: Jitter | None,
) -> Run:
    """One unguarded run of :func:`benettin`."""
    batch, total_steps = drive.shape[:2]
    steps = total_steps - warmup
    recorder = _GrowthRecorder(
        batch,
        k,
        steps,
        drive.device,
        log=torch.log,
        keep_finite_time=keep_finite_time,
        track_signs=keep_vectors,
        track_spread=qr_every > 1,
    )
    rows = _identity_rows(batch, k, tangent_map.state_size, state[0].dtype, drive.device)
    with _progress(total_steps, progress, "Lyapunov (benettin)") as bar:
        for t in range(warmup):
            state = tangent_map.advance(drive[:, t], state)
            if jitter is not None:
                state = jitter.state(state)
            bar.update()
        for start in range(0, steps, qr_every):
            stop = min(start + qr_every, steps)
            for t in range(warmup + start, warmup + stop):
                rows, state = tangent_map.push_forward(drive[:, t], state, rows)
                if jitter is not None:
                    rows, state = jitter(rows), jitter.state(state)
                bar.update()
            rows, diag_r, scale = _orthonormalise(rows)
            recorder.record(diag_r, scale, start, stop)
    return Run(recorder, rows, warmup, steps)


def reference(
    tangent_map: TangentMap,
    drive: Tensor,
    state: State,
    *,
    k: int,
    warmup: int,
    keep_finite_time: bool,
    keep_vectors: bool,
    progress: bool,
    jitter: Jitter | None = None,
) -> Run:
    """The reference algorithm (``calc_LEs_an``): ``J^T Q``, un-orthonormalised warm-up, replayed inputs (bits).

    Parameters
    ----------
    tangent_map : TangentMap
        The map; :meth:`~TangentMap.reference_pull_back` applies ``J_t^T``
        restricted to the leading ``reference_size`` coordinates.
    drive : Tensor
        (B, T, ...) :meth:`~TangentMap.drive` of the inputs.
    state : tuple of Tensor
        Initial state, components (B, N_c) in the compute dtype.
    k : int
        Number of exponents, ``1 <= k <= reference_size``.
    warmup : int
        The reference's warm-up (module docstring); ``min(warmup, T)`` is used.
    keep_finite_time, keep_vectors, progress : bool
        As in :func:`benettin`.
    jitter : Jitter, optional
        As in :func:`benettin`.

    Returns
    -------
    Run
        ``warmup = min(warmup, T)``, ``steps = T``.

    Raises
    ------
    ValueError
        For a map without a reference block (a multi-layer stack), before any computation.
    """
    size = tangent_dimension(tangent_map, "reference")
    batch, steps = drive.shape[:2]
    warmup = min(warmup, steps)
    recorder = _GrowthRecorder(
        batch,
        k,
        steps,
        drive.device,
        log=torch.log2,
        keep_finite_time=keep_finite_time,
        track_signs=keep_vectors,
        track_spread=False,
    )
    rows = _identity_rows(batch, k, size, state[0].dtype, drive.device)
    with _progress(warmup + steps, progress, "Lyapunov (reference)") as bar:
        for t in range(warmup):
            rows, state = tangent_map.reference_pull_back(drive[:, t], state, rows)
            if jitter is not None:
                rows, state = jitter(rows), jitter.state(state)
            bar.update()
        rows, diag_r, scale = _orthonormalise(rows)
        # A direction the un-orthonormalised warm-up collapsed below rounding starts the measurement
        # from a basis set by rounding: its exponent is unresolved although this QR is not averaged.
        recorder.check_resolution(diag_r, scale)
        for t in range(steps):
            rows, state = tangent_map.reference_pull_back(drive[:, t], state, rows)
            if jitter is not None:
                rows, state = jitter(rows), jitter.state(state)
            rows, diag_r, scale = _orthonormalise(rows)
            recorder.record(diag_r, scale, t, t + 1)
            bar.update()
    return Run(recorder, rows, warmup, steps)
