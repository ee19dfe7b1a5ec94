"""Command-line interface: ``lyapunov-rnn <command> --help``."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

DESCRIPTION = """\
Lyapunov-spectrum analysis of recurrent neural networks (AeLLE).

The Snakemake workflow (`snakemake --cores all`) runs the whole analysis; these
commands expose its steps for single files."""


class UserError(Exception):
    """An error in what the user gave (a path, a file, an option): reported as one line, without a traceback."""


def _positive_int(text: str) -> int:
    """An argparse type: an integer >= 1."""
    value = _int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be an integer >= 1, got {text}")
    return value


def _non_negative_int(text: str) -> int:
    """An argparse type: an integer >= 0."""
    value = _int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be an integer >= 0, got {text}")
    return value


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer, got {text!r}") from None


def check_writable(path: Path) -> None:
    """Raise :class:`UserError` naming ``path`` if a file cannot be written there; called before any computation.

    The output is written atomically (a temporary file in the same directory,
    then a rename), and missing directories are created: the path must not
    be a directory, and its nearest existing ancestor must be a directory in
    which this user may create files.
    """
    if path.is_dir():
        raise UserError(f"cannot write {path}: it is a directory")
    ancestor = path.parent
    while not ancestor.exists():
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise UserError(f"cannot write {path}: {ancestor} is not a directory")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise UserError(f"cannot write {path}: no permission to create files in {ancestor}")


@contextmanager
def _writing(path: Path) -> Iterator[None]:
    """Report a failure to write ``path``, or the temporary file it is written through, as one about ``path``."""
    try:
        yield
    except OSError as err:
        failed = Path(err.filename) if err.filename else None
        if failed is not None and failed.parent == path.parent and failed.name.startswith(f".{path.name}."):
            raise UserError(f"cannot write {path}: {err.strerror or err}") from None
        raise


def _device(name: str | None) -> str | None:
    """``--device`` checked: a torch device name, and CUDA only where there is one."""
    import torch

    if name is None:
        return None
    try:
        device = torch.device(name)
    except RuntimeError as err:
        raise UserError(f"--device {name}: not a torch device ({err})") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise UserError(f"--device {name}: this machine (this torch build) has no CUDA device")
    return name


def _spectrum(args: argparse.Namespace) -> int:
    from lyapunov_rnn.checkpoints import checkpoint_files
    from lyapunov_rnn.config import LyapunovConfig
    from lyapunov_rnn.dataset import write_netcdf
    from lyapunov_rnn.spectra import network_spectra
    from lyapunov_rnn.tasks import load_task

    check_writable(args.output)
    device = _device(args.device)
    checkpoints = [Path(path) for path in args.checkpoints]
    if len(checkpoints) == 1 and checkpoints[0].is_dir():
        checkpoints = checkpoint_files(checkpoints[0])
    options = LyapunovConfig(
        sequences=args.sequences,
        warmup=args.warmup,
        k=args.k,
        convention=args.convention,
        dtype=args.dtype,
        rounding_check=args.rounding_check,
    )
    spectra = network_spectra(
        checkpoints,
        load_task(args.task),
        options,
        device=device,
        num_threads=args.threads,
        progress=not args.quiet,
    )
    with _writing(args.output):
        write_netcdf(spectra, args.output)
    if not args.quiet:
        exponents = spectra["exponents"].isel(checkpoint=-1).values
        resolved = int(spectra["exponents_resolved"].isel(checkpoint=-1).sum())
        sizes = spectra.sizes
        print(f"wrote {args.output}: {sizes['checkpoint']} checkpoint(s) x {sizes['exponent']} exponents")
        print(f"last checkpoint, top exponents ({spectra['exponents'].attrs['units']}): {exponents[:5].round(4)}")
        print(f"last checkpoint, {resolved} of {sizes['exponent']} exponents numerically resolved")
    return 0


def _prepare_task(args: argparse.Namespace) -> int:
    from lyapunov_rnn.config import load_config
    from lyapunov_rnn.tasks import prepare_task

    config = load_config(args.config)
    check_writable(args.output)
    with _writing(args.output):
        prepare_task(config.task, args.output, cache_dir=args.cache)
    print(f"wrote {args.output}")
    return 0


def _check_config(args: argparse.Namespace) -> int:
    from lyapunov_rnn.config import GRID_TRAINING_OPTIONS, load_config, network_table

    config = load_config(args.config)
    table = network_table(config)
    epochs = config.training.epochs
    print(f"{args.config}: valid; experiment {config.experiment!r}")
    print(f"{len(table)} networks x {epochs + 1} checkpoints = {len(table) * (epochs + 1)} spectra")
    print(table.groupby("architecture").size().to_string())
    for option in GRID_TRAINING_OPTIONS:
        if option in table:
            print(f"{option} swept: {', '.join(sorted(set(table[option]), key=float))}")
    return 0


def _open_dataset(path: Path):
    """The experiment dataset at ``path``; :class:`UserError` naming it if it is no readable one."""
    from lyapunov_rnn.dataset import open_experiment

    try:
        return open_experiment(path)
    except OSError as err:
        raise UserError(f"cannot read {path} as netCDF: {err.strerror or err}") from None
    except (KeyError, ValueError) as err:  # a netCDF file without the experiment layout
        message = str(err)
        if str(path) not in message:
            message = f"{path} is not an experiment dataset: {message}"
        raise UserError(message) from None


def _info(args: argparse.Namespace) -> int:
    import numpy as np
    import pandas as pd

    from lyapunov_rnn.dataset import final_values, valid_spectrum_mask

    ds = _open_dataset(args.dataset)
    units = ds.attrs.get("units", "units of the dataset")
    epochs = ds["epoch"].values
    print(f"{args.dataset}: experiment {ds.attrs.get('experiment', '?')!r}, task {ds['task'].values[0]}")
    print(
        f"{ds.sizes['network']} networks x {ds.sizes['checkpoint']} checkpoints (epochs {epochs[0]} to {epochs[-1]}) "
        f"x up to {ds.sizes['exponent']} exponents ({units}, {ds.attrs.get('convention', '?')} convention)"
    )
    print(
        f"each spectrum: the mean over {ds.attrs.get('sequences', '?')} test sequences of "
        f"{ds.attrs.get('sequence_length', '?')} steps, of which the first {ds.attrs.get('warmup', '?')} are a warm-up"
    )
    last = ds.isel(checkpoint=-1)
    valid = valid_spectrum_mask(last).values
    table = pd.DataFrame(
        {
            "architecture": ds["architecture"].values.astype(str),
            "diverged": last["diverged"].values.astype(bool),
            "exponents": ds["state_size"].values if "state_size" in ds.coords else np.nan,
            "accuracy": final_values(ds, "val_accuracy").values,
            "loss": final_values(ds, "val_loss").values,
            "largest": np.where(valid, last["exponents"].max("exponent").values, np.nan),
        }
    )
    summary = table.groupby("architecture", sort=False).agg(
        networks=("diverged", "size"),
        diverged=("diverged", "sum"),
        exponents=("exponents", "max"),
        mean_final_accuracy=("accuracy", "mean"),
        median_final_loss=("loss", "median"),
        median_largest_exponent=("largest", "median"),
    )
    print(f"\nper architecture, after the last epoch ({epochs[-1]}):")
    print(summary.round(3).to_string())
    legend = {
        "networks": "networks of the architecture",
        "diverged": "of them, networks whose loss became NaN or infinite by the last epoch",
        "exponents": "exponents of a full spectrum (the dimension of the state in this convention)",
        "mean_final_accuracy": "validation accuracy after the last epoch (task's test split, fraction 0-1), mean",
        "median_final_loss": "validation loss after the last epoch (the task's loss), median",
        "median_largest_exponent": f"largest exponent lambda_1 of the last checkpoint's spectrum ({units}), median",
    }
    print("\ncolumns:")
    for column, meaning in legend.items():
        print(f"  {column:<24} {meaning}")
    print("Diverged networks are left out of the means and medians (NaN where every network diverged).")
    if args.verbose:
        print()
        print(ds)
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``lyapunov-rnn``."""
    from lyapunov_rnn.config import LyapunovConfig
    from lyapunov_rnn.conventions import ALIASES, CONVENTIONS

    parser = argparse.ArgumentParser(
        prog="lyapunov-rnn", description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    spectrum = commands.add_parser(
        "spectrum",
        help="Lyapunov spectrum of saved checkpoints, written as netCDF",
        description="Compute the Lyapunov spectrum of each checkpoint (epoch_XXX.pt files written by the "
        "workflow's train rule), driven by the first test sequences of a task file, and write one "
        "netCDF dataset with dims (checkpoint, exponent).",
    )
    spectrum.add_argument(
        "checkpoints", nargs="+", help="checkpoint files, or one directory holding epoch_*.pt files"
    )
    spectrum.add_argument(
        "--task", required=True, type=Path, help="task file (.npz) from `prepare-task` or the workflow"
    )
    spectrum.add_argument("-o", "--output", required=True, type=Path, help="netCDF file to write")
    defaults = LyapunovConfig()
    spectrum.add_argument(
        "--sequences",
        type=_positive_int,
        default=defaults.sequences,
        help=f"test sequences driving the network; spectra are averaged (default {defaults.sequences})",
    )
    spectrum.add_argument(
        "--warmup",
        type=_non_negative_int,
        default=defaults.warmup,
        help=f"time steps that advance the state before measuring (default {defaults.warmup})",
    )
    spectrum.add_argument(
        "-k", type=_positive_int, default=defaults.k, help="number of exponents (default: full state)"
    )
    spectrum.add_argument(
        "--convention",
        choices=[*CONVENTIONS, *ALIASES],
        default=defaults.convention,
        help="benettin: full-state Jacobian, Q <- qr(J Q), nats/step (correct); "
        "reference: the published AeLLE code's conventions, bits/step ('aelle' is its old name) "
        f"(default {defaults.convention})",
    )
    spectrum.add_argument(
        "--dtype",
        choices=["float64", "float32"],
        default=defaults.dtype,
        help=f"arithmetic precision (default {defaults.dtype})",
    )
    spectrum.add_argument(
        "--no-rounding-check",
        dest="rounding_check",
        action="store_false",
        help="skip the second, perturbed run that marks exponents set by amplified rounding as unresolved "
        "(halves the cost; the exponents are the same, exponents_resolved flags fewer)",
    )
    spectrum.add_argument(
        "--device", default=None, help="torch device, e.g. cpu or cuda:0 (default: cuda if available)"
    )
    spectrum.add_argument(
        "--threads",
        type=_positive_int,
        default=1,
        help="CPU threads (default 1, as the workflow's spectra jobs, so that both give identical numbers: "
        "the thread count changes the values through rounding, unresolved exponents by up to tens of nats per step)",
    )
    spectrum.add_argument("-q", "--quiet", action="store_true", help="no progress bar or summary")
    spectrum.set_defaults(handler=_spectrum)

    prepare = commands.add_parser(
        "prepare-task",
        help="build a task file (downloading data if needed) from a config's task section",
        description="Build the train and test sequences of the task that an experiment config names (its `task` "
        "section; the config is validated first) and write them as one .npz file, the input of `spectrum --task`. "
        "Tasks that need data download it into the cache (checksums verified) or reuse what is there. The same "
        "config always gives a byte-identical file.",
    )
    prepare.add_argument("config", type=Path, help="experiment config (YAML)")
    prepare.add_argument("-o", "--output", required=True, type=Path, help="task file to write (.npz)")
    prepare.add_argument("--cache", type=Path, default=Path("resources"), help="download cache (default resources/)")
    prepare.set_defaults(handler=_prepare_task)

    check = commands.add_parser(
        "check-config",
        help="validate an experiment config and summarise its grid",
        description="Validate an experiment config as the workflow does before any job: the schema "
        "(workflow/schemas/config.schema.yaml), the task's options, and whether the options fit together and with "
        "the task (lyapunov.k, warmup and sequences, AeLLE's split, ...). An error names the key and exits with "
        "status 2. A valid config prints the number of networks, checkpoints and spectra, the networks per "
        "architecture, and the training options a grid sweeps.",
    )
    check.add_argument("config", type=Path, help="experiment config (YAML)")
    check.set_defaults(handler=_check_config)

    info = commands.add_parser(
        "info",
        help="summarise an experiment dataset (lyapunov.nc)",
        description="Summarise an experiment dataset: its size, units and convention, and per architecture the "
        "number of networks, how many diverged, the spectrum size, and after the last epoch the mean validation "
        "accuracy, the median validation loss and the median largest Lyapunov exponent; a legend under the "
        "table says what each number is.",
    )
    info.add_argument("dataset", type=Path, help="results/<experiment>/lyapunov.nc")
    info.add_argument("-v", "--verbose", action="store_true", help="also print the whole dataset (xarray)")
    info.set_defaults(handler=_info)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``lyapunov-rnn``; returns the exit status.

    Errors in what the user gave (an invalid config, an unreadable or
    malformed file, a path that cannot be written, a failed download) are
    one line on stderr naming the file or key, and exit status 2.
    """
    from lyapunov_rnn.download import DownloadError

    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except (UserError, ValueError, OSError, DownloadError) as err:
        message = str(err).replace("\n", " ") if not isinstance(err, OSError) else _os_error(err)
        print(f"lyapunov-rnn {args.command}: error: {message}", file=sys.stderr)
        return 2


def _os_error(error: OSError) -> str:
    """``<path>: <reason>`` for an OSError, without the errno prefix."""
    if error.filename is None:
        return str(error)
    return f"{error.filename}: {error.strerror or error}"


if __name__ == "__main__":
    sys.exit(main())
