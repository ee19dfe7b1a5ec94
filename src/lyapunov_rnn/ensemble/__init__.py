"""Ensemble training: a group of networks of one architecture and size trained as one batched computation.

Each network gets the checkpoints, metrics and resume state that
:func:`lyapunov_rnn.train.train_network` would write for it alone
(:mod:`lyapunov_rnn.ensemble.training`); the batched forward pass is in
:mod:`lyapunov_rnn.ensemble.cells`.
"""

from lyapunov_rnn.ensemble.training import ensemble_compatible, train_ensemble

__all__ = ["ensemble_compatible", "train_ensemble"]
