"""Lyapunov spectrum of every checkpoint of one network, driven by one set of test sequences (``params.input_set``)."""

import torch

from lyapunov_rnn.checkpoints import checkpoint_files
from lyapunov_rnn.config import LyapunovConfig
from lyapunov_rnn.dataset import write_netcdf
from lyapunov_rnn.io import redirect_output
from lyapunov_rnn.spectra import network_spectra
from lyapunov_rnn.tasks import load_task

with redirect_output(snakemake.log[0]):
    torch.set_num_threads(snakemake.threads)
    spectra = network_spectra(
        checkpoint_files(snakemake.input.checkpoints),
        load_task(snakemake.input.task),
        LyapunovConfig(**snakemake.params.lyapunov),
        input_set=snakemake.params.input_set,
    )
    write_netcdf(spectra, snakemake.output[0])
