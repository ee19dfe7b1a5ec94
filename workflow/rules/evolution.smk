localrules:
    figure_spectra_over_training,


rule figure_spectra_over_training:
    input:
        f"{RESULTS}/lyapunov.nc",
    output:
        spectra_png=report(
            f"{RESULTS}/figures/spectra_over_training.png",
            caption="../report/spectra_over_training.rst",
            category="Lyapunov spectra",
        ),
        spectra_pdf=f"{RESULTS}/figures/spectra_over_training.pdf",
        largest_png=report(
            f"{RESULTS}/figures/largest_exponent_over_training.png",
            caption="../report/largest_exponent_over_training.rst",
            category="Lyapunov spectra",
        ),
        largest_pdf=f"{RESULTS}/figures/largest_exponent_over_training.pdf",
    log:
        f"{LOGS}/figures/spectra_over_training.log",
    benchmark:
        f"{BENCHMARKS}/spectra_over_training.tsv"
    conda:
        ENV
    resources:
        runtime=lambda wildcards, attempt: 10 * attempt,
        mem_mb=lambda wildcards, attempt: 2000 * attempt,
    params:
        stages=config["analysis"]["stages"],
    script:
        "../scripts/figure_spectra_over_training.py"
