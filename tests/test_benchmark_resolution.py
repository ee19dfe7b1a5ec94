"""``benchmarks/resolution.py`` runs on an experiment's layout and counts what the dataset flags."""

from __future__ import annotations

import copy
import importlib.util
import shutil
import sys
from pathlib import Path

import numpy as np
from helpers.trained import train_two_networks
from helpers.workflow import TINY

from lyapunov_rnn.config import LyapunovConfig, experiment_config
from lyapunov_rnn.dataset import assemble, write_netcdf
from lyapunov_rnn.spectra import network_spectra

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "resolution.py"


def test_resolution_benchmark_counts_the_datasets_unresolved_exponents(tmp_path):
    task_path, task, networks = train_two_networks(tmp_path / "trained")
    results = tmp_path / "results"
    results.mkdir()
    shutil.copy(task_path, results / "task.npz")
    options = LyapunovConfig(sequences=4)
    files = []
    for architecture, checkpoints in networks.items():
        directory = results / "networks" / architecture / "checkpoints"
        shutil.copytree(checkpoints[0].parent, directory)
        path = results / "spectra" / f"{architecture}.nc"
        path.parent.mkdir(exist_ok=True)
        write_netcdf(network_spectra(checkpoints, task, options, progress=False), path)
        files.append((architecture, path))
    config = experiment_config({**copy.deepcopy(TINY), "experiment": "unit", "lyapunov": {"sequences": 4}})
    dataset = assemble(files, config=config, sequence_length=12)
    write_netcdf(dataset, results / "lyapunov.nc")

    spec = importlib.util.spec_from_file_location("benchmarks_resolution", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    rows = module.main([str(results), "--json", str(tmp_path / "rows.json")])

    assert len(rows) == 6  # 2 networks x 3 checkpoints
    assert all(row["equals_stored"] for row in rows)  # 1 thread, as the dataset was computed
    for architecture in ("gru", "lstm"):
        stored = dataset["exponents_resolved"].sel(network=architecture)
        counted = sum(row["unresolved"] for row in rows if row["network"] == architecture)
        size = int(dataset["state_size"].sel(network=architecture))
        assert counted == int((~stored.isel(exponent=slice(0, size))).sum())
    assert np.isfinite([row["resolved_sequence_diff"] for row in rows]).all()
    assert (tmp_path / "rows.json").exists()
