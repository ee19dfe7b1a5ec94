"""The workflow on a SLURM cluster, through workflow/profiles/slurm.

Needs a running SLURM with accounting (sacct), a partition `debug`, an
account `lyapunov-test` and a (fake) GPU: tests/slurm/up.sh starts exactly
that on this machine (as root); tests/slurm/down.sh stops it. Without a
cluster the test is skipped, except under CI (CI set), where it fails.
"""

from __future__ import annotations

import collections
import importlib.util
import os
import re
import shutil
import signal
import subprocess
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
import yaml
from helpers.workflow import ROOT, SNAKEMAKE, TINY  # 6 networks, 3 checkpoints each

PROFILE = ROOT / "workflow" / "profiles" / "slurm" / "config.yaml"
PARTITION = os.environ.get("LYAPUNOV_SLURM_PARTITION", "debug")
ACCOUNT = os.environ.get("LYAPUNOV_SLURM_ACCOUNT", "lyapunov-test")
TIMEOUT = 1200  # seconds for the whole SLURM run; it takes ~3-6 min on 2 cores

NETWORKS = 6
GROUPS = ("rnn_6_000", "lstm_6_001")  # training groups (group_size 12 > the 3 networks of each architecture)

pytestmark = [pytest.mark.slurm, pytest.mark.slow]


def _command(*args: str, timeout: float = 30) -> subprocess.CompletedProcess:
    return subprocess.run(list(args), capture_output=True, text=True, timeout=timeout)


def _missing_cluster() -> str | None:
    """Why no usable SLURM cluster is reachable, or None if there is one."""
    if importlib.util.find_spec("snakemake_executor_plugin_slurm") is None:
        return "snakemake-executor-plugin-slurm is not installed (pip install -e '.[test]')"
    for tool in ("sinfo", "sbatch", "sacct"):
        if shutil.which(tool) is None:
            return f"`{tool}` not found (no SLURM client installed)"
    try:
        nodes = _command("sinfo", "-h", "-p", PARTITION, "-o", "%T")
        if nodes.returncode != 0:
            return f"`sinfo` failed: {nodes.stderr.strip()}"
        if not re.search(r"^(idle|mixed|allocated|completing)", nodes.stdout, re.MULTILINE):
            return f"no usable node in partition {PARTITION!r}: {nodes.stdout.split() or 'none'}"
        accounting = _command("sacct", "-n", "-X", "-S", "now-1minutes", "-o", "JobID")
        if accounting.returncode != 0:
            return f"`sacct` failed (no accounting?): {accounting.stderr.strip()}"
    except subprocess.TimeoutExpired as error:
        return f"`{error.cmd[0]}` did not answer within {error.timeout} s"
    return None


@pytest.fixture(scope="module")
def cluster():
    reason = _missing_cluster()
    if reason is None:
        return
    message = f"no local SLURM cluster: {reason}. Start one with `sudo tests/slurm/up.sh`."
    if os.environ.get("CI"):
        pytest.fail(f"CI is set, so the SLURM test must run; {message}", pytrace=False)
    pytest.skip(message)


def _start(args: list[str], cwd: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [*SNAKEMAKE, *args], cwd=cwd, env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )


def _finish(process: subprocess.Popen, timeout: float) -> str:
    """Output of a Snakemake run; on timeout, stop it with SIGINT (it ignores SIGTERM while polling)."""
    try:
        output, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGINT)  # Snakemake cancels its SLURM jobs on SIGINT
        try:
            output, _ = process.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            process.kill()
            output, _ = process.communicate()
        pytest.fail(f"Snakemake did not finish within {timeout} s:\n{output[-8000:]}", pytrace=False)
    return output


def _slurm_profile(directory: Path) -> Path:
    """The repository's profile with partition and account filled in, as the README says, plus quicker polling."""
    text = PROFILE.read_text()
    placeholder = '# default-resources:\n#   slurm_partition: "gpu"\n#   slurm_account: "my_project"\n'
    assert placeholder in text, "workflow/profiles/slurm/config.yaml no longer has the documented placeholder"
    text = text.replace(
        placeholder, f'default-resources:\n  slurm_partition: "{PARTITION}"\n  slurm_account: "{ACCOUNT}"\n'
    )
    text += "\n# Test only: poll every 2 s instead of waiting 40 s + 10 s.\n"
    text += "slurm-init-seconds-before-status-checks: 2\nseconds-between-status-checks: 2\n"
    directory.mkdir()
    (directory / "config.yaml").write_text(text)
    yaml.safe_load(text)
    return directory


@pytest.mark.timeout(TIMEOUT + 600)
def test_tiny_workflow_on_slurm_matches_a_local_run(cluster, tmp_path):
    on_slurm, local = tmp_path / "slurm", tmp_path / "local"
    for directory in (on_slurm, local):
        directory.mkdir()
        (directory / "config.yaml").write_text(yaml.safe_dump(TINY))
    profile = _slurm_profile(tmp_path / "profile")

    # The local reference (spectra only) uses the core the single fake GPU leaves idle.
    reference = _start(["results/tiny/lyapunov.nc", "--cores", "1", "--configfile", "config.yaml"], local)
    run = _start(["--workflow-profile", str(profile), "--configfile", "config.yaml"], on_slurm)
    output = _finish(run, TIMEOUT)
    reference_output = _finish(reference, 600)
    assert run.returncode == 0, output[-8000:]
    assert reference.returncode == 0, reference_output[-5000:]

    # Which Snakemake jobs ran where: "rule X:" headers are cluster jobs, "localrule X:" local ones.
    headers = collections.Counter(re.findall(r"^\s*(rule|localrule) (\w+):$", output, re.MULTILINE))
    remote = {name: count for (kind, name), count in headers.items() if kind == "rule"}
    assert remote == {
        **{f"train_{group}": 1 for group in GROUPS},
        **{f"spectra_{group}": 1 for group in GROUPS},
        "aelle": 1,
        "convergence": 1,
    }, headers
    assert {name for kind, name in headers if kind == "localrule"} >= {
        "prepare_task", "assemble", "collect_metrics", "figure_latent_embedding", "table_early_prediction",
    }

    # Every cluster job was an sbatch submission: train + spectra (both input sets) of a training group, one job.
    run_id = re.search(r"SLURM run ID: (\S+)", output).group(1)
    submitted = dict(re.findall(r"submitted with SLURM jobid (\d+) \(log: .*/logs/slurm/([^/]+)/", output))
    kinds = collections.Counter(submitted.values())
    group_kinds = {kind for kind in kinds if kind.startswith("group_networks")}
    assert len(group_kinds) == len(GROUPS) and all(kinds[kind] == 1 for kind in group_kinds), output[-5000:]
    assert {kind: count for kind, count in kinds.items() if kind not in group_kinds} == {
        "rule_aelle": 1,
        "rule_convergence": 1,
    }, output[-5000:]

    # sacct (accounting) saw each of them complete, with the profile's partition and account, and
    # exactly the jobs that run the engine (train/spectra groups, convergence) requested and got the GPU.
    accounting = _command(
        "sacct", "-X", "-P", "-n", "--name", run_id, "-S", "now-2hours",
        "-o", "JobIDRaw,State,Partition,Account,ReqTRES,AllocTRES,ExitCode",
    )
    assert accounting.returncode == 0, accounting.stderr
    rows = {line.split("|")[0]: line.split("|") for line in accounting.stdout.splitlines() if line}
    assert set(rows) == set(submitted), (accounting.stdout, submitted)
    for job_id, (_, state, partition, account, requested, allocated, exit_code) in rows.items():
        assert (state, exit_code) == ("COMPLETED", "0:0"), rows[job_id]
        assert (partition, account) == (PARTITION, ACCOUNT), rows[job_id]
        wants_gpu = submitted[job_id] in (*group_kinds, "rule_convergence")
        assert ("gres/gpu=1" in requested) is wants_gpu, rows[job_id]
        assert ("gres/gpu=1" in allocated) is wants_gpu, rows[job_id]

    # The rules' own logs stay; the SLURM logs of successful jobs are deleted by the plugin.
    assert sorted(path.stem for path in (on_slurm / "logs" / "tiny" / "train").glob("*.log")) == sorted(GROUPS)
    assert not list((on_slurm / "logs" / "slurm").rglob("*.log"))

    # Same results as the local run: training and Lyapunov spectra are deterministic on CPU.
    results = on_slurm / "results" / "tiny"
    for name in ("spectra", "accuracy_vs_init", "latent_embedding", "early_prediction",
                 "statistic_correlations", "aelle_training"):
        assert (results / "figures" / f"{name}.png").stat().st_size > 1000, name
    with xr.open_dataset(results / "lyapunov.nc") as got, \
            xr.open_dataset(local / "results" / "tiny" / "lyapunov.nc") as expected:
        assert got.sizes == expected.sizes
        assert list(got["network"].values) == list(expected["network"].values)
        np.testing.assert_array_equal(got["exponents"].values, expected["exponents"].values)
        np.testing.assert_array_equal(got["val_loss"].values, expected["val_loss"].values)
