# One spectra job per training group, after its train job (the same SLURM job: group "networks"): every checkpoint
# of each network, driven by the first test sequences and, with analysis.novel_inputs, by the next ones.
for group, networks in TRAINING_GROUPS.items():

    rule:
        name:
            f"spectra_{group}"
        input:
            checkpoints=of_networks(CHECKPOINTS, networks),
            task=rules.prepare_task.output[0],
        output:
            **group_spectra_output(networks),
        log:
            f"{LOGS}/spectra/{group}.log",
        benchmark:
            f"{BENCHMARKS}/spectra/{group}.tsv"
        group:
            "networks"
        conda:
            ENV
        threads: 1
        resources:
            runtime=lambda wildcards, attempt, count=len(networks): (10 + 5 * count)
            * attempt,
            mem_mb=lambda wildcards, attempt: 3000 * attempt,
            cpus_per_task=lambda wildcards, threads: threads,
            gpu=int(config["training"]["gpu"]),
        params:
            lyapunov=config["lyapunov"],
        script:
            "../scripts/spectra.py"


localrules:
    assemble,


rule assemble:
    input:
        spectra=of_networks(SPECTRA, NETWORK_IDS),
        task=rules.prepare_task.output[0],
    output:
        f"{RESULTS}/lyapunov.nc",
    log:
        f"{LOGS}/assemble.log",
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
