rule spectra:
    input:
        checkpoints=rules.train.output.checkpoints,
        task=rules.prepare_task.output[0],
    output:
        f"{RESULTS}/spectra/{{network}}.nc",
    log:
        f"{LOGS}/spectra/{{network}}.log",
    benchmark:
        f"{BENCHMARKS}/spectra/{{network}}.tsv"
    conda:
        ENV
    threads: 1
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
    params:
        networks=NETWORK_IDS,
        config=config,
    script:
        "../scripts/assemble.py"
