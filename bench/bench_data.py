"""Data set loading, validation and splitting on the full tldr data (29,496 pairs, 6,643 pages).

Reference: the bare minimum a loader must do, ``json.loads`` per line into dicts (no validation,
no duplicate detection, no hashing). Ours: ``load_pairs`` (every check, duplicates and conflicts,
content hash), ``readiness`` and ``make_split`` + ``save_split``. Median of ``--repeat`` runs.

    .venv/bin/python bench/bench_data.py [--tldr /work/shared/data/tldr] [--repeat 5]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.workspace import Workspace  # noqa: E402
from studies.data.datasets import load_pairs  # noqa: E402
from studies.data.readiness import readiness  # noqa: E402
from studies.data.splits import make_split, save_split  # noqa: E402


def timed(fn, repeat: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tldr", default="/work/shared/data/tldr")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    pairs_file, pages_file = Path(args.tldr) / "pairs.jsonl", Path(args.tldr) / "pages.jsonl"

    ref_s, rows = timed(lambda: [json.loads(line) for line in pairs_file.open(encoding="utf-8") if line.strip()], args.repeat)
    load_s, dataset = timed(lambda: load_pairs(pairs_file), args.repeat)
    pages_s, from_pages = timed(lambda: load_pairs(pages_file), args.repeat)
    ready_s, summary = timed(lambda: readiness(dataset), args.repeat)
    split_s, split = timed(lambda: make_split(dataset, seed=0), args.repeat)
    with tempfile.TemporaryDirectory() as tmp:
        ws = Workspace.resolve(tmp).ensure()
        save_s, _ = timed(lambda: save_split(Workspace.resolve(Path(tmp) / f"w{time.perf_counter_ns()}").ensure(), split), args.repeat)
        save_split(ws, split)
        from studies.data.splits import load_split

        verify_s, _ = timed(lambda: load_split(ws, split.version), args.repeat)

    assert len(rows) == len(dataset.pairs) == 29_496 and dataset.content_hash == from_pages.content_hash
    cpu = next((ln.split(":", 1)[1].strip() for ln in open("/proc/cpuinfo") if ln.startswith("model name")), platform.processor())
    lines = [
        "# Data sets: load, validate, split (full tldr)",
        "",
        f"Machine: {cpu}, 2 cores shared with other engineers' processes; Python {platform.python_version()}. "
        f"Median of {args.repeat} runs. Command: `.venv/bin/python bench/bench_data.py`.",
        "",
        "| step | seconds | vs reference |",
        "|---|---|---|",
        f"| reference: `json.loads` per line, no checks ({len(rows):,} pairs) | {ref_s:.3f} | 1.0x |",
        f"| `load_pairs(pairs.jsonl)`: every check, duplicates/conflicts, content hash | {load_s:.3f} | {load_s / ref_s:.1f}x |",
        f"| `load_pairs(pages.jsonl)`: tldr pages -> pairs, same checks | {pages_s:.3f} | {pages_s / ref_s:.1f}x |",
        f"| `readiness(dataset)` | {ready_s:.3f} | {ready_s / ref_s:.1f}x |",
        f"| `make_split(seed=0)` ({summary.groups:,} groups) | {split_s:.3f} | {split_s / ref_s:.1f}x |",
        f"| `save_split` (3 JSONL + manifest, atomic) | {save_s:.3f} | {save_s / ref_s:.1f}x |",
        f"| `load_split` (re-hash and verify) | {verify_s:.3f} | {verify_s / ref_s:.1f}x |",
        "",
        f"Found: {dataset.report.duplicates} exact duplicates, {dataset.report.conflicting_inputs} inputs with conflicting "
        f"outputs; split {split.version}: {split.counts()}.",
    ]
    out = ROOT / "bench" / "results" / "data.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
