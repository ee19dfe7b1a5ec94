"""Train AeLLE on the experiment's spectra; save the model, latents and training history."""

import torch

from lyapunov_rnn.aelle import train_aelle
from lyapunov_rnn.io import atomic_path, redirect_output
from lyapunov_rnn.store import open_experiment, write_netcdf

with redirect_output(snakemake.log[0]):
    torch.set_num_threads(snakemake.threads)
    options = dict(snakemake.params.aelle)
    options["lr"] = options.pop("learning_rate")
    ds = open_experiment(snakemake.input[0])
    fit = train_aelle(ds, progress=True, **options)
    fit.save(snakemake.output.model)
    write_netcdf(fit.to_dataset(ds), snakemake.output.latent)
    with atomic_path(snakemake.output.history) as temporary:
        fit.history.to_csv(temporary, index=False)
