# Generalisation to novel inputs (analysis.novel_inputs): the spectra rule computes every checkpoint's spectrum a
# second time, driven by the next lyapunov.sequences test sequences (input set 1, disjoint from the first); these
# rules assemble them and apply the early-prediction rules fitted on the first spectra to them.


localrules:
    assemble_novel,
    table_novel_inputs,


rule assemble_novel:
    input:
        spectra=of_networks(NOVEL_SPECTRA, NETWORK_IDS),
        task=rules.prepare_task.output[0],
    output:
        f"{RESULTS}/novel_inputs/lyapunov.nc",
    log:
        f"{LOGS}/novel_inputs/assemble.log",
    conda:
        ENV
    resources:
        runtime=lambda wildcards, attempt: 15 * attempt,
        mem_mb=lambda wildcards, attempt: 2000 * attempt,
    params:
        networks=NETWORK_IDS,
        config=config,
    script:
        "../scripts/assemble.py"


rule table_novel_inputs:
    input:
        dataset=rules.assemble.output[0],
        novel=rules.assemble_novel.output[0],
        model=f"{RESULTS}/aelle/model.pt",
    output:
        csv=report(
            f"{RESULTS}/tables/novel_inputs.csv",
            caption="../report/novel_inputs_table.rst",
            category="Early prediction",
        ),
        markdown=f"{RESULTS}/tables/novel_inputs.md",
        png=report(
            f"{RESULTS}/figures/novel_inputs.png",
            caption="../report/novel_inputs.rst",
            category="Early prediction",
        ),
        pdf=f"{RESULTS}/figures/novel_inputs.pdf",
    log:
        f"{LOGS}/tables/novel_inputs.log",
    benchmark:
        f"{BENCHMARKS}/novel_inputs.tsv"
    conda:
        ENV
    resources:
        runtime=lambda wildcards, attempt: 30 * attempt,
        mem_mb=lambda wildcards, attempt: 4000 * attempt,
    params:
        stages=config["analysis"]["stages"],
        method=config["analysis"]["embedding"],
        seed=config["aelle"]["seed"],
    script:
        "../scripts/table_novel_inputs.py"
