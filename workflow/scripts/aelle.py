"""Train AeLLE on the experiment's spectra; save the model, latents and training history."""

import torch

from lyapunov_rnn.aelle import apply_to_dataset, train_aelle
from lyapunov_rnn.config import AelleConfig
from lyapunov_rnn.dataset import open_experiment, write_netcdf
from lyapunov_rnn.io import atomic_path, redirect_output

with redirect_output(snakemake.log[0]):
    torch.set_num_threads(snakemake.threads)
    ds = open_experiment(snakemake.input[0])
    fit = train_aelle(ds, AelleConfig(**snakemake.params.aelle), progress=True)
    fit.save(snakemake.output.model)
    write_netcdf(apply_to_dataset(fit, ds), snakemake.output.latent)
    with atomic_path(snakemake.output.history) as temporary:
        fit.history.to_csv(temporary, index=False)
