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
"""

from __future__ import annotations

from types import MappingProxyType

__all__ = ["ALIASES", "CONVENTIONS", "UNITS", "canonical_convention"]

#: The canonical names, default first.
CONVENTIONS: tuple[str, ...] = ("benettin", "reference")
#: Accepted alternative names -> canonical name.
ALIASES = MappingProxyType({"aelle": "reference"})
#: Units of the exponents of each convention.
UNITS = MappingProxyType({"benettin": "nats per step", "reference": "bits per step"})


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
