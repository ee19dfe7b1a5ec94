"""Spearman correlation of spectrum statistics with the final validation loss."""

from pathlib import Path

from lyapunov_rnn.analysis.statistics import correlation_table
from lyapunov_rnn.dataset import open_experiment
from lyapunov_rnn.io import atomic_path, redirect_output
from lyapunov_rnn.plots import plot_statistic_correlations, save_figure

with redirect_output(snakemake.log[0]):
    ds = open_experiment(snakemake.input[0])
    with atomic_path(snakemake.output.csv) as temporary:
        correlation_table(ds).to_csv(temporary, index=False)
    save_figure(plot_statistic_correlations(ds), Path(snakemake.output.png).with_suffix(""))
