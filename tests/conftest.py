"""Shared fixtures: tiny tasks built in memory, so unit tests need no data files."""

from __future__ import annotations

import pytest
from helpers.toy_task import make_classification_task

from lyapunov_rnn.tasks import TaskData


@pytest.fixture
def toy_task() -> TaskData:
    return make_classification_task()
