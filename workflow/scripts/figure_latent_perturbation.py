"""Decoded spectra along the AeLLE predictor's direction in latent space, from a typical high and low network."""

from pathlib import Path

import xarray as xr

from lyapunov_rnn.aelle import AelleFit, AelleNotFitted
from lyapunov_rnn.aelle.perturbation import latent_perturbation
from lyapunov_rnn.dataset import open_experiment, write_netcdf
from lyapunov_rnn.io import redirect_output
from lyapunov_rnn.plots import plot_latent_perturbation, plot_notice, save_figure

with redirect_output(snakemake.log[0]):
    ds = open_experiment(snakemake.input.dataset)
    try:
        fit = AelleFit.load(snakemake.input.model)
    except AelleNotFitted as not_fitted:
        reason = f"AeLLE was not trained: {not_fitted}."
        write_netcdf(xr.Dataset(attrs={"not_fitted": reason}), snakemake.output.netcdf)
        save_figure(plot_notice("Spectra along AeLLE's direction", reason), Path(snakemake.output.png).with_suffix(""))
        print(reason)
    else:
        result = latent_perturbation(fit, ds)
        write_netcdf(result, snakemake.output.netcdf)
        save_figure(plot_latent_perturbation(result), Path(snakemake.output.png).with_suffix(""))
        columns = ["predicted_final_loss", "predicted_final_loss_of_decoded"]
        print(result[columns].reset_coords(drop=True).to_dataframe())
