"""2-D embedding (UMAP or PCA) of the AeLLE latent space."""

from pathlib import Path

from lyapunov_rnn.aelle import AelleFit, AelleNotFitted, latent_frame
from lyapunov_rnn.analysis.embedding import embed
from lyapunov_rnn.dataset import open_experiment
from lyapunov_rnn.io import redirect_output
from lyapunov_rnn.plots import plot_latent_embedding, plot_notice, save_figure

with redirect_output(snakemake.log[0]):
    ds = open_experiment(snakemake.input.dataset)
    try:
        fit = AelleFit.load(snakemake.input.model)
    except AelleNotFitted as not_fitted:
        figure = plot_notice("AeLLE latent space", f"AeLLE was not trained: {not_fitted}.")
    else:
        frame = latent_frame(fit, ds)
        latent = frame.filter(regex=r"^z\d+$").to_numpy()
        method = snakemake.params.method
        embedding = embed(latent, method=method, seed=snakemake.params.seed)
        figure = plot_latent_embedding(embedding, frame, method=method.upper())
    save_figure(figure, Path(snakemake.output.png).with_suffix(""))
