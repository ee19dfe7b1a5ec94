rule aelle:
    input:
        f"{RESULTS}/lyapunov.nc",
    output:
        model=f"{RESULTS}/aelle/model.pt",
        latent=f"{RESULTS}/aelle/latent.nc",
        history=f"{RESULTS}/aelle/history.csv",
    log:
        f"{LOGS}/aelle.log",
    benchmark:
        f"{BENCHMARKS}/aelle.tsv"
    conda:
        ENV
    threads: 2
    resources:
        runtime=lambda wildcards, attempt: 120 * attempt,
        mem_mb=lambda wildcards, attempt: 4000 * attempt,
        cpus_per_task=lambda wildcards, threads: threads,
    params:
        aelle=config["aelle"],
    script:
        "../scripts/aelle.py"
