rule spectra:
    input:
        checkpoints=rules.train.output.checkpoints,
        task=rules.prepare_task.output[0],
    # With analysis.novel_inputs, the same job also drives every checkpoint with the next test sequences.
    output:
        **novel_spectra_output(),
        first=f"{RESULTS}/spectra/{{network}}.nc",
    log:
        f"{LOGS}/spectra/{{network}}.log",
    benchmark:
        f"{BENCHMARKS}/spectra/{{network}}.tsv"
    conda:
        ENV
    threads: 1
    resources:
        runtime=lambda wildcards, attempt: 20 * attempt,
        mem_mb=lambda wildcards, attempt: 3000 * attempt,
        cpus_per_task=lambda wildcards, threads: threads,
        gpu=1,
    params:
        lyapunov=config["lyapunov"],
    script:
        "../scripts/spectra.py"


localrules:
    assemble,


rule assemble:
    input:
        spectra=expand(f"{RESULTS}/spectra/{{network}}.nc", network=NETWORK_IDS),
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
