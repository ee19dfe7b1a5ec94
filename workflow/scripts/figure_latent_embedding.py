"""2-D embedding (UMAP or PCA) of the AeLLE latent space."""

from pathlib import Path

from lyapunov_rnn.aelle import AelleFit, embed
from lyapunov_rnn.io import redirect_output
from lyapunov_rnn.plots import plot_latent_embedding, save_figure
from lyapunov_rnn.store import open_experiment

with redirect_output(snakemake.log[0]):
    ds = open_experiment(snakemake.input.dataset)
    frame = AelleFit.load(snakemake.input.model).latent_frame(ds)
    latent = frame.filter(regex=r"^z\d+$").to_numpy()
    method = snakemake.params.method
    embedding = embed(latent, method=method, seed=snakemake.params.seed)
    figure = plot_latent_embedding(embedding, frame, method=method.upper())
    save_figure(figure, Path(snakemake.output.png).with_suffix(""))
