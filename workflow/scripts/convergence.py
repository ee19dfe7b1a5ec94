"""Exponents of one network per architecture against the sequence length and the number of sequences averaged."""

from pathlib import Path

import torch

from lyapunov_rnn.config import LyapunovConfig
from lyapunov_rnn.convergence import experiment_convergence
from lyapunov_rnn.dataset import open_experiment, write_netcdf
from lyapunov_rnn.io import redirect_output
from lyapunov_rnn.plots import plot_convergence, save_figure
from lyapunov_rnn.tasks import load_task

with redirect_output(snakemake.log[0]):
    torch.set_num_threads(snakemake.threads)
    convergence = experiment_convergence(
        open_experiment(snakemake.input.dataset),
        dict(zip(snakemake.params.networks, snakemake.input.checkpoints, strict=True)),
        load_task(snakemake.input.task),
        LyapunovConfig(**snakemake.params.lyapunov),
        sequences=snakemake.params.sequences,
    )
    write_netcdf(convergence, snakemake.output.dataset)
    save_figure(plot_convergence(convergence), Path(snakemake.output.png).with_suffix(""))
