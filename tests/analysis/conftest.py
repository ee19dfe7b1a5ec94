"""A synthetic experiment, an AeLLE fit on it and its early-prediction table, shared by the analysis tests."""

from __future__ import annotations

import pandas as pd
import pytest
import xarray as xr
from helpers.synthetic import FAST, make_dataset

from lyapunov_rnn.aelle import AelleFit, train_aelle
from lyapunov_rnn.analysis.early_prediction import early_prediction_table


@pytest.fixture(scope="session")
def ds() -> xr.Dataset:
    return make_dataset(seed=1)


@pytest.fixture(scope="session")
def fit(ds: xr.Dataset) -> AelleFit:
    return train_aelle(ds, FAST, num_threads=1)


@pytest.fixture(scope="session")
def table(ds: xr.Dataset, fit: AelleFit) -> pd.DataFrame:
    return early_prediction_table(ds, fit, stages=(0.0, 0.1, 0.5, 1.0))
