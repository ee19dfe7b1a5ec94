import sys
from dataclasses import asdict
from pathlib import Path

from snakemake.utils import Paramspace

# Use the library from this checkout when it is not installed in the
# environment that runs Snakemake. The modules imported here need only numpy,
# pandas, PyYAML and jsonschema: no torch in the Snakemake process.
sys.path.insert(0, str(Path(workflow.basedir) / "src"))
from lyapunov_rnn.config import (
    experiment_config,
    network_specs,
    network_table,
)  # noqa: E402
from lyapunov_rnn.tasks import raw_files  # noqa: E402

# Validates the config against workflow/schemas/config.schema.yaml, filling in its defaults, and checks
# what a schema cannot (the task's options, repeated networks) before any job; errors name the key.
# (Snakemake's own validate() crashes on the schema's unions of a list and a mapping.)
EXPERIMENT_CONFIG = experiment_config(config)

EXPERIMENT = EXPERIMENT_CONFIG.experiment
TASK = EXPERIMENT_CONFIG.task["name"]
RAW_FILES = raw_files(EXPERIMENT_CONFIG.task)
RESULTS = f"results/{EXPERIMENT}"
LOGS = f"logs/{EXPERIMENT}"
BENCHMARKS = f"{RESULTS}/benchmarks"
ENV = "../../envs/lyapunov_rnn.yaml"

NETWORKS = Paramspace(
    network_table(EXPERIMENT_CONFIG), filename_params="*", single_wildcard="network"
)
NETWORK_IDS = list(NETWORKS.instance_patterns)
# Each network's spec (derived seed, resolved cell options), by the network wildcard.
NETWORK_SPECS = dict(zip(NETWORK_IDS, network_specs(EXPERIMENT_CONFIG), strict=True))
FIGURES = [
    "spectra",
    "accuracy_vs_init",
    "latent_embedding",
    "early_prediction",
    "statistic_correlations",
    "aelle_training",
]
TABLES = ["early_prediction", "correlations"]


wildcard_constraints:
    network=r"architecture~[^/]+",


def network_spec(wildcards):
    """The job's network (its derived seed and cell options included), as plain Python values."""
    return asdict(NETWORK_SPECS[wildcards.network])


def final_outputs():
    return (
        [f"{RESULTS}/lyapunov.nc", f"{RESULTS}/metrics.csv"]
        + expand(f"{RESULTS}/figures/{{figure}}.png", figure=FIGURES)
        + expand(f"{RESULTS}/tables/{{table}}.csv", table=TABLES)
    )
