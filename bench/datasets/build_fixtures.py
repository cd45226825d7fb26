"""The tiny per-kind fixtures of ``tests/fixtures/kinds/``, drawn from the committed samples.

One file per task kind, named for it, 20-40 pairs each: ``classification`` (Debian sections),
``structured`` (Debian metadata), ``short_answer`` and ``text`` (NumPy docs questions) and
``command`` (the bundled tldr sample, in its own pairs format). Unit tests of kind detection
read them; the samples' READMEs hold the sources and licences.

    python -m bench.datasets.build_fixtures [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.datasets.common import (
    ROOT,
    SAMPLES,
    sample_groups,
    stratified_sample,
    write_jsonl,
)

FIXTURES = ROOT / "tests" / "fixtures" / "kinds"
SOURCES = {
    "classification": (SAMPLES / "debian-sections" / "pairs.jsonl", "data/samples/debian-sections"),
    "structured": (SAMPLES / "debian-metadata" / "pairs.jsonl", "data/samples/debian-metadata"),
    "short_answer": (SAMPLES / "numpy-docs" / "pairs.jsonl", "data/samples/numpy-docs"),
    "text": (SAMPLES / "numpy-docs" / "pairs_text.jsonl", "data/samples/numpy-docs"),
    "command": (ROOT / "data" / "sample" / "pairs.jsonl", "data/sample"),
}
SIZE = 36

README = """# Task-kind fixtures

One small pair file per task kind, named for the kind, for unit tests of kind detection.
Drawn (seed {seed}) from the committed samples by `python -m bench.datasets.build_fixtures`;
sources, licences and attribution are in each sample's README:

| file | pairs | drawn from |
|---|---:|---|
{rows}
"""


def _read(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def build(out: Path, seed: int) -> dict[str, int]:
    counts: dict[str, int] = {}
    rows = []
    for kind, (path, shown) in SOURCES.items():
        records = _read(path)
        if kind == "classification":
            part = stratified_sample(records, SIZE, seed)
        elif kind == "command":
            part = sample_groups(records, SIZE, seed, key="page")[:40]
        else:
            part = sample_groups(records, SIZE, seed)[:40]
        counts[kind] = write_jsonl(out / f"{kind}.jsonl", part)
        rows.append(f"| `{kind}.jsonl` | {counts[kind]} | `{shown}` |")
    (out / "README.md").write_text(README.format(seed=seed, rows="\n".join(rows)), encoding="utf-8")
    return counts


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.datasets.build_fixtures", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=FIXTURES, help="folder (default tests/fixtures/kinds)")
    parser.add_argument("--seed", type=int, default=0, help="seed (default 0)")
    ns = parser.parse_args(argv)
    for kind, n in build(ns.out, ns.seed).items():
        print(f"{kind}: {n} pairs")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
