"""How long does the proof take? The whole CLI flow on a ~2,000-pair set that is not tldr, stage by stage.

check -> split -> base -> RAG (documents when --corpus is given, else the nearest training examples) -> one LoRA
of the plan's smallest model (the recipe tuning/recipes/lora.yaml: one epoch) evaluated on the test part ->
RAG + LoRA -> report (no learning curve: that is extra evidence, asked for separately). Every step is a real
`python -m advisor` process, timed from outside; the default test size is the split's whole test part.
Goal (issue 21): a defensible verdict in under 20 minutes after setup on this CPU.

    .venv/bin/python bench/bench_time_to_verdict.py [--data bench/datasets/out/debian-sections/pairs.jsonl]
        [--corpus CORPUS] [--workspace DIR]

Writes bench/results/time_to_verdict.json and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GOAL_MINUTES = 20.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(ROOT / "bench" / "datasets" / "out" / "debian-sections" / "pairs.jsonl"))
    parser.add_argument("--corpus", default=None, help="documents for document RAG (default: example retrieval)")
    parser.add_argument("--workspace", default=None)
    args = parser.parse_args()
    if not Path(args.data).is_file():
        print(f"{args.data} is missing: build it with `python -m bench.datasets.build_classification`", file=sys.stderr)
        return 2
    ws = args.workspace or tempfile.mkdtemp(prefix="bench-ttv-")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    data = ["--data", args.data]
    rag = ["rag", "eval", "docs", *data] if args.corpus else ["eval", "rag-examples", *data]
    rag_lora = ["eval", "rag+lora:docs:ttv-lora", *data] if args.corpus else ["eval", "rag-examples+lora:ttv-lora", *data]
    steps = [("check", ["data", "check", args.data]), ("split", ["data", "split", args.data, "--seed", "0"]),
             ("base", ["eval", "base", *data, "--no-progress"])]
    if args.corpus:
        steps.append(("RAG index", ["rag", "build", "--corpus", args.corpus, "--name", "docs", "--no-progress"]))
    steps += [("RAG", [*rag, "--no-progress"]),
              ("LoRA: train + evaluate", ["tune", *data, "--name", "ttv-lora", "--config", str(ROOT / "tuning" / "recipes" / "lora.yaml")]),
              ("RAG + LoRA", [*rag_lora, "--no-progress"])]
    timings: list[tuple[str, float]] = []
    began = time.perf_counter()
    for name, argv in steps:
        t0 = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "advisor", "--workspace", ws, *argv], cwd=ROOT, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        if done.returncode != 0:
            print(f"step {name} failed (exit {done.returncode}):\n{done.stderr[-2000:]}", file=sys.stderr)
            return 1
        timings.append((name, time.perf_counter() - t0))
    sys.path.insert(0, str(ROOT))
    from bench.test_runs import test_run_ids

    runs = ",".join(test_run_ids(ws))
    t0 = time.perf_counter()
    report = subprocess.run([sys.executable, "-m", "advisor", "--workspace", ws, "report", "--runs", runs, "--no-learning-curve",
                             "--format", "json"], cwd=ROOT, env=env, capture_output=True, text=True)
    if report.returncode != 0:
        print(f"report failed:\n{report.stderr[-2000:]}", file=sys.stderr)
        return 1
    timings.append(("report", time.perf_counter() - t0))
    total = time.perf_counter() - began
    record = json.loads(report.stdout)
    out = {"data": args.data, "corpus": args.corpus, "workspace": ws, "cpus": os.cpu_count(), "load_average_end": os.getloadavg(),
           "steps": {name: round(seconds, 1) for name, seconds in timings}, "total_minutes": round(total / 60, 2),
           "verdict": record["verdict"]["headline"], "n_items": record["one_page"]["n_items"], "metric": record["one_page"]["metric"]}
    (ROOT / "bench" / "results" / "time_to_verdict.json").write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    print("| step | minutes |\n|---|---|")
    for name, seconds in timings:
        print(f"| {name} | {seconds / 60:.1f} |")
    print(f"| **total** | **{total / 60:.1f}** (goal < {GOAL_MINUTES:.0f}: {'met' if total / 60 < GOAL_MINUTES else 'MISSED'}) |")
    print(f"\n{out['n_items']} test items, primary metric {out['metric']}; load at the end {out['load_average_end'][0]:.1f}.\n"
          f"Verdict: {out['verdict']}")
    return 0 if total / 60 < GOAL_MINUTES else 1


if __name__ == "__main__":
    raise SystemExit(main())
