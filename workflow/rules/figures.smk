localrules:
    figure_spectra,
    figure_accuracy_vs_init,
    figure_aelle_training,
    figure_latent_embedding,
    table_early_prediction,
    table_correlations,


rule figure_spectra:
    input:
        f"{RESULTS}/lyapunov.nc",
    output:
        png=report(
            f"{RESULTS}/figures/spectra.png",
            caption="../report/spectra.rst",
            category="Lyapunov spectra",
        ),
        pdf=f"{RESULTS}/figures/spectra.pdf",
    log:
        f"{LOGS}/figures/spectra.log",
    conda:
        ENV
    resources:
        runtime=lambda wildcards, attempt: 10 * attempt,
        mem_mb=lambda wildcards, attempt: 2000 * attempt,
    script:
        "../scripts/figure_spectra.py"


rule figure_accuracy_vs_init:
    input:
        f"{RESULTS}/lyapunov.nc",
    output:
        png=report(
            f"{RESULTS}/figures/accuracy_vs_init.png",
            caption="../report/accuracy_vs_init.rst",
            category="Training",
        ),
        pdf=f"{RESULTS}/figures/accuracy_vs_init.pdf",
    log:
        f"{LOGS}/figures/accuracy_vs_init.log",
    conda:
        ENV
    resources:
        runtime=lambda wildcards, attempt: 10 * attempt,
        mem_mb=lambda wildcards, attempt: 2000 * attempt,
    script:
        "../scripts/figure_accuracy_vs_init.py"


rule figure_aelle_training:
    input:
        history=f"{RESULTS}/aelle/history.csv",
        model=f"{RESULTS}/aelle/model.pt",
    output:
        png=report(
            f"{RESULTS}/figures/aelle_training.png",
            caption="../report/aelle_training.rst",
            category="AeLLE",
        ),
        pdf=f"{RESULTS}/figures/aelle_training.pdf",
    log:
        f"{LOGS}/figures/aelle_training.log",
    conda:
        ENV
    resources:
        runtime=lambda wildcards, attempt: 10 * attempt,
        mem_mb=lambda wildcards, attempt: 2000 * attempt,
    script:
        "../scripts/figure_aelle_training.py"


rule figure_latent_embedding:
    input:
        dataset=f"{RESULTS}/lyapunov.nc",
        model=f"{RESULTS}/aelle/model.pt",
    output:
        png=report(
            f"{RESULTS}/figures/latent_embedding.png",
            caption="../report/latent_embedding.rst",
            category="AeLLE",
        ),
        pdf=f"{RESULTS}/figures/latent_embedding.pdf",
    log:
        f"{LOGS}/figures/latent_embedding.log",
    benchmark:
        f"{BENCHMARKS}/latent_embedding.tsv"
    conda:
        ENV
    resources:
        runtime=lambda wildcards, attempt: 30 * attempt,
        mem_mb=lambda wildcards, attempt: 4000 * attempt,
        cpus_per_task=lambda wildcards, threads: threads,
    params:
        method=config["analysis"]["embedding"],
        seed=config["aelle"]["seed"],
    script:
        "../scripts/figure_latent_embedding.py"


rule table_early_prediction:
    input:
        dataset=f"{RESULTS}/lyapunov.nc",
        model=f"{RESULTS}/aelle/model.pt",
    output:
        csv=report(
            f"{RESULTS}/tables/early_prediction.csv",
            caption="../report/early_prediction_table.rst",
            category="Early prediction",
        ),
        markdown=f"{RESULTS}/tables/early_prediction.md",
        png=report(
            f"{RESULTS}/figures/early_prediction.png",
            caption="../report/early_prediction.rst",
            category="Early prediction",
        ),
        pdf=f"{RESULTS}/figures/early_prediction.pdf",
    log:
        f"{LOGS}/tables/early_prediction.log",
    conda:
        ENV
    resources:
        runtime=lambda wildcards, attempt: 20 * attempt,
        mem_mb=lambda wildcards, attempt: 2000 * attempt,
        cpus_per_task=lambda wildcards, threads: threads,
    params:
        stages=config["analysis"]["stages"],
    script:
        "../scripts/table_early_prediction.py"


rule table_correlations:
    input:
        f"{RESULTS}/lyapunov.nc",
    output:
        csv=report(
            f"{RESULTS}/tables/correlations.csv",
            caption="../report/correlations_table.rst",
            category="Spectrum statistics",
        ),
        png=report(
            f"{RESULTS}/figures/statistic_correlations.png",
            caption="../report/statistic_correlations.rst",
            category="Spectrum statistics",
        ),
        pdf=f"{RESULTS}/figures/statistic_correlations.pdf",
        over_training_png=report(
            f"{RESULTS}/figures/correlations_over_training.png",
            caption="../report/correlations_over_training.rst",
            category="Spectrum statistics",
        ),
        over_training_pdf=f"{RESULTS}/figures/correlations_over_training.pdf",
    log:
        f"{LOGS}/tables/correlations.log",
    benchmark:
        f"{BENCHMARKS}/correlations.tsv"
    conda:
        ENV
    resources:
        runtime=lambda wildcards, attempt: 10 * attempt,
        mem_mb=lambda wildcards, attempt: 2000 * attempt,
    script:
        "../scripts/table_correlations.py"
