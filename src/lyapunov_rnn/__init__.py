"""Lyapunov-spectrum analysis of recurrent neural networks (AeLLE).

task -> train (checkpoint per epoch) -> Lyapunov spectra -> experiment dataset
-> AeLLE -> figures and tables. See README.md.

The main entry point is :func:`lyapunov_spectrum` (:mod:`lyapunov_rnn.lyapunov`).
Modules and subpackages, one job each: ``conventions``, ``io``, ``download``,
``config``, ``dataset``, ``tasks``, ``analysis``, ``plots`` (none of these
imports torch), ``models``, ``lyapunov``, ``checkpoints``, ``train``,
``spectra``, ``aelle``, ``cli``.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("lyapunov_rnn")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0+unknown"

__all__ = ["LyapunovResult", "__version__", "lyapunov_spectrum"]


def __getattr__(name: str):
    # Imported on first use so that ``import lyapunov_rnn.dataset`` (and the other light modules) load no torch.
    if name in ("LyapunovResult", "lyapunov_spectrum"):
        from lyapunov_rnn import lyapunov

        return getattr(lyapunov, name)
    raise AttributeError(f"module 'lyapunov_rnn' has no attribute {name!r}")
