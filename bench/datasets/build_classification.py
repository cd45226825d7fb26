"""Classification set: a Debian package's one-line description -> its archive section (12 classes).

Source: the Debian 12 ("bookworm") archive index that apt keeps on this machine
(``apt-cache dumpavail``), main component only (every package DFSG-free). Each package's
``Description`` first line is the input; its ``Section`` is the label. Kept: 12 topical
sections (no language ecosystems, no libs/doc/dev sections). Dropped: -dev/-doc/-dbg/-data/
-common binaries, generic descriptions (transitional, dummy, debug symbols, documentation,
data files...), descriptions under three words, and ambiguous items, i.e. descriptions that
occur under two or more sections. Classes are capped at ``--per-class`` pairs (seeded).
The group is the source package, so binaries of one source never straddle a split.

    python -m bench.datasets.build_classification [--per-class 200] [--sample data/samples/debian-sections]
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.datasets.common import (
    BuildArgs,
    Written,
    balance_table,
    positive,
    rebuild,
    run,
    seeded_shuffle,
    stratified_sample,
    write_pairs_set,
)
from bench.datasets.debian import DebPackage, add_packages_option, packages_for

NAME = "debian-sections"
CLASSES = ("admin", "database", "editors", "electronics", "games", "graphics",
           "mail", "math", "net", "science", "sound", "video")
"""Topical sections with 200+ usable packages each; language and library sections left out."""
SUFFIXES = ("-dev", "-doc", "-dbg", "-dbgsym", "-data", "-common", "-examples", "-dbgsym", "-l10n", "-locales")
GENERIC = re.compile(
    r"transitional|dummy package|metapackage|meta-package|debug(ging)? symbols|documentation|"
    r"development files|data files|common files|header files|shared librar|static librar|"
    r"translations?$|locales?$|\btest ?suite\b|examples?$",
    re.IGNORECASE,
)


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text.strip().rstrip(".")).lower()


def usable(package: DebPackage) -> bool:
    """A package whose description can stand alone as an item."""
    return (
        "main" in package.filename.split("/")[:3]
        and not package.name.endswith(SUFFIXES)
        and not GENERIC.search(package.description)
        and len(package.description.split()) >= 3
    )


def select(packages: Sequence[DebPackage], per_class: int, seed: int) -> tuple[list[dict], dict[str, int]]:
    """Balanced, unambiguous pairs, sorted by package name; and the count of each drop."""
    sections_of: dict[str, set[str]] = defaultdict(set)
    for package in packages:
        sections_of[_norm(package.description)].add(package.section)
    dropped = {"not usable": 0, "ambiguous": 0, "duplicate": 0, "over the class cap": 0}
    by_class: dict[str, list[DebPackage]] = defaultdict(list)
    seen: set[str] = set()
    for package in packages:
        if package.section not in CLASSES:
            continue
        key = _norm(package.description)
        if not usable(package):
            dropped["not usable"] += 1
        elif len(sections_of[key]) > 1:
            dropped["ambiguous"] += 1
        elif key in seen:
            dropped["duplicate"] += 1
        else:
            seen.add(key)
            by_class[package.section].append(package)
    rows = []
    for label in CLASSES:
        chosen = seeded_shuffle(by_class[label], seed, label)[:per_class]
        dropped["over the class cap"] += len(by_class[label]) - len(chosen)
        for package in sorted(chosen, key=lambda p: p.name):
            rows.append({
                "id": f"deb:{package.name}",
                "input": package.description,
                "output": label,
                "group": f"src:{package.source}",
                "package": package.name,
                "version": package.version,
            })
    rows.sort(key=lambda row: row["package"])
    return rows, dropped


README = """# Debian package sections: description -> section (classification)

{pairs:,} pairs: a Debian package's one-line description -> its archive section, one of
{n_classes} labels ({classes}). {groups:,} groups (source packages).

## Source, licence, attribution
- Source: the Debian 12 "bookworm" archive index (`Packages`, main component), read with
  `apt-cache dumpavail` from the apt lists of the build machine: {source}.
- Licence: every package in Debian main is free software under the Debian Free Software
  Guidelines; a package's description is part of its source package's `debian/control` and is
  distributed under that package's own licence (see `/usr/share/doc/<package>/copyright` or
  https://packages.debian.org/<package>). Attribution: the Debian Project and the maintainers and
  upstream authors of each package. No maintainer names or e-mail addresses are kept.
- Debian is a registered trademark of Software in the Public Interest, Inc.; this set is not
  endorsed by the Debian Project.

## How it was built
`bench/datasets/build_classification.py` (seed {seed}): main component only; 12 topical sections
(languages, libraries, documentation left out); -dev/-doc/-dbg/-data/-common binaries and generic
descriptions (transitional, dummy, debug symbols, documentation, data files...) dropped;
ambiguous items dropped (a description found under two or more sections: {ambiguous} items);
duplicates dropped; each class capped at {per_class} pairs (seeded).

Fields of `pairs.jsonl`: `id` (`deb:<package>`), `input` (description), `output` (section),
`group` (`src:<source package>`: splits keep a source's binaries together), `package`, `version`.

Rebuild: {command}

## Class balance
{balance}
"""


def build(args: BuildArgs, ns: argparse.Namespace) -> list[Written]:
    packages, source = packages_for(ns, args.limit)
    rows, dropped = select(packages, ns.per_class, args.seed)
    if not rows:
        raise RuntimeError(f"No usable package in {source} for the sections {', '.join(CLASSES)}.")
    print("dropped: " + ", ".join(f"{k} {v:,}" for k, v in dropped.items()), file=sys.stderr)

    def readme(part: list[dict], folder: Path) -> str:
        labels = sorted({r["output"] for r in part})
        return README.format(
            pairs=len(part), n_classes=len(labels), classes=", ".join(labels), groups=len({r["group"] for r in part}),
            source=source, seed=args.seed, ambiguous=dropped["ambiguous"], per_class=ns.per_class,
            command=rebuild(args, folder), balance=balance_table(part),
        )

    return write_pairs_set(args, rows, stratified_sample(rows, args.sample_size, args.seed), readme)


def main(argv: Sequence[str] | None = None) -> int:
    def extra(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--per-class", type=positive, default=200, help="pairs per class at most (default 200)")
        add_packages_option(parser)

    return run(build, "bench.datasets.build_classification", NAME, __doc__, 360, argv, extra)


if __name__ == "__main__":
    raise SystemExit(main())
