"""Early prediction of final performance: AeLLE against the baselines (or, without AeLLE, why there is none)."""

from pathlib import Path

from lyapunov_rnn.aelle import AelleFit, AelleNotFitted
from lyapunov_rnn.analysis.early_prediction import early_prediction_table, summary_markdown
from lyapunov_rnn.analysis.tables import to_markdown, unavailable_table, write_table
from lyapunov_rnn.dataset import open_experiment
from lyapunov_rnn.io import redirect_output
from lyapunov_rnn.plots import plot_early_prediction, plot_notice, save_figure

with redirect_output(snakemake.log[0]):
    ds = open_experiment(snakemake.input.dataset)
    try:
        fit = AelleFit.load(snakemake.input.model)
    except AelleNotFitted as not_fitted:
        reason = f"No early prediction: AeLLE was not trained ({not_fitted})."
        table = unavailable_table(reason)
        summary = to_markdown(table)
        figure = plot_notice("Early prediction of the final loss", reason)
    else:
        table = early_prediction_table(ds, fit, stages=snakemake.params.stages)
        summary = summary_markdown(table)
        figure = plot_early_prediction(table)
    write_table(table, summary, snakemake.output.csv, snakemake.output.markdown)
    save_figure(figure, Path(snakemake.output.png).with_suffix(""))
    print(summary)
