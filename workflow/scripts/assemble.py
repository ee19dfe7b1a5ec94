"""Assemble the per-network spectra into the experiment dataset."""

from lyapunov_rnn.data import load_task
from lyapunov_rnn.io import redirect_output
from lyapunov_rnn.store import assemble, write_netcdf

with redirect_output(snakemake.log[0]):
    config = snakemake.params.config
    task = load_task(snakemake.input.task)
    ds = assemble(
        list(zip(snakemake.params.networks, snakemake.input.spectra, strict=True)),
        config=config,
        lyapunov_options=config["lyapunov"],
        sequence_length=task.test_inputs.shape[1],
    )
    write_netcdf(ds, snakemake.output[0])
    print(ds)
