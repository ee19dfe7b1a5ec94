"""Figures of the Lyapunov-spectrum analysis (seaborn on matplotlib), one module per subject.

Every ``plot_*`` function builds a fresh :class:`matplotlib.figure.Figure`
and returns it; :func:`save_figure` writes PNG + PDF atomically. Shared
labels, colour scales and the architecture order are in
:mod:`lyapunov_rnn.plots.base`; axis units are read from the data.
"""

from lyapunov_rnn.plots.aelle import plot_latent_embedding, plot_training_curves
from lyapunov_rnn.plots.base import save_figure
from lyapunov_rnn.plots.convergence import plot_convergence
from lyapunov_rnn.plots.evolution import plot_largest_exponent_over_training, plot_spectra_over_training
from lyapunov_rnn.plots.generalisation import plot_novel_inputs
from lyapunov_rnn.plots.network_size import plot_network_size
from lyapunov_rnn.plots.notice import plot_notice
from lyapunov_rnn.plots.perturbation import plot_latent_perturbation
from lyapunov_rnn.plots.prediction import plot_early_prediction
from lyapunov_rnn.plots.spectra import plot_spectra
from lyapunov_rnn.plots.statistics import plot_correlations_over_training, plot_statistic_correlations
from lyapunov_rnn.plots.training import plot_accuracy_vs_init

__all__ = [
    "plot_accuracy_vs_init",
    "plot_convergence",
    "plot_correlations_over_training",
    "plot_early_prediction",
    "plot_largest_exponent_over_training",
    "plot_latent_embedding",
    "plot_latent_perturbation",
    "plot_network_size",
    "plot_notice",
    "plot_novel_inputs",
    "plot_spectra",
    "plot_spectra_over_training",
    "plot_statistic_correlations",
    "plot_training_curves",
    "save_figure",
]
