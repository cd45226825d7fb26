"""Training speed: our LoRA engine vs the peft + transformers ``Trainer`` tutorial setup, in one run.

Reference (as the tutorials write it): SmolLM2-135M-Instruct, chat-formatted pairs padded to
max_length=128, fp32, batch 8, LoRA r=8 on q_proj/v_proj, one epoch, loss over every non-pad token
(DataCollatorForLanguageModeling). Ours: the same pairs, model, rank and targets, one epoch over
the same examples (so the same real tokens), through ``tuning.train.train`` with its defaults for
speed (packed rows, logits only at response tokens, bf16 autocast where faster).

Reported: real (non-padding) tokens/s of both and the ratio; held-out response-token loss of both
(same held-out pairs, fp32, same function); MFU against this machine's measured matmul peak.

    .venv/bin/python bench/bench_train.py --pairs 192 --heldout 128 [--out bench/results/tuning_train.json]

Strongest peers (issue 21; needs the ``bench`` extra: ``pip install -e '.[bench]'`` for TRL):

    .venv/bin/python bench/bench_train.py --pairs 192 --heldout 128 --peers trainer-flat,trl --rounds 2 \
        --out bench/results/tuning_train_peers.json

``--peers NAME,...`` races ours against the named peers of ``bench/train_peers.py`` in one process:
``trainer-flat`` (``Trainer`` + ``DataCollatorWithFlattening``, response-only labels, bf16, LoRA dropout
0), ``trl`` (TRL ``SFTTrainer``: best-fit packing, padding-free, completion-only loss, bf16, LoRA via
``peft_config``) and ``tutorial`` (the reference above). ``--rounds N`` (default 2) repeats ours then each
peer N times, interleaved so every side sees the same machine load; the JSON keeps every round (with the
load average before and after each run), the best round of each side, and the ratio ours / strongest peer
in real tokens/s and real tokens per CPU-second. Same LoRA (r 8, alpha 16, q/v), learning rate, cosine
schedule with 5% warm-up, one epoch, and token budget per step (``--micro-batch-size`` x 128) on every side.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
ROOT = Path(__file__).resolve().parent.parent
# Run as a script, bench/ itself would come first on the path and its `datasets` package would shadow
# Hugging Face's (which TRL imports): put the repository root there instead.
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]

from bench.train_peers import PEERS, body_params, load_avg, lora_config, run_reference  # noqa: E402

DATA = Path("/work/shared/data/tldr/pairs.jsonl")


class Pair:
    def __init__(self, d: dict) -> None:
        self.input, self.output = d["input"], d["output"]


def load_pairs(path: Path, n_train: int, n_heldout: int, seed: int) -> tuple[list[Pair], list[Pair]]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    random.Random(seed).shuffle(rows)
    return [Pair(r) for r in rows[:n_train]], [Pair(r) for r in rows[n_train : n_train + n_heldout]]


def matmul_peak(dtype_name: str, size: int = 1024, seconds: float = 2.0) -> float:
    """Best GFLOP/s of a square matmul in this dtype on this CPU (all torch threads)."""
    import torch

    dtype = {"fp32": torch.float32, "bf16": torch.bfloat16}[dtype_name]
    a, b = torch.randn(size, size, dtype=dtype), torch.randn(size, size, dtype=dtype)
    for _ in range(3):
        torch.mm(a, b)
    best = float("inf")
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        t = time.perf_counter()
        torch.mm(a, b)
        best = min(best, time.perf_counter() - t)
    return 2 * size**3 / best / 1e9


def run_ours(ws, train_pairs, lr: float, seed: int, micro_batch_size: int, dropout: float | None = None, name: str = "bench-ours",
             compile: str = "off") -> dict:
    from tuning.config import TrainConfig
    from tuning.train import train

    config = TrainConfig(
        method="lora", rank=8, alpha=16, dropout=TrainConfig.dropout if dropout is None else dropout, target_modules=["q_proj", "v_proj"], learning_rate=lr,
        lr_scheduler="cosine", warmup_ratio=0.05, epochs=1, micro_batch_size=micro_batch_size, max_length=128,
        packing="packed", precision="auto", eval_every=0, save_every=0, seed=seed, compile=compile,
    )
    load_before = load_avg()
    cpu_started = time.process_time()
    result = train(config, train_pairs, [], ws, name)
    cpu_seconds = time.process_time() - cpu_started  # includes model load, tokenisation and saving
    r = result.record
    return {
        "adapter_dir": result.adapter_dir,
        "real_tokens": r.tokens_seen,
        "slots": r.slots_seen,
        "loss_tokens": r.loss_tokens_seen,
        "seconds": r.train_seconds,
        "tokens_per_s": r.tokens_per_s,
        "steps": r.steps,
        "cpu_seconds": cpu_seconds,
        "tokens_per_cpu_s": r.tokens_seen / cpu_seconds,
        "load_before": load_before,
        "load_after": load_avg(),
        "precision": r.precision,
        "attention": r.attention,
        "dropout": config.dropout,
        "padding_fraction": r.padding_fraction,
        "truncated": r.train_data.truncated,
        "compiled": r.compiled,
        "compile_seconds": r.compile_seconds,
        # tokens/s above is the steady rate (train_seconds leaves compilation out); this one pays it
        "tokens_per_s_with_compile": r.tokens_seen / (r.train_seconds + r.compile_seconds),
    }


def heldout_loss(model, tokenizer, heldout) -> float:
    """Response-token cross-entropy on held-out pairs, fp32, identical for both models."""
    from tuning.batches import encode_examples
    from tuning.config import TrainConfig
    from tuning.device import Precision
    from tuning.train import evaluate_loss

    enc, _ = encode_examples(tokenizer, heldout, 128)
    cfg = TrainConfig(micro_batch_size=8, max_length=128, packing="packed")
    return evaluate_loss(model, enc, cfg, Precision("fp32", "cpu", None), "cpu", tokenizer.pad_token_id)


def mfu(p_body: int, run: dict, peak_gflops: float) -> float:
    """Forward 2N + backward through activations 2N per real token (frozen base, LoRA) over the peak."""
    return 4 * p_body * run["real_tokens"] / run["seconds"] / (peak_gflops * 1e9)


def machine_info() -> dict:
    import torch

    cpu = next((l.split(":", 1)[1].strip() for l in Path("/proc/cpuinfo").read_text().splitlines() if l.startswith("model name")), "?")
    return {"cpu": cpu, "cores": os.cpu_count(), "torch_threads": torch.get_num_threads(), "torch": torch.__version__, "python": platform.python_version()}


def versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in ("torch", "transformers", "peft", "accelerate", "trl", "datasets", "pyarrow", "dill"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = None
    return out


def parse_peers(text: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in PEERS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"unknown peer(s) {unknown or text!r}; choose from {', '.join(PEERS)}")
    return names


def peer_rounds(args, ws, train_pairs, heldout, peaks: dict) -> dict:
    """``--rounds`` rounds of ours then each peer, in this one process (the same load for all sides);
    every run's real tokens/s, tokens per CPU-second, held-out response loss and MFU, the best round
    of each side and the ratio ours / strongest peer."""
    import gc

    from tuning.adapters import load_with_adapter
    from tuning.models import load_base_model

    base = load_base_model(None, ws)
    p_body = body_params(base.model)
    base_loss = heldout_loss(base.model, base.tokenizer, heldout)
    del base
    print(f"base held-out response loss {base_loss:.4f}", flush=True)

    def finish(name: str, run: dict, model, tokenizer) -> dict:
        run = {k: (str(v) if isinstance(v, Path) else v) for k, v in run.items() if k not in ("model", "tokenizer")}
        run["heldout_response_loss"] = heldout_loss(model, tokenizer, heldout)
        own = "bf16" if "bf16" in str(run["precision"]) else "fp32"
        run["mfu_vs_bf16_peak"] = mfu(p_body, run, peaks["bf16"])
        run[f"mfu_vs_own_{own}_peak"] = mfu(p_body, run, peaks[own])
        print(
            f"  {name}: {run['tokens_per_s']:.1f} real tok/s, {run['tokens_per_cpu_s']:.1f} per CPU-s ({run['real_tokens']} tokens, "
            f"{run['seconds']:.1f}s, {run['steps']} steps, {run['precision']}), held-out {run['heldout_response_loss']:.4f}, "
            f"MFU {run['mfu_vs_bf16_peak']:.1%} of bf16 peak, load {run['load_before']} -> {run['load_after']}",
            flush=True,
        )
        gc.collect()
        return run

    rounds = []
    for k in range(args.rounds):
        print(f"round {k + 1}/{args.rounds}", flush=True)
        runs = {}
        ours = run_ours(ws, train_pairs, args.lr, args.seed, args.micro_batch_size, name=f"bench-ours-r{k + 1}")
        loaded = load_with_adapter(ours["adapter_dir"], ws)
        runs["ours"] = finish("ours", ours, loaded.model, loaded.tokenizer)
        del loaded
        if args.compiled:  # the same run with the training forward compiled for one static shape
            compiled = run_ours(ws, train_pairs, args.lr, args.seed, args.micro_batch_size, name=f"bench-ours-compiled-r{k + 1}", compile="on")
            loaded = load_with_adapter(compiled["adapter_dir"], ws)
            runs["ours-compiled"] = finish("ours-compiled", compiled, loaded.model, loaded.tokenizer)
            del loaded
        for name in args.peers:
            run = PEERS[name](ws, train_pairs, args.lr, args.seed, args.micro_batch_size)
            runs[name] = finish(name, run, run["model"], run["tokenizer"])
            del run
        strongest = max(args.peers, key=lambda n: runs[n]["tokens_per_s"])
        rounds.append({"round": k + 1, "runs": runs, "strongest_peer": strongest,
                       "ratio_ours_vs_strongest_real_tokens_per_s": runs["ours"]["tokens_per_s"] / runs[strongest]["tokens_per_s"]})

    best = {}
    for name in ["ours", *(["ours-compiled"] if args.compiled else []), *args.peers]:
        r = max(rounds, key=lambda r: r["runs"][name]["tokens_per_s"])
        best[name] = {"round": r["round"], **r["runs"][name]}
    strongest = max(args.peers, key=lambda n: best[n]["tokens_per_s"])
    return {
        "machine": machine_info(),
        "versions": versions(),
        "matmul_peak_gflops": peaks,
        "pairs": args.pairs,
        "heldout": args.heldout,
        "lr": args.lr,
        "micro_batch_size": args.micro_batch_size,
        "peers": args.peers,
        "rounds": rounds,
        "heldout_response_loss_base": base_loss,
        "best": best,
        "strongest_peer": strongest,
        "ratio_ours_vs_strongest_real_tokens_per_s": best["ours"]["tokens_per_s"] / best[strongest]["tokens_per_s"],
        "ratio_ours_vs_strongest_real_tokens_per_cpu_s": best["ours"]["tokens_per_cpu_s"] / best[strongest]["tokens_per_cpu_s"],
        **({"ratio_ours_compiled_vs_strongest_real_tokens_per_s": best["ours-compiled"]["tokens_per_s"] / best[strongest]["tokens_per_s"],
            "ratio_ours_compiled_vs_strongest_with_compile_time": best["ours-compiled"]["tokens_per_s_with_compile"] / best[strongest]["tokens_per_s"]}
           if args.compiled else {}),
        "mfu_formula": "4 * transformer-block params * real tokens / s / matmul peak (LM head and attention excluded)",
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--pairs", type=int, default=192)
    ap.add_argument("--heldout", type=int, default=128)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--micro-batch-size", type=int, default=4, help="ours: packed token budget = this * 128")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--steps-only", type=int, default=0, help="only N interleaved single steps per side (busy machine; no quality figure)")
    ap.add_argument("--workspace", default=str(Path(tempfile.gettempdir()) / "bench-tuning-ws"))
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "tuning_train.json")
    ap.add_argument("--peers", type=parse_peers, default=None, help=f"comma-separated peers to race in rounds: {', '.join(PEERS)}")
    ap.add_argument("--rounds", type=int, default=2, help="with --peers: interleaved rounds (ours, then each peer)")
    ap.add_argument("--compiled", action="store_true", help="with --peers: also run ours with compile: on in each round (tuning/static_graph.py)")
    args = ap.parse_args()
    if args.rounds < 1:
        ap.error("--rounds must be at least 1")

    import torch

    from core.workspace import Workspace
    from tuning.adapters import load_with_adapter
    from tuning.models import load_base_model

    ws = Workspace.resolve(args.workspace).ensure()
    load_base_model(None, ws)  # convert the GGUF once, outside any timing
    train_pairs, heldout = load_pairs(args.data, args.pairs, args.heldout, args.seed)
    if args.steps_only:
        peaks = {"fp32": matmul_peak("fp32"), "bf16": matmul_peak("bf16")}
        result = step_comparison(ws, train_pairs, args.steps_only)
        result["matmul_peak_gflops"] = peaks
        p_body = body_params(load_base_model(None, ws).model)
        result["mfu"] = {
            "formula": "4 * transformer-block params * real tokens / s / matmul peak",
            "reference_vs_fp32_peak": 4 * p_body * result["reference"]["tokens_per_s"] / (peaks["fp32"] * 1e9),
            "ours_vs_bf16_peak": 4 * p_body * result["ours"]["tokens_per_s"] / (peaks["bf16"] * 1e9),
        }
        result["machine"] = {"cpu": "see /proc/cpuinfo", "cores": os.cpu_count(), "torch": torch.__version__, "threads": torch.get_num_threads()}
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2, default=str))
        print(json.dumps(result, indent=2, default=str))
        return 0
    peaks = {"fp32": matmul_peak("fp32"), "bf16": matmul_peak("bf16")}
    print(f"matmul peak GFLOP/s: {peaks}  load: {load_avg()}", flush=True)
    if args.peers:
        result = peer_rounds(args, ws, train_pairs, heldout, peaks)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2, default=str))
        print(json.dumps({k: result[k] for k in ("strongest_peer", "ratio_ours_vs_strongest_real_tokens_per_s", "ratio_ours_vs_strongest_real_tokens_per_cpu_s")}, indent=2))
        return 0

    base = load_base_model(None, ws)
    base_loss = heldout_loss(base.model, base.tokenizer, heldout)
    print(f"base held-out response loss {base_loss:.4f}", flush=True)

    ours = run_ours(ws, train_pairs, args.lr, args.seed, args.micro_batch_size)
    print(f"ours: {ours['tokens_per_s']:.1f} real tok/s ({ours['real_tokens']} tokens, {ours['seconds']:.1f}s, {ours['steps']} steps, {ours['precision']}, dropout {ours['dropout']})", flush=True)
    # The same run with the reference's LoRA dropout (0.05): what our default of 0 is worth.
    ours_d = run_ours(ws, train_pairs, args.lr, args.seed, args.micro_batch_size, dropout=0.05, name="bench-ours-dropout")
    print(f"ours, dropout 0.05: {ours_d['tokens_per_s']:.1f} real tok/s ({ours_d['seconds']:.1f}s)", flush=True)
    ref = run_reference(ws, train_pairs, args.lr, args.seed)
    print(f"reference: {ref['tokens_per_s']:.1f} real tok/s ({ref['real_tokens']} tokens, {ref['seconds']:.1f}s, {ref['steps']} steps)", flush=True)

    ref_loss = heldout_loss(ref["model"], ref["tokenizer"], heldout)
    ours_loaded = load_with_adapter(ours["adapter_dir"], ws)
    ours_loss = heldout_loss(ours_loaded.model, ours_loaded.tokenizer, heldout)
    ours_d_loaded = load_with_adapter(ours_d["adapter_dir"], ws)
    ours_d_loss = heldout_loss(ours_d_loaded.model, ours_d_loaded.tokenizer, heldout)

    p_body = ref["body_params"]
    result = {
        "machine": machine_info(),
        "matmul_peak_gflops": peaks,
        "pairs": args.pairs,
        "heldout": args.heldout,
        "lr": args.lr,
        "reference": {k: v for k, v in ref.items() if k not in ("model", "tokenizer")},
        "ours": {k: (str(v) if isinstance(v, Path) else v) for k, v in ours.items()},
        "ours_dropout_0.05": {k: (str(v) if isinstance(v, Path) else v) for k, v in ours_d.items()},
        "speedup_real_tokens_per_s": ours["tokens_per_s"] / ref["tokens_per_s"],
        "speedup_dropout_0.05_real_tokens_per_s": ours_d["tokens_per_s"] / ref["tokens_per_s"],
        "speedup_real_tokens_per_cpu_s": ours["tokens_per_cpu_s"] / ref["tokens_per_cpu_s"],
        "heldout_response_loss": {"base": base_loss, "reference": ref_loss, "ours": ours_loss, "ours_dropout_0.05": ours_d_loss},
        "mfu": {
            "formula": "4 * transformer-block params * real tokens / s / matmul peak (LM head and attention excluded)",
            "reference_vs_fp32_peak": mfu(p_body, ref, peaks["fp32"]),
            "ours_vs_bf16_peak": mfu(p_body, ours, peaks["bf16"]),
            "ours_vs_fp32_peak": mfu(p_body, ours, peaks["fp32"]),
        },
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, default=str))
    print(json.dumps({k: result[k] for k in ("speedup_real_tokens_per_s", "speedup_dropout_0.05_real_tokens_per_s", "speedup_real_tokens_per_cpu_s", "heldout_response_loss", "mfu")}, indent=2))
    return 0



def step_comparison(ws, pairs, steps: int) -> dict:
    """Interleaved single optimizer steps (reference, ours, reference, ours, ...) on the same 8 pairs each
    time: the same real tokens under the same machine load. Used where a busy machine makes the full
    one-epoch comparison too slow (``--steps-only``); it does not measure quality."""
    import torch
    from peft import get_peft_model

    from tuning.batches import collate, encode_examples, format_pair
    from tuning.config import TrainConfig
    from tuning.device import choose_precision
    from tuning.models import load_base_model
    from tuning.train import forward_loss, wrap_model

    ref_loaded = load_base_model(None, ws)
    tok = ref_loaded.tokenizer
    ref_model = get_peft_model(ref_loaded.model, lora_config(0.05))
    ref_model.train()
    ref_opt = torch.optim.AdamW([p for p in ref_model.parameters() if p.requires_grad], lr=1e-3)
    ours_loaded = load_base_model(None, ws, dtype="bfloat16")
    config = TrainConfig(rank=8, alpha=16, dropout=0.05, target_modules=["q_proj", "v_proj"], max_length=128)
    ours_model = wrap_model(ours_loaded, config)
    ours_model.train()
    ours_opt = torch.optim.AdamW([p for p in ours_model.parameters() if p.requires_grad], lr=1e-3)
    precision = choose_precision("auto", "cpu")
    out = {"reference": {"seconds": 0.0, "cpu_seconds": 0.0, "real_tokens": 0}, "ours": {"seconds": 0.0, "cpu_seconds": 0.0, "real_tokens": 0}, "load": []}
    for k in range(steps):
        chunk = pairs[k * 8 : (k + 1) * 8]
        texts = ["".join(format_pair(tok, p.input, p.output, None)) for p in chunk]
        tok.padding_side = "right"
        enc = tok(texts, add_special_tokens=False, padding="max_length", truncation=True, max_length=128, return_tensors="pt")
        labels = enc["input_ids"].clone()
        labels[enc["attention_mask"] == 0] = -100
        out["load"].append(load_avg())
        t, c = time.perf_counter(), time.process_time()
        loss = ref_model(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"], labels=labels).loss
        loss.backward()
        ref_opt.step()
        ref_opt.zero_grad()
        out["reference"]["seconds"] += time.perf_counter() - t
        out["reference"]["cpu_seconds"] += time.process_time() - c
        out["reference"]["real_tokens"] += int(enc["attention_mask"].sum())
        encoded, _ = encode_examples(tok, chunk, 128)
        t, c = time.perf_counter(), time.process_time()
        batch = collate(encoded, range(len(encoded)), "packed", 128, tok.pad_token_id)
        n = max(batch.loss_tokens, 1)
        (forward_loss(ours_model, batch, precision) / n).backward()
        ours_opt.step()
        ours_opt.zero_grad()
        out["ours"]["seconds"] += time.perf_counter() - t
        out["ours"]["cpu_seconds"] += time.process_time() - c
        out["ours"]["real_tokens"] += batch.real_tokens
        print(f"step {k}: ref {out['reference']['seconds']:.1f}s ours {out['ours']['seconds']:.1f}s load {out['load'][-1]}", flush=True)
    for side in ("reference", "ours"):
        out[side]["tokens_per_s"] = out[side]["real_tokens"] / out[side]["seconds"]
        out[side]["tokens_per_cpu_s"] = out[side]["real_tokens"] / out[side]["cpu_seconds"]
    out["speedup_real_tokens_per_s"] = out["ours"]["tokens_per_s"] / out["reference"]["tokens_per_s"]
    out["speedup_real_tokens_per_cpu_s"] = out["ours"]["tokens_per_cpu_s"] / out["reference"]["tokens_per_cpu_s"]
    return out


if __name__ == "__main__":
    raise SystemExit(main())
