"""Exponents of one network per architecture against the sequence length and the number of sequences averaged."""

from pathlib import Path

import torch
import xarray as xr

from lyapunov_rnn.config import LyapunovConfig
from lyapunov_rnn.convergence import experiment_convergence, representative_networks
from lyapunov_rnn.dataset import open_experiment, write_netcdf
from lyapunov_rnn.io import redirect_output
from lyapunov_rnn.plots import plot_convergence, plot_notice, save_figure
from lyapunov_rnn.tasks import load_task

with redirect_output(snakemake.log[0]):
    torch.set_num_threads(snakemake.threads)
    ds = open_experiment(snakemake.input.dataset)
    try:
        representative_networks(ds)
    except ValueError as none_eligible:  # e.g. every network diverged
        reason = f"No convergence analysis: {none_eligible}."
        print(reason)
        write_netcdf(xr.Dataset(attrs={"not_computed": reason}), snakemake.output.dataset)
        figure = plot_notice("Convergence of the Lyapunov exponents", reason)
    else:
        convergence = experiment_convergence(
            ds,
            dict(zip(snakemake.params.networks, snakemake.input.checkpoints, strict=True)),
            load_task(snakemake.input.task),
            LyapunovConfig(**snakemake.params.lyapunov),
            sequences=snakemake.params.sequences,
        )
        write_netcdf(convergence, snakemake.output.dataset)
        figure = plot_convergence(convergence)
    save_figure(figure, Path(snakemake.output.png).with_suffix(""))
