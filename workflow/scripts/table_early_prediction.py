"""Early prediction of final performance: AeLLE against the baselines."""

from pathlib import Path

from lyapunov_rnn.aelle import AelleFit
from lyapunov_rnn.analysis.early_prediction import early_prediction_table, summary_markdown
from lyapunov_rnn.dataset import open_experiment
from lyapunov_rnn.io import atomic_path, redirect_output
from lyapunov_rnn.plots import plot_early_prediction, save_figure

with redirect_output(snakemake.log[0]):
    ds = open_experiment(snakemake.input.dataset)
    fit = AelleFit.load(snakemake.input.model)
    table = early_prediction_table(ds, fit, stages=snakemake.params.stages)
    with atomic_path(snakemake.output.csv) as temporary:
        table.to_csv(temporary, index=False)
    with atomic_path(snakemake.output.markdown) as temporary:
        temporary.write_text(summary_markdown(table))
    save_figure(plot_early_prediction(table), Path(snakemake.output.png).with_suffix(""))
    print(summary_markdown(table))
