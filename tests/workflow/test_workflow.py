"""The Snakemake workflow: lint, formatting, config errors, dry runs, and one real end-to-end run."""

from __future__ import annotations

import math
import re
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import xarray as xr
import yaml
from helpers.workflow import ROOT, SNAKEMAKE, TINY, run_snakemake, write_config

#: The figures every run with one hidden size and analysis.novel_inputs writes (PNG + PDF).
FIGURES = (
    "spectra", "spectra_over_training", "largest_exponent_over_training", "accuracy_vs_init", "convergence",
    "latent_embedding", "latent_perturbation", "aelle_training", "early_prediction", "statistic_correlations",
    "correlations_over_training", "novel_inputs",
)


def test_lint_is_clean():
    result = subprocess.run(
        [*SNAKEMAKE, "--lint"], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "Lints for" not in output, output


def test_ruff_is_clean():
    # rules in pyproject.toml: pyflakes, pycodestyle, bugbear, import order, pyupgrade
    result = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--no-cache", str(ROOT)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_snakefmt_is_clean():
    files = [ROOT / "Snakefile", *sorted((ROOT / "workflow" / "rules").glob("*.smk"))]
    result = subprocess.run(
        [sys.executable, "-m", "snakefmt", "--check", *map(str, files)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    "section, key, value, expected",
    [
        ("training", "epochs", "ten", "epochs"),
        ("networks", "architecture", ["lstm", "transformer"], "transformer"),
        ("networks", "hidden_size", [-3], "hidden_size"),
        ("networks", None, None, "networks"),
        ("networks", "init_param", [], "networks.init_param: [] should be non-empty"),
        ("networks", "init_param", [0.5, "big"], "networks.init_param[1]: 'big' is not of type 'number'"),
        ("networks", "init_param", [0], "networks.init_param[0]: 0 is less than or equal to the minimum of 0"),
        ("networks", "init_param", [0.5], "aelle.split: [0.7, 0.1, 0.2] of the 2 networks leaves the test split"),
        ("analysis", "stages", [], "analysis.stages: [] should be non-empty"),
        (None, "experiment", "..", "experiment: '..' names no directory"),
        ("lyapunov", "k", 7, "lyapunov.k: 7 exponents exceed the 6 of a full spectrum of the rnn networks"),
        ("lyapunov", "warmup", 28, "lyapunov.warmup: 28 leaves no measured step of the 28-step sequences"),
        ("lyapunov", "sequences", 401, "lyapunov.sequences: 401 exceeds the 400 test sequences"),
    ],
    ids=[
        "wrong-type", "unknown-architecture", "negative-hidden-size", "missing-key", "init-param-empty",
        "init-param-not-a-number", "init-param-zero", "too-few-networks-for-the-split", "stages-empty",
        "experiment-dotdot", "k-above-state-size", "warmup-not-below-length", "sequences-above-test-split",
    ],
)
def test_bad_config_fails_before_any_job(tmp_path, section, key, value, expected):
    config = yaml.safe_load(yaml.safe_dump(TINY))
    if key is None:
        del config[section]
    elif section is None:
        config[key] = value
    else:
        config[section][key] = value
    result = run_snakemake("--cores", "1", "--configfile", str(write_config(tmp_path, config)), cwd=tmp_path)
    assert result.returncode != 0
    assert expected in result.stderr + result.stdout
    assert not (tmp_path / "results").exists()


@pytest.mark.parametrize("experiment", sorted(p.name for p in (ROOT / "experiments").glob("*.yaml")))
def test_experiments_dry_run(experiment):
    # From the repository root, as a user runs it: the experiment must replace
    # the default config.yaml, not be merged into it. --forceall: the whole plan, whatever results/ already holds.
    result = run_snakemake("-n", "--forceall", "--configfile", f"experiments/{experiment}", cwd=ROOT)
    assert result.returncode == 0, result.stderr[-3000:]
    name = yaml.safe_load((ROOT / "experiments" / experiment).read_text())["experiment"]
    assert f"results/{name}/lyapunov.nc" in result.stdout + result.stderr


@pytest.mark.parametrize(
    "experiment, scheduled",
    [("config.yaml", False), ("experiments/paper-charlm.yaml", True)],
    ids=["one-size", "four-sizes"],
)
def test_network_size_figure_only_with_several_hidden_sizes(experiment, scheduled):
    result = run_snakemake("-n", "--configfile", experiment, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-3000:]
    assert ("rule figure_network_size:" in result.stdout + result.stderr) is scheduled


def test_default_config_dry_run():
    result = run_snakemake("-n", "--quiet", cwd=ROOT)
    assert result.returncode == 0, result.stderr[-3000:]


@pytest.mark.slow
def test_end_to_end_on_a_tiny_config(tmp_path):
    result = run_snakemake("--cores", "2", "--configfile", str(write_config(tmp_path, TINY)), cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-5000:]
    results = tmp_path / "results" / "tiny"

    ds = xr.open_dataset(results / "lyapunov.nc", engine="netcdf4")
    assert dict(ds.sizes) == {"network": 6, "checkpoint": 3, "exponent": 12}  # LSTM (h, c): 2 x 6
    assert set(ds["architecture"].values) == {"rnn", "lstm"}
    assert sorted(set(ds["init_param"].values)) == [0.1, 0.5, 2.0]
    np.testing.assert_allclose(ds["training_fraction"], [0.0, 0.5, 1.0])
    lstm = ds["exponents"].where(ds["architecture"] == "lstm", drop=True)
    rnn = ds["exponents"].where(ds["architecture"] == "rnn", drop=True)
    assert np.isfinite(lstm).all()
    assert np.isfinite(rnn.sel(exponent=slice(1, 6))).all()
    assert np.isnan(rnn.sel(exponent=slice(7, None))).all()  # padding beyond the RNN's 6 exponents
    assert (ds["exponents"].diff("exponent") <= 1e-12).where(np.isfinite(ds["exponents"].diff("exponent"))).all()
    assert ds.attrs["units"] == "nats per step" and ds.attrs["convention"] == "benettin"
    assert yaml.safe_load(ds.attrs["config"])["experiment"] == "tiny"
    assert ((ds["val_accuracy"] >= 0) & (ds["val_accuracy"] <= 1)).all()
    assert math.isfinite(float(ds["val_loss"].isel(checkpoint=-1).mean()))
    ds.close()

    for name in FIGURES:
        for suffix in (".png", ".pdf"):
            assert (results / "figures" / f"{name}{suffix}").stat().st_size > 1000, name
    assert not (results / "figures" / "network_size.png").exists()  # one hidden size: no size figure

    # The second input set: the same networks and checkpoints, driven by the next 4 test sequences.
    with xr.open_dataset(results / "novel_inputs" / "lyapunov.nc", engine="netcdf4") as novel, \
            xr.open_dataset(results / "lyapunov.nc", engine="netcdf4") as first:
        assert (novel.attrs["first_sequence"], first.attrs["first_sequence"]) == (4, 0)
        assert list(novel["network"].values) == list(first["network"].values)
        assert not np.allclose(novel["exponents"], first["exponents"], equal_nan=True)
    novel_table = pd.read_csv(results / "tables" / "novel_inputs.csv")
    assert set(novel_table["inputs"]) == {"fitted", "novel"}
    with xr.open_dataset(results / "convergence.nc", engine="netcdf4") as convergence:
        assert sorted(convergence["architecture"].values) == ["lstm", "rnn"]
        assert convergence.attrs["units"] == "nats per step"

    table = pd.read_csv(results / "tables" / "early_prediction.csv")
    assert {"AeLLE", "validation loss", "LE max", "configuration only"} <= set(table["method"])
    assert len(table) >= 2 * 3
    assert table[["recall", "precision", "f1"]].apply(lambda c: c.between(0, 1) | c.isna()).all().all()
    metrics = pd.read_csv(results / "metrics.csv")
    assert len(metrics) == 6 * 3
    assert (tmp_path / "logs" / "tiny" / "assemble.log").exists()

    # A browsable report with every registered figure and table and its caption.
    report = run_snakemake("--report", "report.html", "--configfile", str(tmp_path / "config.yaml"), cwd=tmp_path)
    assert report.returncode == 0, report.stderr[-3000:]
    html = (tmp_path / "report.html").read_text()
    for name in (*(f"{figure}.png" for figure in FIGURES), "early_prediction.csv", "correlations.csv",
                 "novel_inputs.csv"):
        assert name in html, name
    caption = (ROOT / "workflow" / "report" / "latent_embedding.rst").read_text().split()[:4]
    assert " ".join(caption) in html

    # Nothing left to do: a second invocation schedules no job.
    again = run_snakemake("-n", "--configfile", str(tmp_path / "config.yaml"), cwd=tmp_path)
    assert again.returncode == 0
    assert "Nothing to be done" in again.stdout + again.stderr
    assert sorted(path.name for path in (tmp_path / "logs" / "tiny" / "train").glob("*.log")) == [
        "lstm_6_001.log", "rnn_6_000.log"  # one train job per training group (group_size 12 > 3 networks)
    ]

    # Another group size or arithmetic retrains nothing: the per-network checkpoints are the groups' outputs whatever
    # the groups, and the arithmetic is a scheduling key as the group size.
    regrouped = {**TINY, "training": {**TINY["training"], "group_size": 1, "arithmetic": "batched"}}
    plan = run_snakemake("-n", "--configfile", str(write_config(tmp_path, regrouped)), cwd=tmp_path)
    assert plan.returncode == 0, plan.stderr[-3000:]
    scheduled = re.findall(r"^\s*(?:local)?rule (\w+):$", plan.stdout + plan.stderr, re.MULTILINE)
    assert scheduled and not [name for name in scheduled if name.startswith("train_")], scheduled


#: TINY with 4 networks and a learning rate so large that every loss is NaN after the first epoch (Adam's first step,
#: about 1e38, overflows float32), and one epoch: the spectra of epoch 0 exist, every final loss is NaN. Its training
#: groups run the batched arithmetic (a GPU's default), which the main run above does not.
ALL_DIVERGE = {
    **TINY,
    "experiment": "diverged",
    "networks": {**TINY["networks"], "init_param": [0.5, 2.0]},
    "training": {"epochs": 1, "batch_size": 64, "learning_rate": 1.0e37, "grad_clip": None, "arithmetic": "batched"},
}


@pytest.mark.slow
def test_the_pipeline_finishes_when_every_network_diverges(tmp_path):
    from lyapunov_rnn.aelle import AelleFit, AelleNotFitted

    result = run_snakemake("--cores", "2", "--configfile", str(write_config(tmp_path, ALL_DIVERGE)), cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-5000:]
    results = tmp_path / "results" / "diverged"
    with xr.open_dataset(results / "lyapunov.nc", engine="netcdf4") as ds:
        assert ds["diverged"].isel(checkpoint=-1).all() and not ds["diverged"].isel(checkpoint=0).any()

    # AeLLE: the model file records why it was not trained; its codes and history are empty.
    with pytest.raises(AelleNotFitted, match="every network diverged"):
        AelleFit.load(results / "aelle" / "model.pt")
    with xr.open_dataset(results / "aelle" / "latent.nc", engine="netcdf4") as latent:
        assert "every network diverged" in latent.attrs["not_fitted"]
    assert pd.read_csv(results / "aelle" / "history.csv").empty

    # The tables say why they are empty (or undefined).
    for table in ("early_prediction", "novel_inputs"):
        reason = pd.read_csv(results / "tables" / f"{table}.csv")["reason"].item()
        assert "AeLLE was not trained" in reason and "every network diverged" in reason, table
        assert reason in (results / "tables" / f"{table}.md").read_text()
    correlations = pd.read_csv(results / "tables" / "correlations.csv")
    assert correlations["rho"].isna().all()
    overall = correlations[correlations["architecture"] == "all"].set_index("epoch")["note"]
    assert (overall[0] == "every network diverged: their final losses (+inf) are all equal").all()
    assert (overall[1] == "0 of the 4 networks have a valid spectrum here, fewer than 3 (the others diverged)").all()
    with xr.open_dataset(results / "convergence.nc", engine="netcdf4") as convergence:
        assert "no network has a finite spectrum" in convergence.attrs["not_computed"]

    # Every figure is there: the analyses without data are figures that say so.
    for name in FIGURES:
        for suffix in (".png", ".pdf"):
            assert (results / "figures" / f"{name}{suffix}").stat().st_size > 1000, name
    for log in ("aelle", "tables/early_prediction", "convergence", "tables/correlations"):
        assert "Traceback" not in (tmp_path / "logs" / "diverged" / f"{log}.log").read_text(), log
    for log in (tmp_path / "logs" / "diverged" / "train").glob("*.log"):
        assert "2 networks on cpu, batched arithmetic" in log.read_text(), log
