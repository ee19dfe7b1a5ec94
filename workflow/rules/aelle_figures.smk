localrules:
    figure_latent_perturbation,
    figure_network_size,


rule figure_latent_perturbation:
    input:
        dataset=f"{RESULTS}/lyapunov.nc",
        model=f"{RESULTS}/aelle/model.pt",
    output:
        png=report(
            f"{RESULTS}/figures/latent_perturbation.png",
            caption="../report/latent_perturbation.rst",
            category="AeLLE",
        ),
        pdf=f"{RESULTS}/figures/latent_perturbation.pdf",
        netcdf=f"{RESULTS}/aelle/latent_perturbation.nc",
    log:
        f"{LOGS}/figures/latent_perturbation.log",
    benchmark:
        f"{BENCHMARKS}/latent_perturbation.tsv"
    conda:
        ENV
    resources:
        runtime=lambda wildcards, attempt: 10 * attempt,
        mem_mb=lambda wildcards, attempt: 2000 * attempt,
    script:
        "../scripts/figure_latent_perturbation.py"


rule figure_network_size:
    input:
        dataset=f"{RESULTS}/lyapunov.nc",
        model=f"{RESULTS}/aelle/model.pt",
    output:
        png=report(
            f"{RESULTS}/figures/network_size.png",
            caption="../report/network_size.rst",
            category="AeLLE",
        ),
        pdf=f"{RESULTS}/figures/network_size.pdf",
    log:
        f"{LOGS}/figures/network_size.log",
    benchmark:
        f"{BENCHMARKS}/network_size.tsv"
    conda:
        ENV
    resources:
        runtime=lambda wildcards, attempt: 30 * attempt,
        mem_mb=lambda wildcards, attempt: 4000 * attempt,
    params:
        method=config["analysis"]["embedding"],
        seed=config["aelle"]["seed"],
    script:
        "../scripts/figure_network_size.py"
