"""Running the Snakemake workflow from tests: the repository root, a tiny config, a runner."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
SNAKEMAKE = [sys.executable, "-m", "snakemake", "--snakefile", str(ROOT / "Snakefile")]

#: 6 networks (RNN, LSTM x 3 init values), 3 checkpoints each, on 400 embedded digits.
TINY = {
    "experiment": "tiny",
    "task": {"name": "smnist", "source": "embedded", "test_fraction": 0.2, "split_seed": 0, "subset": 400},
    "networks": {"architecture": ["rnn", "lstm"], "hidden_size": [6], "init_param": [0.1, 0.5, 2.0]},
    "training": {"epochs": 2, "batch_size": 64},
    "lyapunov": {"sequences": 4},
    "aelle": {"epochs": 30, "alpha": 5, "latent_dim": 4, "hidden_dim": 16},
    "analysis": {"stages": [0.0, 0.5], "embedding": "pca"},
}


def run_snakemake(*args: str, cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess:
    """``snakemake --directory cwd *args`` with this checkout's Snakefile; output captured."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.run(
        [*SNAKEMAKE, "--directory", str(cwd), *args], capture_output=True, text=True, timeout=timeout, env=env
    )


def write_config(directory: Path, config: dict) -> Path:
    """Write ``config`` as ``directory/config.yaml``; return the path."""
    path = directory / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path
