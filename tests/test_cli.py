"""The command line: spectra of checkpoints, help texts, clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import xarray as xr
import yaml
from helpers.synthetic import make_dataset
from helpers.trained import ADDING, train_two_networks
from helpers.workflow import TINY

from lyapunov_rnn.cli import main


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    return train_two_networks(tmp_path_factory.mktemp("trained"))


def test_cli_spectrum_writes_netcdf(trained, tmp_path, capsys):
    task_path, _, networks = trained
    output = tmp_path / "gru.nc"
    status = main(["spectrum", str(networks["gru"][0].parent), "--task", str(task_path),
                   "-o", str(output), "--sequences", "3", "-k", "2"])
    assert status == 0
    ds = xr.load_dataset(output)
    assert dict(ds.sizes) == {"checkpoint": 3, "exponent": 2}
    assert "top exponents" in capsys.readouterr().out


def test_cli_reports_bad_input_clearly(trained, tmp_path, capsys):
    task_path, _, _ = trained
    bad = tmp_path / "epoch_000.pt"
    bad.write_text("garbage")
    status = main(["spectrum", str(bad), "--task", str(task_path), "-o", str(tmp_path / "x.nc"), "-q"])
    assert status == 2
    assert "epoch_000.pt" in capsys.readouterr().err
    assert not (tmp_path / "x.nc").exists()


def test_cli_help_documents_every_option(capsys):
    with pytest.raises(SystemExit):
        main(["spectrum", "--help"])
    text = capsys.readouterr().out
    for option in ("--task", "--output", "--sequences", "--warmup", "-k", "--convention", "--dtype", "--device"):
        assert option in text


# --------------------------------------------------------------------------- #
# User errors: one line on stderr, exit status 2, never a traceback (issue 15)
# --------------------------------------------------------------------------- #
def _one_line_error(capsys, *fragments: str) -> str:
    """The captured stderr: exactly one line, naming every fragment."""
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in err, (fragment, err)
    return err


@pytest.mark.parametrize("command", ["check-config", "prepare-task"])
def test_invalid_yaml_is_one_line_with_its_line_number(tmp_path, capsys, command):
    config = tmp_path / "broken.yaml"
    config.write_text("experiment: x\ntask:\n  name: adding\n  seed: [1, 2\nnetworks: {}\n")
    extra = ["-o", str(tmp_path / "task.npz")] if command == "prepare-task" else []
    assert main([command, str(config), *extra]) == 2
    _one_line_error(capsys, "broken.yaml", "not valid YAML", "line 5, column 9")
    assert not (tmp_path / "task.npz").exists()


def test_missing_or_invalid_config_is_one_line(tmp_path, capsys):
    assert main(["check-config", str(tmp_path / "absent.yaml")]) == 2
    _one_line_error(capsys, "absent.yaml", "No such file")
    config = tmp_path / "bad.yaml"
    config.write_text(yaml.safe_dump({**TINY, "experiment": ".."}))
    assert main(["check-config", str(config)]) == 2
    _one_line_error(capsys, "experiment: '..'")


def test_info_on_a_file_that_is_not_netcdf_is_one_line(tmp_path, capsys):
    garbage = tmp_path / "lyapunov.nc"
    garbage.write_text("not a netCDF file")
    assert main(["info", str(garbage)]) == 2
    _one_line_error(capsys, str(garbage))
    other = tmp_path / "other.nc"
    xr.Dataset({"temperature": ("time", [1.0, 2.0])}).to_netcdf(other, engine="netcdf4")
    assert main(["info", str(other)]) == 2
    _one_line_error(capsys, str(other), "not an experiment dataset")


@pytest.mark.parametrize("command", ["spectrum", "prepare-task"])
@pytest.mark.parametrize("where", ["directory", "below-a-file", "below-a-file-deeper"])
def test_unwritable_output_is_reported_before_computing(trained, tmp_path, capsys, command, where):
    task_path, _, networks = trained
    (tmp_path / "a-file").write_text("")
    output = {
        "directory": tmp_path,
        "below-a-file": tmp_path / "a-file" / "out",
        "below-a-file-deeper": tmp_path / "a-file" / "missing" / "out",
    }[where]
    config = tmp_path / "adding.yaml"
    config.write_text(yaml.safe_dump({**TINY, "task": ADDING}))
    if command == "spectrum":
        argv = ["spectrum", str(networks["gru"][0].parent), "--task", str(task_path), "-o", str(output), "-q"]
    else:
        argv = ["prepare-task", str(config), "-o", str(output)]
    assert main(argv) == 2
    _one_line_error(capsys, f"cannot write {output}")
    assert sorted(path.name for path in tmp_path.iterdir()) == ["a-file", "adding.yaml"]  # nothing written


def test_missing_output_directories_are_created(tmp_path, capsys):
    config = tmp_path / "adding.yaml"
    config.write_text(yaml.safe_dump({**TINY, "task": ADDING}))
    output = tmp_path / "new" / "directory" / "task.npz"
    assert main(["prepare-task", str(config), "-o", str(output)]) == 0
    assert output.is_file() and f"wrote {output}" in capsys.readouterr().out


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux /proc, where no file can be created")
def test_a_failed_write_names_the_users_path_not_the_temporary_file(tmp_path, capsys):
    config = tmp_path / "adding.yaml"
    config.write_text(yaml.safe_dump({**TINY, "task": ADDING}))
    assert main(["prepare-task", str(config), "-o", "/proc/task.npz"]) == 2
    err = _one_line_error(capsys, "cannot write /proc/task.npz")
    assert ".tmp" not in err


def _malformed(checkpoint, tmp_path, change) -> str:
    """A copy of ``checkpoint`` (epoch 0) in its own directory, changed by ``change(payload)``; its directory."""
    import torch

    payload = torch.load(checkpoint, weights_only=True)
    change(payload)
    directory = tmp_path / "malformed"
    directory.mkdir()
    torch.save(payload, directory / "epoch_000.pt")
    return str(directory / "epoch_000.pt")


@pytest.mark.parametrize(
    "change, fragment",
    [
        (lambda p: p.pop("model_config"), "lacks the keys ['model_config']"),
        (lambda p: p.pop("diverged"), "lacks the keys ['diverged']"),
        (lambda p: p["model_config"].pop("hidden_size"), "model_config lacks the key 'hidden_size'"),
        (lambda p: p["model_config"]["cell_options"].update(bogus=1), "malformed: "),
        (lambda p: p["model_config"].update(architecture="transformer"), "unknown architecture 'transformer'"),
        (lambda p: p["model_config"].update(hidden_size=7), "malformed: Error(s) in loading state_dict for "
         "SequenceModel: size mismatch for"),
        (lambda p: p.update(format="something else"), "is not a lyapunov_rnn.checkpoint/1 checkpoint"),
    ],
    ids=["no-model-config", "no-metrics", "no-hidden-size", "unknown-option", "unknown-architecture",
         "weights-do-not-fit", "wrong-format"],
)
def test_malformed_checkpoint_is_one_line_naming_the_file(trained, tmp_path, capsys, change, fragment):
    task_path, _, networks = trained
    path = _malformed(networks["gru"][0], tmp_path, change)
    output = tmp_path / "out.nc"
    assert main(["spectrum", path, "--task", str(task_path), "-o", str(output), "-q"]) == 2
    _one_line_error(capsys, path, fragment)
    assert not output.exists()


@pytest.mark.parametrize(
    "option, value, fragment",
    [("--sequences", "0", "must be an integer >= 1"), ("-k", "two", "must be an integer"),
     ("--warmup", "-1", "must be an integer >= 0")],
)
def test_bad_numeric_options_are_usage_errors(trained, tmp_path, capsys, option, value, fragment):
    task_path, _, networks = trained
    with pytest.raises(SystemExit) as exit_:
        main(["spectrum", str(networks["gru"][0]), "--task", str(task_path), "-o", str(tmp_path / "x.nc"),
              option, value])
    assert exit_.value.code == 2
    assert fragment in capsys.readouterr().err


def test_options_the_network_cannot_take_are_one_line(trained, tmp_path, capsys):
    task_path, _, networks = trained
    base = ["spectrum", str(networks["gru"][0]), "--task", str(task_path), "-o", str(tmp_path / "x.nc"), "-q"]
    assert main([*base, "-k", "6"]) == 2  # the GRU has 5 hidden units
    _one_line_error(capsys, "k must be between 1 and the tangent-space dimension 5, got 6")
    assert main([*base, "--sequences", "17"]) == 2  # 16 test sequences
    _one_line_error(capsys, "lyapunov.sequences=17", "16 test sequences")
    assert main([*base, "--device", "nonsense"]) == 2
    _one_line_error(capsys, "--device nonsense")


# --------------------------------------------------------------------------- #
# Help texts and what `info` prints (issue 15)
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize(
    "command, fragments",
    [
        ("check-config", ["Validate an experiment config as the workflow does before any job", "networks per"]),
        ("prepare-task", ["Build the train and test sequences", "--cache", "--output"]),
        ("info", ["per architecture", "median largest Lyapunov exponent", "--verbose"]),
    ],
)
def test_every_command_has_a_description(capsys, command, fragments):
    with pytest.raises(SystemExit):
        main([command, "--help"])
    text = " ".join(capsys.readouterr().out.split())  # argparse wraps lines
    for fragment in fragments:
        assert fragment in text, fragment


def test_info_says_what_its_numbers_are(tmp_path, capsys):
    ds = make_dataset(n_per_arch=4, epochs=3)
    ds = ds.assign_coords(replicate=("network", [0] * 12)).assign(train_loss=ds["val_loss"])
    ds.attrs.update(convention="benettin", sequences=15, sequence_length=28, warmup=0)
    path = tmp_path / "lyapunov.nc"
    ds.to_netcdf(path, engine="netcdf4")
    assert main(["info", str(path)]) == 0
    out = capsys.readouterr().out
    assert "experiment 'synthetic'" in out and "12 networks x 4 checkpoints (epochs 0 to 3)" in out
    assert "nats per step, benettin convention" in out
    assert "mean over 15 test sequences of 28 steps, of which the first 0 are a warm-up" in out
    header = next(line for line in out.splitlines() if "mean_final_accuracy" in line).split()
    assert header == ["networks", "diverged", "exponents", "mean_final_accuracy", "median_final_loss",
                      "median_largest_exponent"]
    rows = {line.split()[0]: line.split()[1:] for line in out.splitlines() if line.split()[:1] in (["rnn"], ["lstm"])}
    assert rows["lstm"][:3] == ["4", str(int(ds["diverged"].isel(checkpoint=-1).where(
        ds["architecture"] == "lstm", drop=True).sum())), "16"]
    legend = {line.split()[0] for line in out.split("columns:")[1].splitlines() if line.startswith("  ")}
    assert legend == set(header)  # the legend explains every column
    assert "lambda_1 of the last checkpoint's spectrum (nats per step), median" in out
