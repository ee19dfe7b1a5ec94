"""AeLLE: an autoencoder on Lyapunov spectra that predicts final performance.

Implements the "Autoencoder on Lyapunov Exponents" of Vogt, Zheng & Shlizerman,
*Lyapunov-Guided Representation of Recurrent Neural Network Performance*
(arXiv:2204.04876). Modules:

``model``
    :class:`AeLLE`, the network (encoder, decoder, predictor head).
``preprocessing``
    Spectra to inputs and targets: resampling, standardisation, target
    scaling, the split by network (no torch).
``fit``
    :func:`train_aelle` with an :class:`~lyapunov_rnn.config.AelleConfig`,
    and :class:`AelleFit`, the trained model (inference, save, load);
    :class:`AelleNotFitted` when there is nothing to train on (every network
    diverged), recorded in the model file by :func:`save_not_fitted`.
``adapter``
    A fit applied to an experiment dataset: :func:`apply_to_dataset`,
    :func:`latent_frame`.
``perturbation``
    Decoded spectra along the predictor's direction in latent space, from a
    typical high- and low-accuracy network: :func:`~lyapunov_rnn.aelle.perturbation.latent_perturbation`.

The 2-D embedding of latent codes for figures is
:func:`lyapunov_rnn.analysis.embedding.embed`.
"""

from lyapunov_rnn.aelle.adapter import apply_to_dataset, latent_frame
from lyapunov_rnn.aelle.fit import AelleFit, AelleNotFitted, save_not_fitted, train_aelle
from lyapunov_rnn.aelle.model import AeLLE
from lyapunov_rnn.aelle.preprocessing import resample_spectra, split_networks

__all__ = [
    "AeLLE",
    "AelleFit",
    "AelleNotFitted",
    "apply_to_dataset",
    "latent_frame",
    "resample_spectra",
    "save_not_fitted",
    "split_networks",
    "train_aelle",
]
