"""The benchmark scripts run, and compare like with like.

The scripts in ``benchmarks/`` are not part of the package; their speed
numbers are only meaningful if every timed method computes the same thing,
which is what these tests check on tiny sizes (no timing is asserted).
"""

from __future__ import annotations

import importlib.util
import json
import math
import sys
from pathlib import Path
from types import ModuleType

import pytest
import torch

from lyapunov_rnn.config import load_config, network_table
from lyapunov_rnn.lyapunov import tangent_map_for

ROOT = Path(__file__).resolve().parents[1]
BENCHMARKS = ROOT / "benchmarks"


def _load(name: str) -> ModuleType:
    """Import a benchmark script as ``python benchmarks/<name>.py`` would (its folder on the path)."""
    if str(BENCHMARKS) not in sys.path:
        sys.path.insert(0, str(BENCHMARKS))
    spec = importlib.util.spec_from_file_location(f"benchmarks_{name}", BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    # dataclasses resolve annotations through sys.modules while the module executes
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def qr_variants() -> ModuleType:
    return _load("qr_variants")


def test_bench_lyapunov_reference_and_naive_baselines_agree_with_the_engine(tmp_path):
    bench = _load("bench_lyapunov")
    out = tmp_path / "bench.json"
    bench.main(
        ["--sizes", "12", "--steps", "6", "--repeats", "1", "--dtypes", "float64", "--devices", "cpu"]
        + ["--naive-max-size", "12", "--benettin-max-size", "12", "--json", str(out)]
    )
    rows = json.loads(out.read_text())["rows"]
    assert {row["cell"] for row in rows} == {"rnn", "gru", "lstm"}
    for row in rows:
        assert row["max_abs_diff_reference"] < 1e-10, row
        assert row["max_abs_diff_naive"] < 1e-10, row
        assert all(row[key] > 0 for key in ("engine_s", "reference_s", "naive_s", "floor_s", "engine_benettin_s"))


def test_lstm_step_benchmark_times_both_products_and_the_reference_on_the_same_numbers(tmp_path):
    bench = _load("lstm_step")
    out = tmp_path / "lstm.json"
    arguments = ["--sizes", "12", "--steps", "6", "--repeats", "1", "--dtype", "float64", "--benettin"]
    bench.main(arguments + ["--json", str(out)])
    (row,) = json.loads(out.read_text())["rows"]
    differences = ("max_abs_diff_reference", "max_abs_diff_products", "max_abs_diff_auto")
    for key in (*differences, "benettin_max_abs_diff_products"):
        assert row[key] < 1e-10, (key, row)
    for name in ("reference", "matrix_free", "materialised", "auto", "benettin_matrix_free", "benettin_materialised"):
        assert row[f"{name}_s"] > 0, (name, row)
    # the forced products were undone: the registry builds the rule-choosing map again
    lstm = torch.nn.LSTM(3, 4).double()
    assert tangent_map_for(lstm, torch.float64, torch.device("cpu")).jacobian_product == "auto"


def test_ensemble_benchmark_times_one_run_against_separate_calls_on_the_same_numbers(tmp_path):
    bench = _load("ensemble_spectrum")
    out = tmp_path / "ensemble.json"
    arguments = ["--sizes", "6", "--networks", "2", "--sequences", "2", "--steps", "5", "--repeats", "1"]
    rows = bench.main(arguments + ["--json", str(out)])
    assert json.loads(out.read_text())["rows"] == rows
    assert [row["architecture"] for row in rows] == ["rnn", "lstm", "gru", "asrnn", "cornn"]
    for row in rows:
        assert row["same_resolved_masks"] and row["max_abs_diff_resolved"] < 1e-10, row
        assert row["separate_s"] > 0 and row["ensemble_s"] > 0, row


def test_training_benchmark_times_both_arithmetics_on_the_same_trainings(tmp_path):
    bench = _load("ensemble_training")
    out = tmp_path / "training.json"
    arguments = ["--architectures", "gru", "--sizes", "default", "--groups", "2", "--train-sequences", "128"]
    rows = bench.main(arguments + ["--json", str(out)])
    assert json.loads(out.read_text())["rows"] == rows
    assert [row["arithmetic"] for row in rows] == ["networkwise", "batched"]
    networkwise, batched = rows
    assert networkwise["max_val_loss_rel_diff"] == 0  # byte-identical trainings on the CPU
    assert 0 <= batched["max_val_loss_rel_diff"] < 1e-5
    for row in rows:
        assert row["single_s"] > 0 and row["group_s"] > 0 and row["networks"] == 2, row


@pytest.mark.parametrize("dtype, tolerance", [(torch.float64, 1e-12), (torch.float32, 1e-5)])
@pytest.mark.parametrize("rows, k, block", [(24, 24, 8), (24, 24, 7), (30, 11, 4), (9, 9, 16)])
def test_blocked_qr_is_a_householder_qr(qr_variants, dtype, tolerance, rows, k, block):
    z = torch.randn(3, rows, k, dtype=dtype, generator=torch.Generator().manual_seed(rows + k))
    q, diag = qr_variants.blocked_qr(z, block)
    q_ref, r_ref = torch.linalg.qr(z)
    r = q.mT @ z
    assert q.shape == (3, rows, k)
    torch.testing.assert_close(q.mT @ q, torch.eye(k, dtype=dtype).expand(3, k, k), atol=tolerance, rtol=0)
    torch.testing.assert_close(r.tril(-1), torch.zeros_like(r), atol=tolerance * 10, rtol=0)
    torch.testing.assert_close(r.diagonal(dim1=-2, dim2=-1), diag, atol=tolerance * 10, rtol=0)
    # Householder QR is unique up to the signs of the columns of Q.
    torch.testing.assert_close(diag.abs(), r_ref.diagonal(dim1=-2, dim2=-1).abs(), atol=tolerance * 10, rtol=0)
    torch.testing.assert_close(q.abs(), q_ref.abs(), atol=tolerance * 100, rtol=0)


def test_blocked_qr_handles_identity_reflectors(qr_variants):
    # Below a generic 3 x 3 block, the diagonal columns need no reflection:
    # LAPACK returns tau = 0 there, in the same panels as ordinary reflectors.
    generic = torch.randn(3, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    z = torch.block_diag(generic, torch.diag(torch.tensor([2.0, 0.5, 3.0, 1.5, 4.0], dtype=torch.float64)))[None]
    assert (torch.geqrf(z)[1][0, 3:] == 0).all()
    q, diag = qr_variants.blocked_qr(z, 4)
    torch.testing.assert_close(q.mT @ q, torch.eye(8, dtype=torch.float64)[None], atol=1e-14, rtol=0)
    r = q.mT @ z
    torch.testing.assert_close(r.tril(-1), torch.zeros_like(r), atol=1e-14, rtol=0)
    torch.testing.assert_close(r.diagonal(dim1=-2, dim2=-1), diag, atol=1e-14, rtol=0)


def test_qr_variants_script_reports_every_variant(qr_variants, tmp_path):
    out = tmp_path / "qr.json"
    rows = qr_variants.main(
        ["--sizes", "20", "--blocks", "8", "--repeats", "1", "--dtypes", "float64", "--devices", "cpu"]
        + ["--json", str(out)]
    )
    assert [row["variant"] for row in rows] == ["linalg_qr", "geqrf", "blocked_8"]
    assert json.loads(out.read_text())["rows"] == rows
    for row in rows:
        if row["variant"] != "geqrf":
            assert row["orthogonality"] < 1e-13
            assert row["max_rel_diag_diff"] < 1e-6


def test_estimate_cost_covers_every_network_of_the_default_config(tmp_path):
    estimate = _load("estimate_cost")
    out = tmp_path / "cost.json"
    estimate.main([str(ROOT / "config.yaml"), "--steps", "1", "--device", "cpu", "--json", str(out)])
    (result,) = json.loads(out.read_text())["configs"]
    networks = network_table(load_config(ROOT / "config.yaml"))
    expected = networks.groupby(["architecture", "hidden_size"]).size().to_dict()
    groups = {(group["architecture"], group["hidden_size"]): group["networks"] for group in result["groups"]}
    assert groups == expected
    for group in result["groups"]:
        for key in ("seconds_per_step", "seconds_per_spectrum", "hours_training", "hours_spectra"):
            assert math.isfinite(group[key]) and group[key] > 0, (key, group)
