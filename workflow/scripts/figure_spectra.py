"""Lyapunov spectra of the trained networks, per architecture."""

from pathlib import Path

from lyapunov_rnn.dataset import open_experiment
from lyapunov_rnn.io import redirect_output
from lyapunov_rnn.plots import plot_spectra, save_figure

with redirect_output(snakemake.log[0]):
    ds = open_experiment(snakemake.input[0])
    save_figure(plot_spectra(ds), Path(snakemake.output.png).with_suffix(""))
