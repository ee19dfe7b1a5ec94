"""Build the task's train/test tensors (downloading if the task needs it)."""

from lyapunov_rnn.data import prepare_task
from lyapunov_rnn.io import redirect_output

with redirect_output(snakemake.log[0]):
    prepare_task(snakemake.params.task, snakemake.output[0], cache_dir=snakemake.params.cache)
