"""Copy a run's tables and figures into the README, so that what it shows is what the workflow wrote.

    python docs/update_readme.py default       # after `snakemake --cores all`
    python docs/update_readme.py paper-mini    # after `snakemake --cores all --configfile experiments/paper-mini.yaml`

For experiment E, each README block between ``<!-- BEGIN <table>:E -->`` and ``<!-- END <table>:E -->``
is replaced by ``results/E/tables/<table>.md`` (the workflow's own markdown of that table; ``early_prediction``
must have a block, the other tables in ``TABLES`` may), and the figures named in ``FIGURES[E]`` are copied from
``results/E/figures/`` to ``docs/images/`` (``E_name.png`` unless E is the default). Nothing is typed by hand.
"""

from __future__ import annotations

import argparse
import re
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FIGURES = {
    "default": (
        "accuracy_vs_init", "spectra", "spectra_over_training", "convergence", "latent_embedding",
        "latent_perturbation", "early_prediction", "novel_inputs", "correlations_over_training",
    ),
    "paper-mini": ("early_prediction", "latent_embedding"),
}
#: Tables whose markdown the README shows; the first must have a block for every experiment updated.
TABLES = ("early_prediction", "novel_inputs")


def update(experiment: str, readme: Path = ROOT / "README.md") -> list[Path]:
    """Update ``readme`` and ``docs/images`` from ``results/<experiment>``; return the files written."""
    results = ROOT / "results" / experiment
    text = readme.read_text()
    for number, name in enumerate(TABLES):
        begin, end = f"<!-- BEGIN {name}:{experiment} -->", f"<!-- END {name}:{experiment} -->"
        pattern = re.compile(re.escape(begin) + r".*?" + re.escape(end), flags=re.DOTALL)
        if not pattern.search(text):
            if number == 0:
                raise SystemExit(f"{readme}: no block {begin} ... {end}")
            continue
        table = (results / "tables" / f"{name}.md").read_text().strip()
        text = pattern.sub(lambda _, table=table, begin=begin, end=end: f"{begin}\n{table}\n{end}", text)
    readme.write_text(text)
    written = [readme]
    for name in FIGURES.get(experiment, ()):
        target = ROOT / "docs" / "images" / (f"{name}.png" if experiment == "default" else f"{experiment}_{name}.png")
        shutil.copyfile(results / "figures" / f"{name}.png", target)
        written.append(target)
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("experiment", help="the experiment name (results/<experiment>/)")
    for path in update(parser.parse_args().experiment):
        print(f"wrote {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
