"""Download and verify the task's raw files (mirrors, pinned checksums, retries)."""

from lyapunov_rnn.data import download_raw
from lyapunov_rnn.io import redirect_output

with redirect_output(snakemake.log[0]):
    for path in download_raw(snakemake.params.task, snakemake.params.cache):
        print(f"verified {path}")
