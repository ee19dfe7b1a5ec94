rule convergence:
    input:
        dataset=f"{RESULTS}/lyapunov.nc",
        task=rules.prepare_task.output[0],
        checkpoints=of_networks(CHECKPOINTS, NETWORK_IDS),
    output:
        dataset=f"{RESULTS}/convergence.nc",
        png=report(
            f"{RESULTS}/figures/convergence.png",
            caption="../report/convergence.rst",
            category="Lyapunov spectra",
        ),
        pdf=f"{RESULTS}/figures/convergence.pdf",
    log:
        f"{LOGS}/convergence.log",
    benchmark:
        f"{BENCHMARKS}/convergence.tsv"
    conda:
        ENV
    threads: 1
    resources:
        runtime=lambda wildcards, attempt: 20 * attempt,
        mem_mb=lambda wildcards, attempt: 3000 * attempt,
        cpus_per_task=lambda wildcards, threads: threads,
        gpu=int(config["training"]["gpu"]),
    params:
        networks=NETWORK_IDS,
        lyapunov=config["lyapunov"],
        sequences=config["analysis"]["convergence_sequences"],
    script:
        "../scripts/convergence.py"
