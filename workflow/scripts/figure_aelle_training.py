"""AeLLE training curves."""

from pathlib import Path

import pandas as pd

from lyapunov_rnn.io import redirect_output
from lyapunov_rnn.plots import plot_training_curves, save_figure

with redirect_output(snakemake.log[0]):
    history = pd.read_csv(snakemake.input[0])
    save_figure(plot_training_curves(history), Path(snakemake.output.png).with_suffix(""))
