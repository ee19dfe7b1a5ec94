"""Lyapunov-spectrum analysis of recurrent neural networks (AeLLE).

data -> train (checkpoint per epoch) -> Lyapunov spectra -> experiment dataset
-> AeLLE -> figures and tables. See README.md.
"""

from snakemake.utils import min_version, validate

min_version("9.0")


configfile: "config.yaml"


validate(config, "workflow/schemas/config.schema.yaml")


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/lyapunov.smk"
include: "workflow/rules/aelle.smk"
include: "workflow/rules/figures.smk"


rule all:
    default_target: True
    input:
        final_outputs(),
