"""Names and units of the Lyapunov conventions (no torch: the dataset layer reads them too).

``"benettin"``
    The standard algorithm: tangent dynamics ``Q <- qr(J_t Q)`` in time order
    over the full state, natural logarithm: exponents in nats per step.
``"reference"``
    The published reference code of the AeLLE papers (``calc_LEs_an`` of
    shlizee/LyapunovAutoEncode): ``J_t^T Q``, hidden-only LSTM Jacobian,
    base-2 logarithm: exponents in bits per step. Its former name
    ``"aelle"`` is accepted everywhere as an alias.

The algorithms themselves are in :mod:`lyapunov_rnn.lyapunov.algorithms`.
:func:`spectrum_size` gives the number of exponents of a full spectrum of
each architecture from the configuration alone, so that the workflow can
check ``lyapunov.k`` before any network exists.
"""

from __future__ import annotations

from types import MappingProxyType

__all__ = ["ALIASES", "CONVENTIONS", "STATE_COMPONENTS", "UNITS", "canonical_convention", "spectrum_size"]

#: The canonical names, default first.
CONVENTIONS: tuple[str, ...] = ("benettin", "reference")
#: Accepted alternative names -> canonical name.
ALIASES = MappingProxyType({"aelle": "reference"})
#: Units of the exponents of each convention.
UNITS = MappingProxyType({"benettin": "nats per step", "reference": "bits per step"})
#: Vectors of N hidden units in the recurrent state of each architecture's cell: LSTM (h, c) and coRNN (y, z) have two.
STATE_COMPONENTS = MappingProxyType({"rnn": 1, "lstm": 2, "gru": 1, "asrnn": 1, "cornn": 2})


def canonical_convention(name: str) -> str:
    """The canonical name of a convention (``"aelle"`` -> ``"reference"``).

    Raises
    ------
    ValueError
        For an unknown name, listing the accepted ones.
    """
    canonical = ALIASES.get(name, name)
    if canonical not in CONVENTIONS:
        accepted = [*CONVENTIONS, *ALIASES]
        raise ValueError(f"unknown convention {name!r}; expected one of {accepted}")
    return canonical


def spectrum_size(architecture: str, hidden_size: int, convention: str = "benettin") -> int:
    """Number of exponents of a full spectrum of a single-layer network (the tangent-space dimension).

    The same number as :func:`lyapunov_rnn.lyapunov.tangent_size` of the
    built network, known from the configuration alone (no torch).

    Parameters
    ----------
    architecture : str
        A key of :data:`STATE_COMPONENTS` (``rnn``, ``lstm``, ``gru``, ``asrnn``, ``cornn``).
    hidden_size : int
        N, hidden units.
    convention : str
        A convention or an alias of one.

    Returns
    -------
    int
        ``"benettin"``: the full state, 2N for LSTM and coRNN, N otherwise.
        ``"reference"``: N for LSTM (the reference code's hidden-only
        Jacobian), as ``"benettin"`` otherwise.

    Raises
    ------
    ValueError
        For an unknown architecture or convention.
    """
    if architecture not in STATE_COMPONENTS:
        raise ValueError(f"unknown architecture {architecture!r}; expected one of {list(STATE_COMPONENTS)}")
    if canonical_convention(convention) == "reference" and architecture == "lstm":
        return hidden_size
    return STATE_COMPONENTS[architecture] * hidden_size
