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


def assemble() -> Path:
    parts = {p.stem: p for p in (HERE / "results").glob("*.md")}
    names = [n for n in ORDER if n in parts] + sorted(n for n in parts if n not in ORDER)
    body = [HEADER]
    for name in names:
        body.append(parts[name].read_text(encoding="utf-8").strip() + "\n")
    out = ROOT / "BENCHMARKS.md"
    out.write_text("\n".join(body), encoding="utf-8")
    return out


if __name__ == "__main__":
    print(assemble())
