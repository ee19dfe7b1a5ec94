"""What the figure tests share: a non-interactive backend, a synthetic experiment and an AeLLE fit on it."""

from __future__ import annotations

import dataclasses

import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402
import xarray as xr  # noqa: E402
from helpers.synthetic import FAST, make_dataset  # noqa: E402

from lyapunov_rnn.aelle import AelleFit, train_aelle  # noqa: E402


@pytest.fixture(scope="module")
def ds() -> xr.Dataset:
    """36 synthetic networks (rnn, lstm, gru), epochs 0-5; some diverge at the last checkpoint."""
    return make_dataset(n_per_arch=12, seed=2)


@pytest.fixture(scope="module")
def fit(ds: xr.Dataset) -> AelleFit:
    """A quick AeLLE fit on the module's ``ds`` (a module may override ``ds``)."""
    return train_aelle(ds, dataclasses.replace(FAST, epochs=10), num_threads=1)
