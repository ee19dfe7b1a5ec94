"""Wall-clock timing shared by the benchmark scripts (CUDA-aware)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import torch


def timed(function: Callable[[], Any], device: torch.device) -> tuple[float, Any]:
    """Seconds taken by ``function()`` (CUDA synchronised before both clock reads) and its result."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    began = time.perf_counter()
    result = function()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter() - began, result


def best_time(function: Callable[[], Any], repeats: int, device: torch.device) -> tuple[float, Any]:
    """Minimum seconds of ``function()`` over ``repeats`` calls, and the last call's result.

    The minimum is the least disturbed estimate on a machine shared with other work.
    """
    times, result = [], None
    for _ in range(repeats):
        seconds, result = timed(function, device)
        times.append(seconds)
    return min(times), result
