"""Train one network of the grid, writing a checkpoint per epoch."""

import torch

from lyapunov_rnn.config import NetworkSpec, TrainingConfig
from lyapunov_rnn.io import atomic_path, redirect_output
from lyapunov_rnn.tasks import load_task
from lyapunov_rnn.train import train_network

with redirect_output(snakemake.log[0]):
    torch.set_num_threads(snakemake.threads)
    metrics = train_network(
        NetworkSpec(**snakemake.params.spec),
        load_task(snakemake.input.task),
        TrainingConfig(**snakemake.params.training),
        snakemake.output.checkpoints,
        work_dir=snakemake.params.work_dir,
    )
    with atomic_path(snakemake.output.metrics) as temporary:
        metrics.to_csv(temporary, index=False)
    print(metrics.to_string(index=False))
