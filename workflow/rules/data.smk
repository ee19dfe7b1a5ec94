localrules:
    prepare_task,


rule prepare_task:
    output:
        f"{RESULTS}/task.npz",
    log:
        f"{LOGS}/prepare_task.log",
    conda:
        ENV
    params:
        task=config["task"],
        cache="resources",
    script:
        "../scripts/prepare_task.py"
