import sys
from pathlib import Path

from snakemake.utils import Paramspace

# Use the library from this checkout when it is not installed in the
# environment that runs Snakemake (it needs only numpy, pandas and PyYAML here).
sys.path.insert(0, str(Path(workflow.basedir) / "src"))
from lyapunov_rnn.config import check_config, network_table  # noqa: E402
from lyapunov_rnn.data import raw_files  # noqa: E402

check_config(config)

EXPERIMENT = config["experiment"]
TASK = config["task"]["name"]
RAW_FILES = raw_files(config["task"])
RESULTS = f"results/{EXPERIMENT}"
LOGS = f"logs/{EXPERIMENT}"
BENCHMARKS = f"{RESULTS}/benchmarks"
ENV = "../../envs/lyapunov_rnn.yaml"

NETWORKS = Paramspace(
    network_table(config), filename_params="*", single_wildcard="network"
)
NETWORK_IDS = list(NETWORKS.instance_patterns)
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
    """Row of the network table for this job, as plain Python values."""
    return {key: str(value) for key, value in NETWORKS.instance(wildcards).items()}


def final_outputs():
    return (
        [f"{RESULTS}/lyapunov.nc", f"{RESULTS}/metrics.csv"]
        + expand(f"{RESULTS}/figures/{{figure}}.png", figure=FIGURES)
        + expand(f"{RESULTS}/tables/{{table}}.csv", table=TABLES)
    )
