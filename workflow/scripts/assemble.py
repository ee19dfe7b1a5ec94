"""Assemble the per-network spectra into the experiment dataset."""

from lyapunov_rnn.config import experiment_config
from lyapunov_rnn.dataset import assemble, write_netcdf
from lyapunov_rnn.io import redirect_output
from lyapunov_rnn.tasks import read_task_shape

with redirect_output(snakemake.log[0]):
    config = experiment_config(snakemake.params.config)
    ds = assemble(
        list(zip(snakemake.params.networks, snakemake.input.spectra, strict=True)),
        config=config,
        sequence_length=read_task_shape(snakemake.input.task).sequence_length,
    )
    write_netcdf(ds, snakemake.output[0])
    print(ds)
