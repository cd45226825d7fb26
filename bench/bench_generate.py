"""Generation speed: ``tuning.generate.generate`` (length-sorted batches, left padding, KV cache)
vs a one-example-at-a-time ``model.generate`` loop, same prompts, same greedy settings, one run.

    .venv/bin/python bench/bench_generate.py --examples 32 --max-new-tokens 32
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DATA = Path("/work/shared/data/tldr/pairs.jsonl")


def load_avg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--examples", type=int, default=32)
    ap.add_argument("--max-new-tokens", type=int, default=32)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--workspace", default=str(Path(tempfile.gettempdir()) / "bench-tuning-ws"))
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "tuning_generate.json")
    args = ap.parse_args()

    import torch

    from core.workspace import Workspace
    from tuning.generate import GenerationSettings, generate, stop_token_ids
    from tuning.models import load_base_model

    ws = Workspace.resolve(args.workspace).ensure()
    loaded = load_base_model(None, ws)
    rows = [json.loads(line) for line in args.data.read_text(encoding="utf-8").splitlines() if line.strip()]
    random.Random(0).shuffle(rows)
    conversations = [[{"role": "user", "content": r["input"]}] for r in rows[: args.examples]]
    settings = GenerationSettings(max_new_tokens=args.max_new_tokens, batch_size=args.batch_size)
    generate(loaded, conversations[:2], settings)  # warm-up

    # Reference: the loop most scripts write.
    tok, model = loaded.tokenizer, loaded.model
    stops = stop_token_ids(tok)
    load_before_ref = load_avg()
    started = time.perf_counter()
    ref_texts = []
    with torch.inference_mode():
        for conv in conversations:
            ids = tok.apply_chat_template(conv, add_generation_prompt=True, return_tensors="pt", return_dict=True)
            out = model.generate(**ids, max_new_tokens=args.max_new_tokens, do_sample=False, eos_token_id=stops, pad_token_id=tok.pad_token_id)
            ref_texts.append(tok.decode(out[0, ids["input_ids"].shape[1]:], skip_special_tokens=True).strip())
    ref_seconds = time.perf_counter() - started

    load_before_ours = load_avg()
    started = time.perf_counter()
    ours = generate(loaded, conversations, settings)
    ours_seconds = time.perf_counter() - started
    same = sum(a == g.text for a, g in zip(ref_texts, ours))

    result = {
        "examples": len(conversations),
        "max_new_tokens": args.max_new_tokens,
        "batch_size": args.batch_size,
        "reference_examples_per_s": len(conversations) / ref_seconds,
        "ours_examples_per_s": len(conversations) / ours_seconds,
        "speedup": ref_seconds / ours_seconds,
        "identical_outputs": same,
        "load_avg_before_reference": load_before_ref,
        "load_avg_before_ours": load_before_ours,
        "load_avg_after": load_avg(),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
