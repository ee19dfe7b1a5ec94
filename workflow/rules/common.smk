import sys
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
    training_groups,
    training_options,
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
# Networks trained (and analysed) together, training.group_size at most: one train and one spectra job per group,
# named after the group's architecture and hidden size. A network's results do not depend on its group.
TRAINING_GROUPS = {}
for number, indices in enumerate(
    training_groups(list(NETWORK_SPECS.values()), EXPERIMENT_CONFIG.group_size)
):
    first = NETWORK_SPECS[NETWORK_IDS[indices[0]]]
    TRAINING_GROUPS[f"{first.architecture}_{first.hidden_size}_{number:03d}"] = [
        NETWORK_IDS[index] for index in indices
    ]
# Per-network paths of the group rules' outputs.
CHECKPOINTS = f"{RESULTS}/networks/{{network}}/checkpoints"
NETWORK_METRICS = f"{RESULTS}/networks/{{network}}/metrics.csv"
SPECTRA = f"{RESULTS}/spectra/{{network}}.nc"
NOVEL_SPECTRA = f"{RESULTS}/novel_inputs/spectra/{{network}}.nc"
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


def of_networks(pattern, networks):
    """``pattern`` (with a ``{network}`` wildcard) filled in for each of ``networks``."""
    return [pattern.format(network=network) for network in networks]


def group_spectra_output(networks):
    """A spectra job's outputs: each network's spectra from the first test sequences and, with
    analysis.novel_inputs, from the next ones."""
    output = {"first": of_networks(SPECTRA, networks)}
    if EXPERIMENT_CONFIG.analysis.novel_inputs:
        output["novel"] = of_networks(NOVEL_SPECTRA, networks)
    return output


def group_settings():
    """What every network's training depends on besides its identity (its path): the training section without
    training.group_size, the cell options and the grids' base seeds. The train jobs' params: one value for every
    group, so that regrouping changes no params and retrains nothing, while a change of these retrains all.
    """
    return {
        "training": training_options(config["training"]),
        "cell_options": config["cell_options"],
        "seeds": sorted({grid.seed for grid in EXPERIMENT_CONFIG.networks}),
    }


def final_outputs():
    return (
        [f"{RESULTS}/lyapunov.nc", f"{RESULTS}/metrics.csv"]
        + expand(f"{RESULTS}/figures/{{figure}}.png", figure=FIGURES)
        + expand(f"{RESULTS}/tables/{{table}}.csv", table=TABLES)
    )
