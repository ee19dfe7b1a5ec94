"""Train AeLLE on the experiment's spectra; save the model, latents and training history.

When it cannot be trained (e.g. every network diverged), the model file records why, the latent codes and the history
are empty, and the rules downstream say so instead of failing.
"""

import pandas as pd
import torch
import xarray as xr

from lyapunov_rnn.aelle import AelleNotFitted, apply_to_dataset, save_not_fitted, train_aelle
from lyapunov_rnn.aelle.fit import HISTORY_COLUMNS
from lyapunov_rnn.config import AelleConfig
from lyapunov_rnn.dataset import open_experiment, write_netcdf
from lyapunov_rnn.io import atomic_path, redirect_output

with redirect_output(snakemake.log[0]):
    torch.set_num_threads(snakemake.threads)
    ds = open_experiment(snakemake.input[0])
    config = AelleConfig(**snakemake.params.aelle)
    try:
        fit = train_aelle(ds, config, progress=True)
    except AelleNotFitted as not_fitted:
        print(f"AeLLE not trained: {not_fitted}")
        save_not_fitted(snakemake.output.model, str(not_fitted), config)
        write_netcdf(xr.Dataset(attrs={"model": "AeLLE", "not_fitted": str(not_fitted)}), snakemake.output.latent)
        history = pd.DataFrame(columns=list(HISTORY_COLUMNS))
    else:
        fit.save(snakemake.output.model)
        write_netcdf(apply_to_dataset(fit, ds), snakemake.output.latent)
        history = fit.history
    with atomic_path(snakemake.output.history) as temporary:
        history.to_csv(temporary, index=False)
