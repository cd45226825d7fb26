"""What every data set builder shares: arguments, seeded sampling, JSONL and README writing."""

from __future__ import annotations

import argparse
import json
import random
import shlex
import sys
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "bench" / "datasets" / "out"
SAMPLES = ROOT / "data" / "samples"


@dataclass
class BuildArgs:
    """Options common to the builders."""

    out: Path
    """Folder for the full set."""
    sample: Path | None
    """Folder for the small committed sample (None: none written)."""
    sample_size: int
    """Pairs (classification, structured) or documents (doc QA) in the sample."""
    seed: int
    """Seed of every random choice: the same inputs and seed give the same files."""
    limit: int | None
    """Cap on source records read (for quick runs and tests)."""
    command: str
    """The command line that rebuilt the set, recorded in its README."""


def positive(text: str) -> int:
    """An argparse type: a whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def parse_args(module: str, name: str, description: str, sample_size: int, argv: Sequence[str] | None,
               extra: Callable[[argparse.ArgumentParser], None] | None = None) -> tuple[BuildArgs, argparse.Namespace]:
    """Parse the common options (and a builder's own, added by ``extra``)."""
    parser = argparse.ArgumentParser(prog=f"python -m {module}", description=description)
    parser.add_argument("--out", type=Path, default=OUT / name, help=f"full set folder (default bench/datasets/out/{name})")
    parser.add_argument("--sample", type=Path, default=None,
                        help=f"also write the small sample there (the committed one is data/samples/{name})")
    parser.add_argument("--sample-size", type=positive, default=sample_size, help=f"sample size (default {sample_size})")
    parser.add_argument("--seed", type=int, default=0, help="seed of every random choice (default 0)")
    parser.add_argument("--limit", type=positive, default=None, help="read at most this many source records (quick runs)")
    if extra:
        extra(parser)
    ns = parser.parse_args(argv)
    shown = list(sys.argv[1:] if argv is None else argv)
    command = " ".join(["python -m", module, *map(shlex.quote, shown)])
    return BuildArgs(ns.out, ns.sample, ns.sample_size, ns.seed, ns.limit, command), ns


def write_jsonl(path: Path, rows: Iterable[dict[str, Any]]) -> int:
    """Write rows (keys in the order given), one JSON object a line; returns the count."""
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with open(path, "w", encoding="utf-8", newline="\n") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
            count += 1
    return count


def seeded_shuffle(items: Sequence[Any], seed: int, salt: str) -> list[Any]:
    """A copy of ``items`` in an order fixed by the seed and a per-use salt."""
    out = list(items)
    random.Random(f"{seed}:{salt}").shuffle(out)
    return out


def sample_groups(rows: Sequence[dict[str, Any]], size: int, seed: int, key: str = "group") -> list[dict[str, Any]]:
    """Whole groups, chosen at random, until about ``size`` rows; kept in their original order."""
    groups: dict[str, list[int]] = {}
    for i, row in enumerate(rows):
        groups.setdefault(str(row[key]), []).append(i)
    chosen: set[int] = set()
    for group in seeded_shuffle(sorted(groups), seed, "sample"):
        if len(chosen) >= size:
            break
        chosen.update(groups[group])
    return [row for i, row in enumerate(rows) if i in chosen]


def stratified_sample(rows: Sequence[dict[str, Any]], size: int, seed: int, label: str = "output") -> list[dict[str, Any]]:
    """About ``size`` rows with each label equally represented (as far as each has rows), original order."""
    by_label: dict[str, list[int]] = {}
    for i, row in enumerate(rows):
        by_label.setdefault(row[label], []).append(i)
    per = max(1, size // max(1, len(by_label)))
    chosen = {i for lab in sorted(by_label) for i in seeded_shuffle(by_label[lab], seed, f"sample:{lab}")[:per]}
    return [row for i, row in enumerate(rows) if i in chosen]


def balance_table(rows: Sequence[dict[str, Any]], label: str = "output") -> str:
    counts = Counter(row[label] for row in rows)
    lines = ["| label | pairs |", "|---|---:|"]
    lines += [f"| {lab} | {n} |" for lab, n in sorted(counts.items())]
    return "\n".join(lines)


@dataclass
class Written:
    """What a builder wrote, for its report line and its README."""

    folder: Path
    files: dict[str, int] = field(default_factory=dict)

    def line(self) -> str:
        return f"{self.folder}: " + ", ".join(f"{name} ({n:,} rows)" for name, n in self.files.items())


def write_readme(folder: Path, text: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "README.md").write_text(text.rstrip() + "\n", encoding="utf-8")


def relative(path: Path) -> str:
    try:
        return path.resolve().relative_to(ROOT).as_posix()
    except ValueError:
        return str(path)


def rebuild(args: BuildArgs, folder: Path) -> str:
    """The command that rebuilt ``folder``, as its README shows it."""
    if folder == args.out:
        return f"`{args.command}`"
    return f"`{args.command}` (writes the full set to `{relative(args.out)}` and this sample to `{relative(folder)}`)"


def run(build: Callable[[BuildArgs, argparse.Namespace], list[Written]], module: str, name: str, doc: str,
        sample_size: int, argv: Sequence[str] | None,
        extra: Callable[[argparse.ArgumentParser], None] | None = None) -> int:
    """A builder's ``main``: parse, build, print what was written; 2 with the reason when the source fails."""
    args, ns = parse_args(module, name, doc.split("\n\n")[0], sample_size, argv, extra)
    try:
        for written in build(args, ns):
            print(written.line())
    except (RuntimeError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


def write_pairs_set(args: BuildArgs, rows: list[dict[str, Any]], sample_rows: list[dict[str, Any]],
                    readme: Callable[[list[dict[str, Any]], Path], str]) -> list[Written]:
    """``pairs.jsonl`` and README of the full set, and of the sample when ``args.sample`` is set."""
    targets = [(args.out, rows)] + ([(args.sample, sample_rows)] if args.sample else [])
    written = []
    for folder, part in targets:
        n = write_jsonl(folder / "pairs.jsonl", part)
        write_readme(folder, readme(part, folder))
        written.append(Written(folder, {"pairs.jsonl": n}))
    return written
