"""Train one training group of the grid as one batched computation, writing each network's checkpoints and metrics."""

from pathlib import Path

import torch
from snakemake.utils import Paramspace

from lyapunov_rnn.config import experiment_config, network_specs, network_table
from lyapunov_rnn.ensemble import train_ensemble
from lyapunov_rnn.io import atomic_path, redirect_output
from lyapunov_rnn.tasks import load_task

with redirect_output(snakemake.log[0]):
    torch.set_num_threads(snakemake.threads)
    # The networks are the outputs' (a group's members are not params: regrouping must not look like a change).
    experiment = experiment_config(snakemake.config)
    ids = Paramspace(network_table(experiment), filename_params="*", single_wildcard="network").instance_patterns
    spec_of = dict(zip(ids, network_specs(experiment), strict=True))
    networks = [Path(path).parent.name for path in snakemake.output.checkpoints]  # networks/<network>/checkpoints
    print(f"training {len(networks)} networks together: {', '.join(networks)}", flush=True)
    all_metrics = train_ensemble(
        [spec_of[network] for network in networks],
        load_task(snakemake.input.task),
        experiment.training,  # what params.settings holds, there for Snakemake to see its changes
        snakemake.output.checkpoints,
        work_dirs=[Path(snakemake.params.resume, network) for network in networks],
        batched=experiment.batched_groups,
    )
    for network, metrics, path in zip(networks, all_metrics, snakemake.output.metrics, strict=True):
        with atomic_path(path) as temporary:
            metrics.to_csv(temporary, index=False)
        print(f"{network}:\n{metrics.to_string(index=False)}", flush=True)
