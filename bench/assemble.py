"""Assemble BENCHMARKS.md from the per-area fragments in bench/results/*.md (each written by its script)."""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
ORDER = ["tuning", "rag", "leaderboard", "sweeps", "app", "data", "reliability"]

HEADER = """# Benchmarks

Speed and memory targets are measured here, never asserted in tests. Each benchmark runs its
reference in the same process and run, on the same data, and reports the ratio. Re-run them all
with `make bench` (or one: `python bench/bench_<name>.py`); each writes its section to
`bench/results/<area>.md` and `python -m bench.run_all --assemble-only` rebuilds this file.

Machine for every figure below unless a section says otherwise: the development machine, 2 CPU cores
(AMD EPYC, no GPU), 24 GiB memory, Python 3.11, torch 2.13.0 (CPU build). Several sections were
measured while other processes shared the two cores; the sections give the load average where it
matters. Ratios measured in one run are robust to that load; absolute figures are not.
"""


class WouldDropSections(RuntimeError):
    """BENCHMARKS.md holds sections that no fragment in bench/results/ has (written there by hand)."""


def headings(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.startswith("#")]


def assemble(out: Path = ROOT / "BENCHMARKS.md", results: Path = HERE / "results", force: bool = False) -> Path:
    """Rebuild ``out`` from the fragments; refuse (unless ``force``) when that would lose a section of it:
    some sections are measured by hand-run flows and written straight into BENCHMARKS.md."""
    parts = {p.stem: p for p in results.glob("*.md")}
    names = [n for n in ORDER if n in parts] + sorted(n for n in parts if n not in ORDER)
    body = [HEADER]
    for name in names:
        body.append(parts[name].read_text(encoding="utf-8").strip() + "\n")
    text = "\n".join(body)
    if out.is_file() and not force:
        kept = set(headings(text))
        lost = [h for h in headings(out.read_text(encoding="utf-8")) if h not in kept]
        if lost:
            raise WouldDropSections(
                f"{out.name} has {len(lost)} heading(s) no fragment in {results} holds, e.g. {lost[:3]}; rebuilding "
                f"would lose them. Move them into a fragment (bench/results/<area>.md) first, or pass --force.")
    out.write_text(text, encoding="utf-8")
    return out


if __name__ == "__main__":
    import sys

    try:
        print(assemble(force="--force" in sys.argv[1:]))
    except WouldDropSections as exc:
        print(exc, file=sys.stderr)
        raise SystemExit(2) from None
