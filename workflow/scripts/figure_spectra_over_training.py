"""Lyapunov spectra and the largest exponent over training, per architecture."""

from pathlib import Path

from lyapunov_rnn.dataset import open_experiment
from lyapunov_rnn.io import redirect_output
from lyapunov_rnn.plots import plot_largest_exponent_over_training, plot_spectra_over_training, save_figure

with redirect_output(snakemake.log[0]):
    ds = open_experiment(snakemake.input[0])
    # The early-prediction stages (fractions of training) and the end of training, as epochs.
    last_epoch = int(ds["epoch"].max())
    epochs = [fraction * last_epoch for fraction in (*snakemake.params.stages, 1.0)]
    save_figure(plot_spectra_over_training(ds, epochs), Path(snakemake.output.spectra_png).with_suffix(""))
    save_figure(plot_largest_exponent_over_training(ds), Path(snakemake.output.largest_png).with_suffix(""))
