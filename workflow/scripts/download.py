"""Download and verify the task's raw files (mirrors, pinned checksums, retries)."""

from lyapunov_rnn.io import redirect_output
from lyapunov_rnn.tasks import download_raw

with redirect_output(snakemake.log[0]):
    for path in download_raw(snakemake.params.task, snakemake.params.cache):
        print(f"verified {path}")
