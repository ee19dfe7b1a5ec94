localrules:
    download,
    prepare_task,


rule download:
    output:
        [f"resources/{TASK}/{name}" for name in RAW_FILES],
    log:
        f"{LOGS}/download.log",
    retries: 2
    conda:
        ENV
    resources:
        runtime=lambda wildcards, attempt: 30 * attempt,
        mem_mb=lambda wildcards, attempt: 1000 * attempt,
    params:
        task=config["task"],
        cache=f"resources/{TASK}",
    script:
        "../scripts/download.py"


rule prepare_task:
    input:
        [f"resources/{TASK}/{name}" for name in RAW_FILES],
    output:
        f"{RESULTS}/task.npz",
    log:
        f"{LOGS}/prepare_task.log",
    conda:
        ENV
    resources:
        runtime=lambda wildcards, attempt: 15 * attempt,
        mem_mb=lambda wildcards, attempt: 2000 * attempt,
    params:
        task=config["task"],
        cache=f"resources/{TASK}",
    script:
        "../scripts/prepare_task.py"
