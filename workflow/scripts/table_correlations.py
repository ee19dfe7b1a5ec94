"""Spearman correlation of spectrum statistics with the final validation loss, at one checkpoint and over training."""

from pathlib import Path

from lyapunov_rnn.analysis.statistics import correlation_table
from lyapunov_rnn.dataset import open_experiment
from lyapunov_rnn.io import atomic_path, redirect_output
from lyapunov_rnn.plots import plot_correlations_over_training, plot_statistic_correlations, save_figure

with redirect_output(snakemake.log[0]):
    ds = open_experiment(snakemake.input[0])
    table = correlation_table(ds)
    with atomic_path(snakemake.output.csv) as temporary:
        table.to_csv(temporary, index=False)
    save_figure(plot_statistic_correlations(ds, table=table), Path(snakemake.output.png).with_suffix(""))
    save_figure(plot_correlations_over_training(table, ds), Path(snakemake.output.over_training_png).with_suffix(""))
