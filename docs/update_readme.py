"""Copy a run's tables and figures into the README, so that what it shows is what the workflow wrote.

    python docs/update_readme.py default       # after `snakemake --cores all`
    python docs/update_readme.py paper-mini    # after `snakemake --cores all --configfile experiments/paper-mini.yaml`

For experiment E, the README block between ``<!-- BEGIN early_prediction:E -->`` and
``<!-- END early_prediction:E -->`` is replaced by ``results/E/tables/early_prediction.md`` (the
workflow's own markdown of its table), and the figures named in ``FIGURES[E]`` are copied from
``results/E/figures/`` to ``docs/images/`` (``E_name.png`` unless E is the default). Nothing is typed by hand.
"""

from __future__ import annotations

import argparse
import re
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FIGURES = {
    "default": ("accuracy_vs_init", "spectra", "latent_embedding", "early_prediction"),
    "paper-mini": ("early_prediction", "latent_embedding"),
}


def update(experiment: str, readme: Path = ROOT / "README.md") -> list[Path]:
    """Update ``readme`` and ``docs/images`` from ``results/<experiment>``; return the files written."""
    results = ROOT / "results" / experiment
    table = (results / "tables" / "early_prediction.md").read_text().strip()
    begin, end = f"<!-- BEGIN early_prediction:{experiment} -->", f"<!-- END early_prediction:{experiment} -->"
    text = readme.read_text()
    pattern = re.compile(re.escape(begin) + r".*?" + re.escape(end), flags=re.DOTALL)
    if not pattern.search(text):
        raise SystemExit(f"{readme}: no block {begin} ... {end}")
    readme.write_text(pattern.sub(lambda _: f"{begin}\n{table}\n{end}", text))
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
