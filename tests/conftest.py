"""Shared fixtures: tiny tasks built in memory, so unit tests need no data files."""

from __future__ import annotations

import pytest
import torch
from helpers.toy_task import make_classification_task

from lyapunov_rnn.tasks import TaskData


@pytest.fixture
def toy_task() -> TaskData:
    return make_classification_task()


@pytest.fixture
def single_thread():
    """Run the test on one torch thread (restored afterwards)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
