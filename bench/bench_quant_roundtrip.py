"""How many greedy answers survive GGUF quantisation alone? SmolLM2-135M, fp32 against a q8_0 round trip of its weights.

Issue 22 asks a q8_0 export to reproduce the adapter's greedy outputs on 90% of the checked items. The real
export matched 33 of 48 (docs/export.md). This isolates the cause: no converter, no loader, no adapter. Every
2-D weight goes through gguf's own q8_0 quantize/dequantize (the converter's quantizer), the model
generates again, and answers are compared item by item with the fp32 model's. The second variant keeps the
token embeddings (tied to the output layer) in f16, as llama.cpp does for some quantisation types.

    .venv/bin/python bench/bench_quant_roundtrip.py [--n 96] [--max-new-tokens 32]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=96)
    parser.add_argument("--max-new-tokens", type=int, default=32)
    parser.add_argument("--data", default=str(ROOT / "data" / "sample" / "pairs.jsonl"))
    args = parser.parse_args()

    import numpy as np
    import torch
    from gguf import GGMLQuantizationType, quants

    from core.workspace import Workspace
    from studies.data.datasets import load_pairs
    from tuning.generate import GenerationSettings, generate
    from tuning.models import load_base_model

    pairs = load_pairs(args.data).pairs[: args.n]
    convs = [[{"role": "system", "content": "Answer with one shell command."}, {"role": "user", "content": p.input}] for p in pairs]
    settings = GenerationSettings(max_new_tokens=args.max_new_tokens, batch_size=16)
    loaded = load_base_model(None, Workspace.resolve(tempfile.mkdtemp(prefix="bench-quant-")).ensure(), device="cpu")
    original = {name: p.detach().clone() for name, p in loaded.model.named_parameters()}

    def answers() -> list[str]:
        return [g.text for g in generate(loaded, convs, settings)]

    def round_trip(weight: "torch.Tensor", qtype: GGMLQuantizationType) -> "torch.Tensor":
        data = weight.float().numpy()
        back = quants.dequantize(quants.quantize(data, qtype), qtype).reshape(data.shape).astype(np.float32)
        return torch.from_numpy(back)

    started = time.perf_counter()
    reference = answers()
    results = {"n": len(reference), "max_new_tokens": args.max_new_tokens, "fp32_seconds": round(time.perf_counter() - started, 1)}
    for name, embedding_type in (("q8_0", GGMLQuantizationType.Q8_0), ("q8_0, f16 embeddings", GGMLQuantizationType.F16)):
        with torch.no_grad():
            for pname, p in loaded.model.named_parameters():
                p.copy_(original[pname] if p.dim() < 2 else
                        round_trip(original[pname], embedding_type if "embed_tokens" in pname else GGMLQuantizationType.Q8_0))
        got = answers()
        same = sum(a == b for a, b in zip(got, reference))
        results[name] = {"matching": same, "share": round(same / len(reference), 3)}
    results["load_average"] = os.getloadavg()
    print(json.dumps(results, indent=2))
    (ROOT / "bench" / "results" / "quant_roundtrip.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
