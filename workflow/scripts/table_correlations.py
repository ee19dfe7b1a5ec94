"""Spearman correlation of spectrum statistics with the final validation loss, at one checkpoint and over training."""

from pathlib import Path

from lyapunov_rnn.analysis.statistics import correlation_table
from lyapunov_rnn.dataset import open_experiment
from lyapunov_rnn.io import atomic_path, redirect_output
from lyapunov_rnn.plots import (
    plot_correlations_over_training,
    plot_notice,
    plot_statistic_correlations,
    save_figure,
)

with redirect_output(snakemake.log[0]):
    ds = open_experiment(snakemake.input[0])
    table = correlation_table(ds)
    with atomic_path(snakemake.output.csv) as temporary:
        table.to_csv(temporary, index=False)
    if table["rho"].isna().all():  # e.g. every network diverged: the table's notes say why
        overall = table.loc[table["architecture"] == "all", "note"].iloc[0]  # all networks, first checkpoint
        reason = f"No rank correlation is defined: {overall} (the column note of tables/correlations.csv says why)."
        print(reason)
        statistic_figure = plot_notice("Spectrum statistics against the final loss", reason)
        over_training_figure = plot_notice("Correlations over training", reason)
    else:
        statistic_figure = plot_statistic_correlations(ds, table=table)
        over_training_figure = plot_correlations_over_training(table, ds)
    save_figure(statistic_figure, Path(snakemake.output.png).with_suffix(""))
    save_figure(over_training_figure, Path(snakemake.output.over_training_png).with_suffix(""))
