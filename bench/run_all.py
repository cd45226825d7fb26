"""Run every benchmark script in bench/ (each writes bench/results/<area>.md), then assemble BENCHMARKS.md.

Usage: ``make bench`` or ``python -m bench.run_all [--only NAME ...]``. Benchmarks read the full tldr data
from ../shared/data/tldr (development data, not shipped); each compares against its reference in the same
run and reports the ratio. Nothing here is a test: timings never fail a build.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def scripts() -> list[Path]:
    return sorted(p for p in HERE.glob("bench_*.py"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--only", nargs="*", help="benchmark names (e.g. bench_faiss) to run")
    parser.add_argument("--assemble-only", action="store_true", help="only rebuild BENCHMARKS.md from bench/results/")
    parser.add_argument("--force", action="store_true", help="rebuild even if sections only BENCHMARKS.md holds would be lost")
    args = parser.parse_args(argv)
    failed = []
    if not args.assemble_only:
        for script in scripts():
            if args.only and script.stem not in args.only:
                continue
            print(f"== {script.name}", flush=True)
            if subprocess.run([sys.executable, str(script)], cwd=ROOT).returncode != 0:
                failed.append(script.name)
    from bench.assemble import WouldDropSections, assemble

    try:
        path = assemble(force=args.force)
    except WouldDropSections as exc:
        print(exc, file=sys.stderr)
        return 2
    print(f"wrote {path}")
    if failed:
        print("failed: " + ", ".join(failed), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
