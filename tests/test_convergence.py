"""Convergence of the exponents in T and in the sequences averaged: known values, network choice, config key, figure."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
import xarray as xr  # noqa: E402
import yaml  # noqa: E402
from helpers.synthetic import make_dataset  # noqa: E402
from helpers.trained import ADDING, train_two_networks  # noqa: E402

from lyapunov_rnn.config import ConfigError, LyapunovConfig, experiment_config  # noqa: E402
from lyapunov_rnn.convergence import (  # noqa: E402
    convergence_sequence_count,
    experiment_convergence,
    representative_networks,
    spectrum_convergence,
)
from lyapunov_rnn.dataset import assemble, write_netcdf  # noqa: E402
from lyapunov_rnn.plots import plot_convergence, save_figure  # noqa: E402
from lyapunov_rnn.spectra import network_spectra  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
KEY = "analysis.convergence_sequences"


def _diagonal_rnn(diagonal: np.ndarray, input_weights: np.ndarray) -> torch.nn.RNN:
    """A tanh ``nn.RNN`` without bias whose recurrent matrix is ``diag(diagonal)``."""
    size = len(diagonal)
    rnn = torch.nn.RNN(input_weights.shape[1], size, bias=False, batch_first=True, dtype=torch.float64)
    with torch.no_grad():
        rnn.weight_hh_l0.copy_(torch.diag(torch.as_tensor(diagonal, dtype=torch.float64)))
        rnn.weight_ih_l0.copy_(torch.as_tensor(input_weights, dtype=torch.float64))
    return rnn


# --------------------------------------------------------------------------- #
# Known values
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize(("convention", "log", "units"), [("benettin", np.log, "nats"), ("reference", np.log2, "bits")])
def test_constant_jacobian_gives_log_diagonal_at_every_length_and_count(convention, log, units):
    # Zero input weights keep the state at 0, so J_t = diag(1 - tanh(0)^2) W = W at every step, for every sequence.
    diagonal = np.array([1.1, 0.8, -0.5, 0.3])
    rnn = _diagonal_rnn(diagonal, np.zeros((4, 3)))
    inputs = torch.randn(6, 20, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    ds = spectrum_convergence(rnn, inputs, LyapunovConfig(sequences=2, convention=convention))
    expected = np.sort(log(np.abs(diagonal)))[::-1]
    assert dict(ds.sizes) == {"steps": 20, "sequences": 6, "exponent": 4}
    np.testing.assert_array_equal(ds["steps"], np.arange(1, 21))
    np.testing.assert_allclose(ds["exponents_by_length"], np.broadcast_to(expected, (20, 4)), atol=1e-12)
    np.testing.assert_allclose(ds["exponents_by_sequences"], np.broadcast_to(expected, (6, 4)), atol=1e-12)
    assert float(ds["exponents_by_length_sem"].max()) < 1e-12
    assert np.isnan(ds["exponents_by_sequences_sem"].sel(sequences=1)).all()
    assert float(ds["exponents_by_sequences_sem"].sel(sequences=slice(2, None)).max()) < 1e-12
    assert ds.attrs["units"] == f"{units} per step"
    assert ds["exponents_by_length"].attrs["units"] == f"{units} per step"
    assert (ds.attrs["sequences"], ds.attrs["convergence_sequences"]) == (2, 6)


def test_warmup_steps_are_not_measured():
    rnn = _diagonal_rnn(np.array([0.9, 0.5]), np.zeros((2, 1)))
    ds = spectrum_convergence(rnn, torch.zeros(3, 12, 1), LyapunovConfig(warmup=5))
    assert ds.sizes["steps"] == 7 and ds.attrs["warmup"] == 5
    np.testing.assert_allclose(ds["exponents_by_length"].isel(steps=0), np.log([0.9, 0.5]), atol=1e-12)


def _driven_diagonal_rnn_exponents(diagonal: np.ndarray, inputs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Closed form for ``h_t = tanh(x_t + diag(w) h_{t-1})``: J_t is diagonal, ``w_i sech^2(a_ti)``.

    With a diagonal Jacobian the Gram-Schmidt vectors stay the unit vectors,
    so each exponent is one unit's mean of ``log |w_i sech^2(a_ti)|``.
    Returns the per-sequence finite-time exponents (B, T, N) and exponents
    (B, N), both in each sequence's descending order of its exponents.
    """
    batch, steps, size = inputs.shape
    state = np.zeros((batch, size))
    logs = np.empty((batch, steps, size))
    for t in range(steps):
        activation = inputs[:, t] + diagonal * state
        state = np.tanh(activation)
        logs[:, t] = np.log(np.abs(diagonal / np.cosh(activation) ** 2))
    running = np.cumsum(logs, axis=1) / np.arange(1, steps + 1)[None, :, None]
    order = np.argsort(-running[:, -1], axis=1)
    finite_time = np.take_along_axis(running, order[:, None, :], axis=2)
    return finite_time, finite_time[:, -1]


def test_sequence_dependent_exponents_average_as_numpy_does():
    diagonal = np.array([1.5, -0.9, 0.6])
    rng = np.random.default_rng(1)
    # Each sequence has its own input scale, so its exponents differ from the others'.
    inputs = rng.normal(size=(7, 30, 3)) * rng.uniform(0.2, 2.0, size=(7, 1, 1))
    finite_time, exponents = _driven_diagonal_rnn_exponents(diagonal, inputs)
    assert exponents.std(axis=0).min() > 0.05  # the case really is sequence-dependent
    rnn = _diagonal_rnn(diagonal, np.eye(3))
    ds = spectrum_convergence(rnn, torch.as_tensor(inputs), LyapunovConfig(sequences=3))

    np.testing.assert_allclose(ds["exponents_by_length"], finite_time.mean(axis=0), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(
        ds["exponents_by_length_sem"], finite_time.std(axis=0, ddof=1) / np.sqrt(7), rtol=1e-8, atol=1e-12
    )
    for n in range(1, 8):
        first = exponents[:n]
        at = ds.sel(sequences=n)
        np.testing.assert_allclose(at["exponents_by_sequences"], first.mean(axis=0), rtol=1e-10, atol=1e-12)
        if n > 1:
            sem = first.std(axis=0, ddof=1) / np.sqrt(n)
            np.testing.assert_allclose(at["exponents_by_sequences_sem"], sem, rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(
        ds["exponents_by_length"].isel(steps=-1), ds["exponents_by_sequences"].isel(sequences=-1)
    )


# --------------------------------------------------------------------------- #
# The representative network and the number of sequences
# --------------------------------------------------------------------------- #
def test_representative_is_the_median_non_diverged_network():
    ds = make_dataset(n_per_arch=5, seed=3)
    ds["exponents"] = ds["exponents"].fillna(0.0)  # every spectrum finite; the cases below break some
    final = np.ones(ds.sizes["network"])
    diverged = np.zeros(ds.sizes["network"], bool)
    # rnn-000 .. rnn-004: 0.4, 0.1 (diverged), 0.3, NaN loss, 0.2 -> eligible 0.4, 0.3, 0.2 -> median 0.3.
    final[:5] = [0.4, 0.1, 0.3, np.nan, 0.2]
    diverged[1] = True
    # gru-005 .. gru-009: 0.5, 0.6 (NaN spectrum), 0.7, 0.8, 0.9 -> eligible 0.5, 0.7, 0.8, 0.9 -> lower median 0.7.
    final[5:10] = [0.5, 0.6, 0.7, 0.8, 0.9]
    ds["exponents"].values[6, -1, 0] = np.nan
    # every lstm (lstm-010 .. lstm-014) diverged: no representative.
    diverged[10:15] = True
    ds["val_loss"].values[:, -1] = final
    ds["diverged"].values[:, -1] = diverged

    chosen = representative_networks(ds)
    assert list(chosen.index) == ["rnn", "gru"]
    assert chosen.loc["rnn", "network"] == "rnn-002" and chosen.loc["rnn", "final_val_loss"] == 0.3
    assert chosen.loc["gru", "network"] == "gru-007" and chosen.loc["gru", "candidates"] == 4

    ds["diverged"].values[:, -1] = True
    with pytest.raises(ValueError, match="no network"):
        representative_networks(ds)


def test_synthetic_experiment_gets_one_non_diverged_network_per_architecture():
    ds = make_dataset(n_per_arch=12, seed=2)
    chosen = representative_networks(ds)
    assert sorted(chosen.index) == ["gru", "lstm", "rnn"]
    for architecture, row in chosen.iterrows():
        network = ds.sel(network=row["network"]).isel(checkpoint=-1)
        assert str(network["architecture"].values) == architecture
        assert not bool(network["diverged"]) and np.isfinite(float(network["val_loss"]))
        members = ds.isel(checkpoint=-1).where(ds["architecture"] == architecture, drop=True)
        losses = members["val_loss"].values[~members["diverged"].values.astype(bool)]
        assert (losses < row["final_val_loss"]).sum() == (len(losses) - 1) // 2


def test_sequence_count_defaults_to_four_times_the_configured_and_checks_the_key():
    assert convergence_sequence_count(None, 15, 1000) == 60
    assert convergence_sequence_count(None, 15, 40) == 40
    assert convergence_sequence_count(30, 15, 40) == 30
    with pytest.raises(ConfigError, match=rf"{KEY}=41 exceeds the 40 test sequences of smnist"):
        convergence_sequence_count(41, 15, 40, "smnist")
    with pytest.raises(ConfigError, match=rf"{KEY}=10 is below lyapunov.sequences=15"):
        convergence_sequence_count(10, 15, 40)
    for bad in (0, -3, 2.5, True):
        with pytest.raises(ConfigError, match=f"{KEY}: must be a positive integer"):
            convergence_sequence_count(bad, 15, 40)
    with pytest.raises(ConfigError, match="lyapunov.sequences=50 exceeds"):
        convergence_sequence_count(None, 50, 40)


@pytest.mark.parametrize("value", [0, -1, 2.5, "many", True])
def test_config_rejects_a_bad_convergence_sequences_naming_the_key(value):
    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    config["analysis"]["convergence_sequences"] = value
    with pytest.raises(ConfigError, match=rf"^{KEY}: "):
        experiment_config(config)


def test_config_default_and_value_of_convergence_sequences():
    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    assert experiment_config(config).analysis.convergence_sequences is None
    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    config["analysis"]["convergence_sequences"] = 40
    assert experiment_config(config).analysis.convergence_sequences == 40


# --------------------------------------------------------------------------- #
# From checkpoints, and the figure
# --------------------------------------------------------------------------- #
@pytest.fixture(scope="module")
def experiment(tmp_path_factory):
    """A two-network experiment (GRU N=5, LSTM N=4 on the adding problem, 16 test sequences), assembled."""
    root = tmp_path_factory.mktemp("convergence")
    _, task, networks = train_two_networks(root)
    config = experiment_config(
        {
            "experiment": "tiny-convergence",
            "task": dict(ADDING),
            # Enough networks in the grid for AeLLE's three splits, so that the config is valid; the dataset is
            # assembled from the two trained ones.
            "networks": {"architecture": ["gru", "lstm"], "hidden_size": [5], "init_param": [0.5, 1.0]},
            "training": {"epochs": 2},
            "lyapunov": {"sequences": 4},
        }
    )
    files = {}
    for architecture, checkpoints in networks.items():
        files[architecture] = root / f"{architecture}.nc"
        write_netcdf(network_spectra(checkpoints, task, config.lyapunov, progress=False), files[architecture])
    ds = assemble(files, config=config, sequence_length=task.test_inputs.shape[1])
    directories = {architecture: checkpoints[0].parent for architecture, checkpoints in networks.items()}
    return ds, directories, task, config


def test_experiment_convergence_from_checkpoints(experiment, tmp_path):
    ds, directories, task, config = experiment
    result = experiment_convergence(ds, directories, task, config.lyapunov, device="cpu")
    assert list(result["architecture"].values) == ["gru", "lstm"]
    assert dict(result.sizes) == {"architecture": 2, "steps": 12, "sequences": 16, "exponent": 8}
    assert result["exponent_count"].values.tolist() == [5, 8]
    assert np.isnan(result["exponents_by_length"].sel(architecture="gru", exponent=slice(6, None))).all()
    assert np.isfinite(result["exponents_by_length"].sel(architecture="lstm")).all()
    assert (result.attrs["sequences"], result.attrs["convergence_sequences"]) == (4, 16)
    assert result.attrs["sequence_length"] == 12 and result.attrs["units"] == "nats per step"
    assert result["epoch"].values.tolist() == [2, 2]
    # The mean over the first lyapunov.sequences sequences is the experiment's spectrum at the last checkpoint.
    at_configured = result["exponents_by_sequences"].sel(sequences=4)
    spectra = ds["exponents"].isel(checkpoint=-1).sel(network=result["network"].values)
    np.testing.assert_allclose(at_configured.values, spectra.values, rtol=1e-10, equal_nan=True)

    path = tmp_path / "convergence.nc"
    write_netcdf(result, path)
    xr.testing.assert_identical(xr.load_dataset(path), result)

    with pytest.raises(ConfigError, match=rf"{KEY}=17 exceeds the 16 test sequences of adding"):
        experiment_convergence(ds, directories, task, config.lyapunov, sequences=17, device="cpu")


def test_convergence_figure_panels_and_units(experiment, tmp_path):
    ds, directories, task, config = experiment
    result = experiment_convergence(ds, directories, task, config.lyapunov, sequences=10, device="cpu")
    fig = plot_convergence(result)
    axes = fig.axes
    assert len(axes) == 4  # (lstm, gru), in the project's architecture order, x (by length, by sequences)
    for ax in axes:
        assert ax.get_title() and ax.get_xlabel()
        assert ax.get_ylabel() == r"Lyapunov exponent $\lambda_i$ (nats/step)"
    labels = [[text.get_text() for text in ax.get_legend().get_texts()] for ax in axes]
    assert labels[0] == [r"$\lambda_{1}$", r"$\lambda_{4}$", r"$\lambda_{8}$"]  # lstm: (h, c), 8 exponents
    assert labels[2] == [r"$\lambda_{1}$", r"$\lambda_{3}$", r"$\lambda_{5}$"]  # gru: 5 exponents
    assert axes[0].get_title().startswith("lstm") and axes[2].get_title().startswith("gru")
    assert labels[1][-1] == "lyapunov.sequences = 4"
    vertical = [line for line in axes[1].get_lines() if line.get_linestyle() == "--"]
    assert len(vertical) == 1 and vertical[0].get_xdata()[0] == 4
    assert axes[1].get_xlim()[1] >= 10 and axes[0].get_xlim()[1] >= 12
    assert "10 test sequences" in fig.get_suptitle()
    paths = save_figure(fig, tmp_path / "convergence")
    assert all(path.stat().st_size > 0 for path in paths)

    result.attrs["units"] = "bits per step"
    fig = plot_convergence(result)
    assert all("(bits/step)" in ax.get_ylabel() for ax in fig.axes)
