"""One table of per-epoch training metrics for all networks."""

import pandas as pd

from lyapunov_rnn.io import atomic_path, redirect_output

with redirect_output(snakemake.log[0]):
    frames = [
        pd.read_csv(path).assign(network=network)
        for network, path in zip(snakemake.params.networks, snakemake.input, strict=True)
    ]
    with atomic_path(snakemake.output[0]) as temporary:
        pd.concat(frames, ignore_index=True).to_csv(temporary, index=False)
