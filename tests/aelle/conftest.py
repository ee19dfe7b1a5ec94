"""One synthetic experiment and one AeLLE fit on it, shared by the AeLLE tests."""

from __future__ import annotations

import pytest
import xarray as xr
from helpers.synthetic import FAST, make_dataset

from lyapunov_rnn.aelle import AelleFit, train_aelle


@pytest.fixture(scope="session")
def ds() -> xr.Dataset:
    return make_dataset()


@pytest.fixture(scope="session")
def fit(ds: xr.Dataset) -> AelleFit:
    return train_aelle(ds, FAST, num_threads=1)
