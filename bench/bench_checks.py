"""Throughput and flag counts of the responsible-AI scanners on the full tldr pair set.

Run: .venv/bin/python bench/bench_checks.py [/work/shared/data/tldr/pairs.jsonl]
Reference measured in the same run: reading and JSON-parsing the same file (the I/O floor).
Also runs the whole check registry (run_checks) over the pairs as training data and as outputs
equal to their references, and counts flags per rule (the false-alarm picture on real data).
"""

from __future__ import annotations

import collections
import json
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from studies.governance.checks import find_dangerous, find_personal_data, find_secrets, is_refusal, run_checks  # noqa: E402
from studies.evaluation.run_items import RunItem  # noqa: E402


def best_of(fn, repeat=3):
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return min(times), out


def main() -> None:
    path = Path(sys.argv[1] if len(sys.argv) > 1 else "/work/shared/data/tldr/pairs.jsonl")
    text = path.read_text(encoding="utf-8")
    parse_s, rows = best_of(lambda: [json.loads(line) for line in text.splitlines() if line.strip()])
    texts = [r["output"] + "\n" + r["input"] for r in rows]

    def scan():
        counts = collections.Counter()
        for t in texts:
            for kind, fn in (("secret", find_secrets), ("personal", find_personal_data), ("dangerous", find_dangerous)):
                for rule, _ in fn(t):
                    counts[(kind, rule)] += 1
            counts[("refusal", "refusal")] += is_refusal(t)
        return counts

    scan_s, counts = best_of(scan)
    items = [RunItem(str(i), r["input"], r["output"], r["output"], r["output"], r.get("command"), {"chrf": 1.0}) for i, r in enumerate(rows)]
    checks_s, results = best_of(lambda: run_checks(items, rows), repeat=1)
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("model name")), "?")
    lines = [
        "# Responsible-AI checks: scanner throughput and flags on the full tldr pairs",
        "",
        f"Machine: {cpu}, 2 cores shared with other engineers' processes; Python {platform.python_version()}. "
        f"Command: `.venv/bin/python bench/bench_checks.py` on {path.name} ({len(rows):,} pairs).",
        "",
        "| step | seconds (best of 3) | pairs/s | ratio to reference |",
        "|---|---|---|---|",
        f"| reference: read + JSON-parse the file | {parse_s:.3f} | {len(rows) / parse_s:,.0f} | 1.0 |",
        f"| scan input+output: secrets, personal data, dangerous, refusal | {scan_s:.3f} | {len(rows) / scan_s:,.0f} | {scan_s / parse_s:.1f} |",
        f"| run_checks: all 7 checks (pairs as data and as outputs) | {checks_s:.3f} (1 run) | {len(rows) / checks_s:,.0f} | {checks_s / parse_s:.1f} |",
        "",
        "Flags per rule (input + output of every pair):",
        "",
        "| kind | rule | pairs |",
        "|---|---|---|",
    ]
    lines += [f"| {k} | {r} | {n} |" for (k, r), n in sorted(counts.items()) if n]
    lines += ["", "run_checks results (outputs = references, so dangerous_commands introduces nothing):", ""]
    lines += [f"- {r.name}: value {r.value:.4g}, threshold {r.threshold:g}, {'pass' if r.passed else 'FAIL'}"
              + (f" (skipped: {r.skipped})" if r.skipped else "") for r in results]  # fmt: skip
    report = "\n".join(lines) + "\n"
    out = ROOT / "bench" / "results" / "checks.md"
    out.write_text(report, encoding="utf-8")
    print(report)


if __name__ == "__main__":
    main()
