"""Decoded spectra along the AeLLE predictor's direction in latent space, from a typical high and low network."""

from pathlib import Path

from lyapunov_rnn.aelle import AelleFit
from lyapunov_rnn.aelle.perturbation import latent_perturbation
from lyapunov_rnn.dataset import open_experiment, write_netcdf
from lyapunov_rnn.io import redirect_output
from lyapunov_rnn.plots import plot_latent_perturbation, save_figure

with redirect_output(snakemake.log[0]):
    ds = open_experiment(snakemake.input.dataset)
    result = latent_perturbation(AelleFit.load(snakemake.input.model), ds)
    write_netcdf(result, snakemake.output.netcdf)
    save_figure(plot_latent_perturbation(result), Path(snakemake.output.png).with_suffix(""))
    print(result[["predicted_final_loss", "predicted_final_loss_of_decoded"]].reset_coords(drop=True).to_dataframe())
