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
# Each network's spec (derived seed, resolved cell options, learning rate and dropout), by the network wildcard.
NETWORK_SPECS = dict(zip(NETWORK_IDS, network_specs(EXPERIMENT_CONFIG), strict=True))
# The distinct hidden sizes; the network-size figure is made only when there is more than one.
HIDDEN_SIZES = sorted({spec.hidden_size for spec in NETWORK_SPECS.values()})
FIGURES = [
    "spectra",
    "spectra_over_training",
    "largest_exponent_over_training",
    "accuracy_vs_init",
    "convergence",
    "latent_embedding",
    "latent_perturbation",
    "aelle_training",
    "early_prediction",
    "statistic_correlations",
    "correlations_over_training",
]
TABLES = ["early_prediction", "correlations"]
# Figures and tables of some experiments only: several hidden sizes; a second set of driving inputs.
if len(HIDDEN_SIZES) > 1:
    FIGURES.append("network_size")
if EXPERIMENT_CONFIG.analysis.novel_inputs:
    FIGURES.append("novel_inputs")
    TABLES.append("novel_inputs")


wildcard_constraints:
    network=r"architecture~[^/]+",


def network_spec(wildcards):
    """The job's network (its derived seed and cell options included), as plain Python values."""
    return asdict(NETWORK_SPECS[wildcards.network])


def novel_spectra_output():
    """The spectra rule's second output, from the novel input set, when analysis.novel_inputs is on."""
    if EXPERIMENT_CONFIG.analysis.novel_inputs:
        return {"novel": f"{RESULTS}/novel_inputs/spectra/{{network}}.nc"}
    return {}


def final_outputs():
    return (
        [f"{RESULTS}/lyapunov.nc", f"{RESULTS}/metrics.csv"]
        + expand(f"{RESULTS}/figures/{{figure}}.png", figure=FIGURES)
        + expand(f"{RESULTS}/tables/{{table}}.csv", table=TABLES)
    )
