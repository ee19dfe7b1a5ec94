"""Lyapunov spectra of every checkpoint of a training group's networks: the first test sequences, and (outputs
``novel``) the next."""

from lyapunov_rnn.checkpoints import checkpoint_files
from lyapunov_rnn.config import LyapunovConfig
from lyapunov_rnn.dataset import write_netcdf
from lyapunov_rnn.io import redirect_output
from lyapunov_rnn.spectra import group_spectra
from lyapunov_rnn.tasks import load_task

with redirect_output(snakemake.log[0]):
    task = load_task(snakemake.input.task)
    options = LyapunovConfig(**snakemake.params.lyapunov)
    checkpoints = [checkpoint_files(directory) for directory in snakemake.input.checkpoints]
    # Input set 0: the first lyapunov.sequences test sequences; 1: the next ones (analysis.novel_inputs).
    output_sets = [snakemake.output.first] + ([snakemake.output.novel] if hasattr(snakemake.output, "novel") else [])
    for input_set, paths in enumerate(output_sets):
        datasets = group_spectra(checkpoints, task, options, input_set=input_set, num_threads=snakemake.threads)
        for spectra, path in zip(datasets, paths, strict=True):
            write_netcdf(spectra, path)
