# One train job per training group (common.smk, TRAINING_GROUPS): its networks train as one batched computation
# and each gets its own checkpoints and metrics. The rules are made per group (their outputs are lists of networks,
# which a wildcard cannot express); a group's outputs are per-network files, so regrouping (another
# training.group_size) finds them up to date.
for group, networks in TRAINING_GROUPS.items():

    rule:
        name:
            f"train_{group}"
        input:
            task=rules.prepare_task.output[0],
        output:
            checkpoints=[directory(path) for path in of_networks(CHECKPOINTS, networks)],
            metrics=of_networks(NETWORK_METRICS, networks),
        log:
            f"{LOGS}/train/{group}.log",
        benchmark:
            f"{BENCHMARKS}/train/{group}.tsv"
        group:
            "networks"
        conda:
            ENV
        threads: 1
        resources:
            runtime=lambda wildcards, attempt, count=len(networks): (30 + 15 * count)
            * attempt,
            mem_mb=lambda wildcards, attempt, count=len(networks): (3000 + 250 * count)
            * attempt,
            cpus_per_task=lambda wildcards, threads: threads,
            gpu=int(config["training"]["gpu"]),
        params:
            settings=group_settings(),
            resume=lambda wildcards: f"{RESULTS}/.resume",
        script:
            "../scripts/train.py"


localrules:
    collect_metrics,


rule collect_metrics:
    input:
        of_networks(NETWORK_METRICS, NETWORK_IDS),
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
