"""Fixtures of the Lyapunov-engine tests."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _engine_tests_on_one_thread(single_thread):
    """Tiny batched LAPACK calls run faster, and far more reliably on a shared machine, on one thread."""
