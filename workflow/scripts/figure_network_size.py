"""Latent space, AeLLE's predictions and the final loss vs p, coloured by hidden size."""

from pathlib import Path

from lyapunov_rnn.aelle import AelleFit, AelleNotFitted, latent_frame
from lyapunov_rnn.analysis.embedding import embed
from lyapunov_rnn.dataset import open_experiment
from lyapunov_rnn.io import redirect_output
from lyapunov_rnn.plots import plot_network_size, plot_notice, save_figure

with redirect_output(snakemake.log[0]):
    ds = open_experiment(snakemake.input.dataset)
    try:
        fit = AelleFit.load(snakemake.input.model)
    except AelleNotFitted as not_fitted:
        figure = plot_notice("Networks of several sizes", f"AeLLE was not trained: {not_fitted}.")
    else:
        frame = latent_frame(fit, ds, training_checkpoints=True)
        method = snakemake.params.method
        embedding = embed(frame.filter(regex=r"^z\d+$").to_numpy(), method=method, seed=snakemake.params.seed)
        figure = plot_network_size(ds, frame, embedding, method=method.upper())
    save_figure(figure, Path(snakemake.output.png).with_suffix(""))
