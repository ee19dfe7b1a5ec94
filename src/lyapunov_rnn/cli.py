"""Command-line interface: ``lyapunov-rnn <command> --help``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

DESCRIPTION = """\
Lyapunov-spectrum analysis of recurrent neural networks (AeLLE).

The Snakemake workflow (`snakemake --cores all`) runs the whole analysis; these
commands expose its steps for single files."""


def _spectrum(args: argparse.Namespace) -> int:
    from lyapunov_rnn.checkpoints import checkpoint_files
    from lyapunov_rnn.config import LyapunovConfig
    from lyapunov_rnn.dataset import write_netcdf
    from lyapunov_rnn.spectra import network_spectra
    from lyapunov_rnn.tasks import load_task

    checkpoints = [Path(path) for path in args.checkpoints]
    if len(checkpoints) == 1 and checkpoints[0].is_dir():
        try:
            checkpoints = checkpoint_files(checkpoints[0])
        except ValueError as error:
            raise SystemExit(f"error: {error}") from None
    options = LyapunovConfig(
        sequences=args.sequences, warmup=args.warmup, k=args.k, convention=args.convention, dtype=args.dtype
    )
    spectra = network_spectra(
        checkpoints, load_task(args.task), options, device=args.device, progress=not args.quiet
    )
    write_netcdf(spectra, args.output)
    if not args.quiet:
        exponents = spectra["exponents"].isel(checkpoint=-1).values
        sizes = spectra.sizes
        print(f"wrote {args.output}: {sizes['checkpoint']} checkpoint(s) x {sizes['exponent']} exponents")
        print(f"last checkpoint, top exponents ({spectra['exponents'].attrs['units']}): {exponents[:5].round(4)}")
    return 0


def _prepare_task(args: argparse.Namespace) -> int:
    from lyapunov_rnn.config import load_config
    from lyapunov_rnn.tasks import prepare_task

    config = load_config(args.config)
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


def _info(args: argparse.Namespace) -> int:
    from lyapunov_rnn.dataset import open_experiment

    ds = open_experiment(args.dataset)
    print(ds)
    final = ds["val_accuracy"].isel(checkpoint=-1)
    print("\nfinal validation accuracy by architecture:")
    print(final.groupby("architecture").mean().to_series().round(3).to_string())
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
        type=int,
        default=defaults.sequences,
        help=f"test sequences driving the network; spectra are averaged (default {defaults.sequences})",
    )
    spectrum.add_argument(
        "--warmup",
        type=int,
        default=defaults.warmup,
        help=f"time steps that advance the state before measuring (default {defaults.warmup})",
    )
    spectrum.add_argument("-k", type=int, default=defaults.k, help="number of exponents (default: full state)")
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
        "--device", default=None, help="torch device, e.g. cpu or cuda:0 (default: cuda if available)"
    )
    spectrum.add_argument("-q", "--quiet", action="store_true", help="no progress bar or summary")
    spectrum.set_defaults(handler=_spectrum)

    prepare = commands.add_parser(
        "prepare-task", help="build a task file (downloading data if needed) from a config's task section"
    )
    prepare.add_argument("config", type=Path, help="experiment config (YAML)")
    prepare.add_argument("-o", "--output", required=True, type=Path, help="task file to write (.npz)")
    prepare.add_argument("--cache", type=Path, default=Path("resources"), help="download cache (default resources/)")
    prepare.set_defaults(handler=_prepare_task)

    check = commands.add_parser("check-config", help="validate an experiment config and summarise its grid")
    check.add_argument("config", type=Path, help="experiment config (YAML)")
    check.set_defaults(handler=_check_config)

    info = commands.add_parser("info", help="summarise an experiment dataset (lyapunov.nc)")
    info.add_argument("dataset", type=Path, help="results/<experiment>/lyapunov.nc")
    info.set_defaults(handler=_info)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``lyapunov-rnn``; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except (ValueError, FileNotFoundError) as err:
        print(f"lyapunov-rnn {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
