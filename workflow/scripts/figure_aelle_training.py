"""AeLLE training curves (or, when it was not trained, why)."""

from pathlib import Path

import pandas as pd

from lyapunov_rnn.aelle import AelleFit, AelleNotFitted
from lyapunov_rnn.io import redirect_output
from lyapunov_rnn.plots import plot_notice, plot_training_curves, save_figure

with redirect_output(snakemake.log[0]):
    try:
        AelleFit.load(snakemake.input.model)
    except AelleNotFitted as not_fitted:
        figure = plot_notice("AeLLE training", f"AeLLE was not trained: {not_fitted}.")
    else:
        figure = plot_training_curves(pd.read_csv(snakemake.input.history))
    save_figure(figure, Path(snakemake.output.png).with_suffix(""))
