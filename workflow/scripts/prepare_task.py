"""Build the task's train/test tensors (downloading if the task needs it)."""

from lyapunov_rnn.io import redirect_output
from lyapunov_rnn.tasks import prepare_task

with redirect_output(snakemake.log[0]):
    prepare_task(snakemake.params.task, snakemake.output[0], cache_dir=snakemake.params.cache)
