rule train:
    input:
        task=rules.prepare_task.output[0],
    output:
        checkpoints=directory(f"{RESULTS}/networks/{{network}}/checkpoints"),
        metrics=f"{RESULTS}/networks/{{network}}/metrics.csv",
    log:
        f"{LOGS}/train/{{network}}.log",
    benchmark:
        f"{BENCHMARKS}/train/{{network}}.tsv"
    conda:
        ENV
    threads: 1
    resources:
        runtime=lambda wildcards, attempt: 60 * attempt,
        mem_mb=lambda wildcards, attempt: 4000 * attempt,
        cpus_per_task=lambda wildcards, threads: threads,
        gpu=1,
    params:
        spec=network_spec,
        training=config["training"],
        work_dir=lambda wildcards: f"{RESULTS}/.resume/{wildcards.network}",
    script:
        "../scripts/train.py"


localrules:
    collect_metrics,


rule collect_metrics:
    input:
        expand(f"{RESULTS}/networks/{{network}}/metrics.csv", network=NETWORK_IDS),
    output:
        f"{RESULTS}/metrics.csv",
    log:
        f"{LOGS}/collect_metrics.log",
    conda:
        ENV
    resources:
        runtime=lambda wildcards, attempt: 10 * attempt,
        mem_mb=lambda wildcards, attempt: 1000 * attempt,
    params:
        networks=NETWORK_IDS,
    script:
        "../scripts/collect_metrics.py"
