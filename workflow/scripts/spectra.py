"""Lyapunov spectra of every checkpoint of one network: the first test sequences, and (output ``novel``) the next."""

from lyapunov_rnn.checkpoints import checkpoint_files
from lyapunov_rnn.config import LyapunovConfig
from lyapunov_rnn.dataset import write_netcdf
from lyapunov_rnn.io import redirect_output
from lyapunov_rnn.spectra import network_spectra
from lyapunov_rnn.tasks import load_task

with redirect_output(snakemake.log[0]):
    checkpoints = checkpoint_files(snakemake.input.checkpoints)
    task = load_task(snakemake.input.task)
    options = LyapunovConfig(**snakemake.params.lyapunov)
    # Input set 0: the first lyapunov.sequences test sequences; 1: the next ones (analysis.novel_inputs).
    outputs = [snakemake.output.first] + ([snakemake.output.novel] if hasattr(snakemake.output, "novel") else [])
    for input_set, path in enumerate(outputs):
        spectra = network_spectra(checkpoints, task, options, input_set=input_set, num_threads=snakemake.threads)
        write_netcdf(spectra, path)
