"""Generalisation to novel inputs: early prediction fitted on the first input set, scored on the second; its figure."""

from pathlib import Path

from lyapunov_rnn.aelle import AelleFit, AelleNotFitted
from lyapunov_rnn.analysis.generalisation import (
    leading_exponents,
    novel_inputs_embedding,
    novel_inputs_markdown,
    novel_inputs_table,
)
from lyapunov_rnn.analysis.tables import to_markdown, unavailable_table, write_table
from lyapunov_rnn.dataset import open_experiment
from lyapunov_rnn.io import redirect_output
from lyapunov_rnn.plots import plot_notice, plot_novel_inputs, save_figure
from lyapunov_rnn.plots.base import units_of

with redirect_output(snakemake.log[0]):
    ds = open_experiment(snakemake.input.dataset)
    novel = open_experiment(snakemake.input.novel)
    try:
        fit = AelleFit.load(snakemake.input.model)
    except AelleNotFitted as not_fitted:
        reason = f"No generalisation to novel inputs: AeLLE was not trained ({not_fitted})."
        table = unavailable_table(reason)
        summary = to_markdown(table)
        figure = plot_notice("Generalisation to novel inputs", reason)
    else:
        table = novel_inputs_table(ds, novel, fit, stages=snakemake.params.stages)
        leading = leading_exponents(ds, novel)
        summary = novel_inputs_markdown(table, leading)
        method = snakemake.params.method
        points = novel_inputs_embedding(ds, novel, fit, method=method, seed=snakemake.params.seed)
        figure = plot_novel_inputs(points, table, leading, units=units_of(ds), method=method.upper())
    write_table(table, summary, snakemake.output.csv, snakemake.output.markdown)
    save_figure(figure, Path(snakemake.output.png).with_suffix(""))
    print(summary)
