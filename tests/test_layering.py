"""Dependencies point one way: the layers that read configs, tasks and datasets load neither torch nor Snakemake."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: Imported by the Snakemake process, the dataset-only figure and table jobs, and the cost estimator's planning.
LIGHT_MODULES = (
    "lyapunov_rnn.conventions",
    "lyapunov_rnn.io",
    "lyapunov_rnn.download",
    "lyapunov_rnn.config",
    "lyapunov_rnn.dataset",
    "lyapunov_rnn.tasks",
    "lyapunov_rnn.analysis.statistics",
    "lyapunov_rnn.analysis.early_prediction",
    "lyapunov_rnn.analysis.embedding",
    "lyapunov_rnn.analysis.generalisation",
    "lyapunov_rnn.analysis.tables",
    "lyapunov_rnn.plots",
)


def test_light_modules_load_no_torch_or_snakemake():
    code = (
        "import importlib, sys\n"
        f"for name in {LIGHT_MODULES!r}:\n"
        "    importlib.import_module(name)\n"
        "from lyapunov_rnn.config import load_config\n"
        "from lyapunov_rnn.tasks import raw_files, task_shape\n"
        f"config = load_config({str(ROOT / 'config.yaml')!r})\n"
        "raw_files(config.task), task_shape(config.task)\n"
        "print(sorted(m for m in ('torch', 'snakemake') if m in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_importtime_of_the_dataset_module_shows_no_torch():
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import lyapunov_rnn.dataset"],
        capture_output=True,
        text=True,
        check=True,
    )
    imported = [line.rsplit("|", 1)[-1].strip() for line in result.stderr.splitlines() if "|" in line]
    assert "lyapunov_rnn.dataset" in imported
    assert not [name for name in imported if name.split(".")[0] == "torch"]
