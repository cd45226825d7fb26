"""Latency of the decision advisor (answers -> explained recommendation, flip search included) and the
estimator's accuracy on published figures.

Run: .venv/bin/python bench/bench_advisor.py   (writes bench/results/advisor.md)
Reference measured in the same run: scoring the rules alone (no explanation, no flip search).
"""

from __future__ import annotations

import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from advisor import rules as R  # noqa: E402
from advisor.estimate import accuracy_summary, accuracy_table  # noqa: E402
from advisor.plan import make_plan  # noqa: E402
from advisor.questions import load_questionnaire, validate_answers  # noqa: E402
from advisor.recommend import recommend  # noqa: E402
from test_advisor_scenarios import BASE, SCENARIOS  # noqa: E402


def best_of(fn, repeat=5):
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def main() -> None:
    load_questionnaire()
    cases = [validate_answers(BASE | answers) for answers, *_ in SCENARIOS.values()]
    score_s = best_of(lambda: [R.score(a) for a in cases])
    decide_s = best_of(lambda: [recommend(a, validate=False) for a in cases])
    worst = max(best_of(lambda a=a: recommend(a, validate=False), repeat=3) for a in cases)
    plan_s = best_of(lambda: make_plan(cases[1]), repeat=3)
    n = len(cases)
    lines = [
        "# Decision advisor: latency and estimator accuracy",
        "",
        f"Machine: {cpu_model()}, {len(__import__('os').sched_getaffinity(0))} cores shared with other engineers' processes; "
        f"Python {platform.python_version()}; pure Python (no torch involved). Command: `.venv/bin/python bench/bench_advisor.py`.",
        "",
        f"| step ({n} scenario answer sets) | ms per answer set (best of 5) | ratio to reference |",
        "|---|---|---|",
        f"| reference: score the {len(R.RULES)} rules | {score_s / n * 1000:.3f} | 1.0 |",
        f"| recommend: reasons, flip search (up to 3 changes), method, estimates | {decide_s / n * 1000:.1f} | {decide_s / score_s:.0f} |",
        f"| slowest single recommendation | {worst * 1000:.1f} | |",
        f"| make_plan (recommendation + plan + feasibility) | {plan_s * 1000:.1f} | |",
        "",
        "## Estimator against published figures",
        "",
        "| case | quantity | published | estimated | error |",
        "|---|---|---|---|---|",
    ]
    for r in accuracy_table():
        lines.append(f"| {r['case']} | {r['quantity']} | {r['published']:g} {r['unit']} | {r['estimated']:g} {r['unit']} | {r['error']:+.0%} |")
    lines += ["", accuracy_summary(), ""]
    out = ROOT / "bench" / "results" / "advisor.md"
    out.write_text("\n".join(lines), encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
