"""Structured set: a paragraph about a Debian package -> a JSON object of its metadata.

Source: the same Debian 12 archive index as the classification set (``apt-cache dumpavail``,
main component). Every value is the package's real one; only the wording around them is
written here, from several templates (field order, number formatting and phrasing vary; a
missing homepage is left unsaid and is ``null`` in the output). One package per source package,
at most 8 dependencies, drawn at random (seeded) from every section.

Output keys, always in this order: ``name``, ``version``, ``section``, ``architecture``,
``installed_size_kib`` (integer), ``depends`` (package names, first alternative of each clause,
no version constraints), ``homepage`` (string or null).

    python -m bench.datasets.build_structured [--pairs 1500] [--sample data/samples/debian-metadata]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections.abc import Sequence
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.datasets.common import (
    BuildArgs,
    Written,
    positive,
    rebuild,
    run,
    sample_groups,
    seeded_shuffle,
    write_pairs_set,
)
from bench.datasets.debian import DebPackage, add_packages_option, packages_for

NAME = "debian-metadata"
MAX_DEPENDS = 8
KEYS = ("name", "version", "section", "architecture", "installed_size_kib", "depends", "homepage")


def target(package: DebPackage) -> dict:
    """The JSON object wanted for a package (keys in ``KEYS`` order)."""
    return {
        "name": package.name,
        "version": package.version,
        "section": package.section,
        "architecture": package.architecture,
        "installed_size_kib": package.installed_size_kib,
        "depends": list(package.depends),
        "homepage": package.homepage,
    }


def _list(names: Sequence[str]) -> str:
    if len(names) == 1:
        return names[0]
    return ", ".join(names[:-1]) + " and " + names[-1]


def _size(kib: int, rng: random.Random) -> str:
    return f"{kib:,} KiB" if rng.random() < 0.5 else f"{kib} KiB"


def _arch(arch: str) -> str:
    return "every architecture (arch: all)" if arch == "all" else f"the {arch} architecture"


def render(package: DebPackage, rng: random.Random) -> str:
    """The package's metadata in prose, one of several phrasings chosen by ``rng``."""
    p, size = package, _size(package.installed_size_kib or 0, rng)
    deps = f"depends on {_list(p.depends)}" if p.depends else "has no dependencies"
    home = p.homepage
    style = rng.randrange(4)
    if style == 0:
        text = (f"{p.name} {p.version} is a Debian package in the {p.section} section: {p.description}. "
                f"It is built for {_arch(p.architecture)}, takes {size} once installed and {deps}.")
        if home:
            text += f" Project page: {home}"
    elif style == 1:
        text = (f"From the {p.section} section comes {p.name} (version {p.version}), described as "
                f"\"{p.description}\". It {deps}; installed size {size}; architecture {p.architecture}.")
        if home:
            text += f" Upstream lives at {home}"
    elif style == 2:
        req = f"Requires {_list(p.depends)}." if p.depends else "Requires nothing else."
        text = (f"{p.description} -- that is what the {p.name} package offers. {req} "
                f"Version {p.version}, filed under {p.section}, for {_arch(p.architecture)}, {size} on disk.")
        if home:
            text += f" See {home} for more."
    else:
        text = (f"Package note. Name: {p.name}. What it is: {p.description}. It {deps}. "
                f"Current version {p.version} ({p.architecture}), section {p.section}, about {size} installed.")
        if home:
            text += f" Home page: {home}"
    return text


def select(packages: Sequence[DebPackage], count: int, seed: int) -> list[DebPackage]:
    """One package per source (the first by name), usable fields only, ``count`` drawn with the seed."""
    by_source: dict[str, DebPackage] = {}
    for p in packages:
        if ("main" in p.filename.split("/")[:3] and p.installed_size_kib is not None
                and len(p.depends) <= MAX_DEPENDS and p.source not in by_source):
            by_source[p.source] = p
    chosen = seeded_shuffle(sorted(by_source.values(), key=lambda p: p.name), seed, "structured")[:count]
    return sorted(chosen, key=lambda p: p.name)


README = """# Debian package metadata: paragraph -> JSON (structured)

{pairs:,} pairs: a paragraph about a real Debian package -> a JSON object with its `name`,
`version`, `section`, `architecture`, `installed_size_kib` (integer), `depends` (list of package
names) and `homepage` (string or null), keys always in that order. {with_home:,} items have a
homepage, {no_deps:,} have no dependencies.

## Source, licence, attribution
- Source: the Debian 12 "bookworm" archive index (`Packages`, main component), read with
  `apt-cache dumpavail` from the apt lists of the build machine: {source}.
- Licence: every package in Debian main is free software under the Debian Free Software
  Guidelines; its control data (name, version, section, dependencies, description, homepage) is
  part of its source package and distributed under that package's own licence (see
  `/usr/share/doc/<package>/copyright` or https://packages.debian.org/<package>). Attribution: the
  Debian Project and the maintainers and upstream authors of each package. No maintainer names
  or e-mail addresses are kept. The sentence templates are this project's (Apache-2.0).
- Debian is a registered trademark of Software in the Public Interest, Inc.; this set is not
  endorsed by the Debian Project.

## How it was built
`bench/datasets/build_structured.py` (seed {seed}): one package per source package, at most
{max_depends} dependencies, drawn at random from every section; each rendered in one of four
phrasings (field order, thousands separators and wording vary); `depends` keeps the first
alternative of each clause without version constraints.

Fields of `pairs.jsonl`: `id` (`deb:<package>`), `input` (the paragraph), `output` (the JSON
object as one line), `group` (`src:<source package>`), `package`.

Rebuild: {command}
"""


def build(args: BuildArgs, ns: argparse.Namespace) -> list[Written]:
    packages, source = packages_for(ns, args.limit)
    rows = []
    for package in select(packages, ns.pairs, args.seed):
        rng = random.Random(f"{args.seed}:{package.name}")
        rows.append({
            "id": f"deb:{package.name}",
            "input": render(package, rng),
            "output": json.dumps(target(package), ensure_ascii=False),
            "group": f"src:{package.source}",
            "package": package.name,
        })
    if not rows:
        raise RuntimeError(f"No usable package in {source}.")

    def readme(part: list[dict], folder: Path) -> str:
        outputs = [json.loads(r["output"]) for r in part]
        return README.format(
            pairs=len(part), source=source, seed=args.seed, max_depends=MAX_DEPENDS,
            with_home=sum(1 for o in outputs if o["homepage"]), no_deps=sum(1 for o in outputs if not o["depends"]),
            command=rebuild(args, folder),
        )

    return write_pairs_set(args, rows, sample_groups(rows, args.sample_size, args.seed), readme)


def main(argv: Sequence[str] | None = None) -> int:
    def extra(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--pairs", type=positive, default=1500, help="pairs in the full set (default 1500)")
        add_packages_option(parser)

    return run(build, "bench.datasets.build_structured", NAME, __doc__, 240, argv, extra)


if __name__ == "__main__":
    raise SystemExit(main())
