"""Lyapunov-spectrum analysis of recurrent neural networks (AeLLE).

data -> train (checkpoint per epoch) -> Lyapunov spectra -> experiment dataset
-> AeLLE -> figures and tables. See README.md.
"""

from snakemake.utils import min_version

min_version("9.0")


# The embedded default; an experiment given with --configfile replaces it
# rather than being merged into it (a deep merge would mix task options).
if not workflow.overwrite_configfiles:

    configfile: "config.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/lyapunov.smk"
include: "workflow/rules/aelle.smk"
include: "workflow/rules/figures.smk"
include: "workflow/rules/novel_inputs.smk"
include: "workflow/rules/evolution.smk"
include: "workflow/rules/aelle_figures.smk"
include: "workflow/rules/convergence.smk"


rule all:
    default_target: True
    input:
        final_outputs(),
