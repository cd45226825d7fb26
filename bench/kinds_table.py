"""The BENCHMARKS.md table of one data set's decision record (`advisor report --format json`): systems x primary metric.

    .venv/bin/python bench/kinds_table.py WORKSPACE/record.json [TITLE]

Rows come from the record's first screen (readable names, the primary metric with its 95% interval, serving
cost per month at the record's volume, latency p95), then the verdict and, where measured, the learning curve.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def table(record: dict, title: str) -> str:
    page = record["one_page"]
    metric = page["metric"]
    lines = [f"**{title}**: primary metric `{metric}`, {page['n_items']} {page['part']} items; cost at "
             f"{page['requests_per_day']:,.0f} requests/day ({page['volume_source']}).", "",
             f"| system | {metric} [95% interval] | latency p95 (s) | cost / 1,000 requests | cost / month |",
             "|---|---|---|---|---|"]
    for row in sorted(page["rows"], key=lambda r: -r["mean"]):
        lines.append(f"| {row['name']}{' (best)' if row.get('best') else ''} | {row['mean']:.3f} [{row['low']:.3f}, {row['high']:.3f}] | "
                     f"{row['latency_p95_s']:.2f} | ${row['per_1k_usd']:.4f} | ${row['per_month_usd']:,.2f} |")
    lines += ["", f"Verdict: {page['verdict']}"]
    curve = (record.get("evidence") or {}).get("learning_curve") or {}
    if curve.get("sentence"):
        lines.append(f"How much data: {curve['sentence']}")
    return "\n".join(lines)


if __name__ == "__main__":
    path = Path(sys.argv[1])
    print(table(json.loads(path.read_text(encoding="utf-8")), sys.argv[2] if len(sys.argv) > 2 else path.parent.name))
