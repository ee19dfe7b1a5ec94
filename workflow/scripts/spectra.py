"""Lyapunov spectrum of every checkpoint of one network."""

from pathlib import Path

import torch

from lyapunov_rnn.data import load_task
from lyapunov_rnn.io import redirect_output
from lyapunov_rnn.spectra import network_spectra
from lyapunov_rnn.store import write_netcdf

with redirect_output(snakemake.log[0]):
    torch.set_num_threads(snakemake.threads)
    options = dict(snakemake.params.lyapunov)
    checkpoints = sorted(Path(snakemake.input.checkpoints).glob("epoch_*.pt"))
    spectra = network_spectra(
        checkpoints,
        load_task(snakemake.input.task),
        sequences=options["sequences"],
        warmup=options["warmup"],
        k=options["k"],
        convention=options["convention"],
        dtype=getattr(torch, options["dtype"]),
    )
    write_netcdf(spectra, snakemake.output[0])
