"""Constrained classification (label scoring) vs free generation: items per second, and how many answers are labels.

Task: the debian-sections set (a package's one-line description -> one of 12 Debian sections; built by
``python -m bench.datasets.build_classification``, see docs/datasets.md), N items drawn with seed 0.
``--data FILE`` takes any classification pairs file (its distinct outputs are the labels). SmolLM2-135M
with the classification prompt of ``studies.evaluation.prompts``; the same N items (cycled when the
file has fewer) are decoded both ways:

- labels: ``tuning.label_scoring.score_labels`` (one prompt pass, its KV cache shared by the 12 labels);
- generate: ``tuning.generate.generate`` with ``max_new_tokens`` 8, answers mapped to labels by the
  contract's extraction (``studies.evaluation.tasks.extract_label``).

    .venv/bin/python bench/bench_label_scoring.py [--n 1000] [--data FILE] [--device cpu|cuda]

Not a timed test: the figures go to BENCHMARKS.md by hand.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from core.workspace import Workspace  # noqa: E402
from studies.data.datasets import load_pairs  # noqa: E402
from studies.data.kinds import TaskSpec  # noqa: E402
from studies.evaluation.prompts import system_prompt_for  # noqa: E402
from studies.evaluation.tasks import extract_label  # noqa: E402
from tuning.generate import GenerationSettings, generate  # noqa: E402
from tuning.label_scoring import score_labels  # noqa: E402
from tuning.models import load_base_model  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--data", default=str(ROOT / "bench" / "datasets" / "out" / "debian-sections" / "pairs.jsonl"))
    parser.add_argument("--workspace", default=str(ROOT / "bench" / "results" / "ws-label-scoring"))
    args = parser.parse_args()

    import random

    pairs = load_pairs(args.data).pairs
    tools = [label for label, _ in Counter(p.output for p in pairs).most_common()]
    random.Random(0).shuffle(pairs)
    items = [pairs[i % len(pairs)] for i in range(args.n)]
    task = TaskSpec("classification", labels=tuple(tools))
    convs = [[{"role": "system", "content": system_prompt_for(task)}, {"role": "user", "content": p.input}] for p in items]
    ws = Workspace.resolve(args.workspace).ensure()
    loaded = load_base_model(None, ws, device=args.device)
    settings = GenerationSettings(max_new_tokens=8, batch_size=32)

    began = time.perf_counter()
    scored = score_labels(loaded, convs, tools, settings)
    labels_s = time.perf_counter() - began
    began = time.perf_counter()
    free = generate(loaded, convs, settings)
    free_s = time.perf_counter() - began

    free_answers = [extract_label(g.text, tools) for g in free]
    out = {
        "n": args.n, "labels": len(tools), "device": args.device,
        "label_scoring": {"items_per_s": round(args.n / labels_s, 2),
                          "accuracy": round(sum(s.label == p.output for s, p in zip(scored, items)) / args.n, 4),
                          "answers_that_are_labels": 1.0},
        "free_generation": {"items_per_s": round(args.n / free_s, 2),
                            "accuracy": round(sum(e.answer == p.output for e, p in zip(free_answers, items)) / args.n, 4),
                            "answers_that_are_labels": round(sum(e.rule != "no-label" and e.rule != "empty" for e in free_answers) / args.n, 4)},
    }
    out["data"] = str(args.data)
    out["speed_ratio_labels_over_generate"] = round(labels_s and free_s / labels_s, 2)
    out["load_average"] = os.getloadavg()
    print(json.dumps(out, indent=2))
    (ROOT / "bench" / "results" / "label_scoring.json").write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
