"""Lyapunov-spectrum analysis of recurrent neural networks (AeLLE).

The main entry point is :func:`lyapunov_spectrum`; submodules hold one job
each: ``data``, ``models``, ``train``, ``lyapunov``, ``spectra``, ``store``,
``aelle``, ``analysis``, ``plots``, ``cli``.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("lyapunov_rnn")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0+unknown"

__all__ = ["LyapunovResult", "__version__", "lyapunov_spectrum"]


def __getattr__(name: str):
    # Imported on first use so that ``import lyapunov_rnn.data`` stays light.
    if name in ("LyapunovResult", "lyapunov_spectrum"):
        from lyapunov_rnn import lyapunov

        return getattr(lyapunov, name)
    raise AttributeError(f"module 'lyapunov_rnn' has no attribute {name!r}")
