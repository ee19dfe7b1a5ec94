"""Lyapunov spectra of recurrent networks driven by input sequences.

One call, for any supported network and a batch of input sequences::

    from lyapunov_rnn.lyapunov import lyapunov_spectrum

    result = lyapunov_spectrum(lstm, inputs, warmup=20)   # inputs (B, T, I)
    result.exponents    # (B, 2N) nats per step, descending: the full (h, c) state
    result.stderr       # standard error of each exponent over time
    result.resolved     # (B, 2N) bool: False where rounding, not the network, sets the value

It accepts ``nn.RNN`` (tanh, relu), ``nn.GRU``, ``nn.LSTM`` (one layer or a
stack), the project's ``AntisymmetricRNN`` and ``CoupledOscillatoryRNN``, a
``SequenceModel`` (its ``.rnn``), any module whose type has a registered
:class:`TangentMap`, and any step function ``f(x_t, state) -> state`` (with
``h0``). ``convention="benettin"`` (default) is the standard QR algorithm on
the true tangent dynamics; ``convention="reference"`` (former name
``"aelle"``) reproduces the published AeLLE reference code. Both, and why
they differ, are described in :mod:`lyapunov_rnn.lyapunov.algorithms`.

A new cell is one class: subclass :class:`TangentMap`, implement ``advance``
(the map; the Jacobian products default to autograd) and register it for the
module type::

    @register_tangent_map(MyCell)
    class MyCellMap(TangentMap):
        def __init__(self, cell, dtype, device): ...  # copy the weights, set component_sizes
        def advance(self, x_t, state): ...            # the next state tuple

Modules: :mod:`~lyapunov_rnn.lyapunov.spectrum` (the call, validation),
:mod:`~lyapunov_rnn.lyapunov.tangent` (the interface and the registry),
:mod:`~lyapunov_rnn.lyapunov.algorithms` (the conventions),
:mod:`~lyapunov_rnn.lyapunov.recorder` (QR step, accumulation),
:mod:`~lyapunov_rnn.lyapunov.torch_rnn` and
:mod:`~lyapunov_rnn.lyapunov.project_cells` (the built-in maps),
:mod:`~lyapunov_rnn.lyapunov.numerics` (stable derivatives, weight products),
:mod:`~lyapunov_rnn.lyapunov.ensemble` (several networks in one run:
:func:`ensemble_spectrum`).
"""

# The map modules register their maps for their module types when imported.
from lyapunov_rnn.lyapunov import project_cells, torch_rnn  # noqa: F401
from lyapunov_rnn.lyapunov.ensemble import ensemble_spectrum
from lyapunov_rnn.lyapunov.spectrum import (
    JITTER_SCALE,
    LyapunovResult,
    lyapunov_spectrum,
    rounding_tolerance,
    tangent_size,
)
from lyapunov_rnn.lyapunov.tangent import TangentMap, register_tangent_map, tangent_map_for

__all__ = [
    "JITTER_SCALE",
    "LyapunovResult",
    "TangentMap",
    "ensemble_spectrum",
    "lyapunov_spectrum",
    "register_tangent_map",
    "rounding_tolerance",
    "tangent_map_for",
    "tangent_size",
]
