"""`advisor estimate --model-size 7B --method lora --gpu a100-80 ...`: memory, speed, time and cost (estimates).

Also ``--published`` (how far the estimator was off on published figures), ``--inference``
(generation memory and speed), ``--corpus-tokens N`` (RAG index size and per-query cost),
``--data FILE`` (the real data set's size and lengths) and ``--calibrate`` (a few real optimiser
steps of this configuration on this machine; measured figures beside the estimates).
"""

from __future__ import annotations

import argparse

from advisor.cli import non_negative_int, path_arg, positive_float, positive_int

NAME = "estimate"
HELP = "estimate peak GPU memory, tokens/s, wall time and cost for training, generation and RAG"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model-size", default="smollm2", help="model size (7B, 135M), a known name (llama-3.1-8b) or a local folder (default: smollm2)")
    parser.add_argument("--method", choices=("lora", "qlora", "dora", "full"), default="lora")
    parser.add_argument("--gpu", default="a100-80", help="device from the catalogue: t4, l4, a10g, rtx4090, a100-40, a100-80, h100, h200, cpu")
    parser.add_argument("--devices", type=positive_int, default=1, help="number of such devices (default 1)")
    parser.add_argument("--bits", type=int, choices=(4, 8), default=4, help="QLoRA base precision (default 4)")
    parser.add_argument("--precision", choices=("mixed", "bf16", "fp32"), default="mixed", help="full fine-tuning: mixed (fp32 master weights), pure bf16, or fp32")
    parser.add_argument("--rank", type=positive_int, default=16)
    parser.add_argument("--target-modules", default="all-linear", help="comma-separated module names or all-linear")
    parser.add_argument("--seq-len", type=positive_int, default=1024)
    parser.add_argument("--micro-batch", type=positive_int, default=1)
    parser.add_argument("--no-checkpointing", action="store_true", help="gradient checkpointing off (default on)")
    parser.add_argument("--optimizer", choices=("adamw", "adamw8bit", "paged_adamw", "paged_adamw8bit"), default="adamw",
                        help="AdamW states: fp32, 8-bit, or paged by bitsandbytes (spill to CPU RAM; counted apart from the card's peak)")
    parser.add_argument("--optimizer-in-backward", action="store_true", help="update each parameter as its gradient arrives (one gradient alive at a time)")
    parser.add_argument("--profile", choices=("plain-transformers", "optimised"), default="plain-transformers",
                        help="throughput profile: this product's plain transformers engine, or an optimised stack (torchtune, Unsloth)")
    parser.add_argument("--chunked-loss", action="store_true", help="the loss is computed in chunks (torchtune, Liger); smaller logits peak")
    parser.add_argument("--tokens", type=positive_float, default=None, help="training tokens in total (default: pairs x tokens-per-pair x epochs)")
    parser.add_argument("--data", type=path_arg, metavar="FILE", help="pairs file: its real size and lengths set the training tokens and --seq-len")
    parser.add_argument("--pairs", type=positive_int, default=5000)
    parser.add_argument("--tokens-per-pair", type=positive_int, default=200)
    parser.add_argument("--epochs", type=positive_float, default=3.0)
    parser.add_argument("--price", type=positive_float, default=None, help="override the device's $/hour")
    parser.add_argument("--catalogue", type=path_arg, metavar="FILE", help="YAML file with device overrides (prices, new devices)")
    parser.add_argument("--inference", action="store_true", help="also estimate generation memory and speed")
    parser.add_argument("--batch", type=positive_int, default=1, help="generation batch size (with --inference)")
    parser.add_argument("--context", type=positive_int, default=2048, help="generation context tokens (with --inference)")
    parser.add_argument("--corpus-tokens", type=positive_float, default=None, help="also estimate a RAG index over this many corpus tokens")
    parser.add_argument("--chunk-size", type=positive_int, default=256)
    parser.add_argument("--chunk-overlap", type=non_negative_int, default=32)
    parser.add_argument("--top-k", type=positive_int, default=4)
    parser.add_argument("--published", action="store_true", help="show the estimator against published figures and exit")
    parser.add_argument("--calibrate", action="store_true", help="run a few real optimiser steps of this configuration here and show measured beside estimated")
    parser.add_argument("--calibrate-steps", type=positive_int, default=4, help="optimiser steps of the calibration run (the first is a warm-up)")
    parser.add_argument("--workspace", default=None, help="workspace for the calibration run (default $ADVISOR_WORKSPACE or ./workspace)")
    parser.add_argument("--format", choices=("text", "json"), default="text")


def run(args: argparse.Namespace) -> int:
    from advisor.catalogue import get_device, load_catalogue
    from advisor.cli import print_json
    from advisor.estimate import (
        TrainSetup, accuracy_summary, accuracy_table, estimate_rag, estimate_training,
        generation_tokens_per_second, inference_memory, resolve_model,
    )
    from core.errors import ConfigError

    if args.published:
        rows = accuracy_table()
        if args.format == "json":
            print_json({"cases": rows, "summary": accuracy_summary()})
        else:
            for r in rows:
                print(f"{r['case']:40} {r['quantity']:10} published {r['published']:>8g} {r['unit']:9} estimated {r['estimated']:>8g}  error {r['error']:+.0%}")
            print(accuracy_summary())
        return 0
    for name in ("devices", "rank", "seq_len", "micro_batch", "pairs", "tokens_per_pair", "batch", "context", "calibrate_steps"):
        if getattr(args, name) < 1:
            raise ConfigError(f"--{name.replace('_', '-')} must be >= 1, got {getattr(args, name)}.")
    catalogue = load_catalogue(args.catalogue)
    device = get_device(args.gpu, catalogue)
    if args.price is not None:
        from dataclasses import replace

        device = replace(device, price_per_hour=args.price)
    model = resolve_model(args.model_size)
    targets = "all-linear" if args.target_modules == "all-linear" else tuple(t.strip() for t in args.target_modules.split(",") if t.strip())
    data = None
    seq_len = args.seq_len
    if args.data:
        from advisor.method import read_data_stats

        data = read_data_stats(args.data)
        seq_len = min(4096, max(64, int(data.p99_tokens)))
    setup = TrainSetup(
        model, args.method, args.precision, args.bits, args.rank, targets, seq_len, args.micro_batch,
        not args.no_checkpointing, chunked_loss=args.chunked_loss, optimizer=args.optimizer,
        optimizer_in_backward=args.optimizer_in_backward, profile=args.profile,
    )
    if args.tokens is not None:
        tokens = args.tokens
    elif data is not None:
        tokens = data.pairs * data.mean_tokens * args.epochs
    else:
        tokens = args.pairs * args.tokens_per_pair * args.epochs
    est = estimate_training(setup, device, tokens, args.devices)
    out = {"training": est.to_dict()}
    if data is not None:
        out["data"] = {"path": data.path, "pairs": data.pairs, "mean_tokens": round(data.mean_tokens, 1), "p99_tokens": round(data.p99_tokens, 1)}
    if args.calibrate:
        out["calibration"] = _calibrate(args, setup, device, tokens)
    if args.inference:
        bits = {"qlora": args.bits}.get(args.method, 16)
        mem = inference_memory(model, bits, args.batch, args.context)
        out["inference"] = {
            "estimate": True, "bits": bits, "batch": args.batch, "context_tokens": args.context,
            "peak_memory_gib": mem.gib(), "fits": mem.total <= device.memory_bytes - 0.5e9,
            "generated_tokens_per_second": round(generation_tokens_per_second(model, device, bits, args.batch), 1),
        }
    if args.corpus_tokens:
        out["rag"] = estimate_rag(args.corpus_tokens, device, model, args.chunk_size, args.chunk_overlap, args.top_k).to_dict()
    if args.format == "json":
        print_json(out)
        return 0
    t = out["training"]
    print(f"ESTIMATES for {t['method']} on {model.name}, {args.devices} x {device.label} (${device.price_per_hour:g}/h)")
    print(f"  setup: micro-batch {args.micro_batch} x {seq_len} tokens, checkpointing {'off' if args.no_checkpointing else 'on'}, rank {args.rank}, "
          f"optimizer {args.optimizer}, {args.profile} profile")
    if "data" in out:
        d = out["data"]
        print(f"  data: {d['pairs']:,} pairs in {d['path']}, mean ~{d['mean_tokens']} tokens, 99th percentile ~{d['p99_tokens']}")
    print(f"  peak training memory: {t['peak_memory_gib']['total']} GiB of {t['device_memory_gib']} GiB usable -> {'fits' if t['fits'] else 'DOES NOT FIT'}")
    print("    " + ", ".join(f"{k} {v}" for k, v in t["peak_memory_gib"].items() if k != "total"))
    print(f"  throughput: ~{t['tokens_per_second']:,} tokens/s; {t['training_tokens']:,} tokens -> ~{t['wall_hours']} h, ~${t['cost_usd']}")
    for note in t["notes"]:
        print(f"  note: {note}")
    if "inference" in out:
        i = out["inference"]
        print(f"  generation ({i['bits']}-bit, batch {i['batch']}, {i['context_tokens']} tokens): peak {i['peak_memory_gib']['total']} GiB, ~{i['generated_tokens_per_second']} tokens/s")
    if "rag" in out:
        r = out["rag"]
        print(f"  RAG: {r['chunks']:,} chunks, index {r['index_mib']} MiB, build ~{r['build_minutes']} min, +{r['extra_prompt_tokens_per_query']} prompt tokens "
              f"and +{r['extra_seconds_per_query']} s per query, ${r['cost_per_1000_queries_usd']} per 1,000 queries")
    if "calibration" in out:
        c = out["calibration"]
        print(f"  MEASURED here: {c['summary']}")
        print(f"  calibrated: ~{c['calibrated_tokens_per_second']:,} tokens/s -> ~{c['calibrated_wall_hours']} h for {int(tokens):,} tokens on this machine; "
              f"peak ~{c['calibrated_peak_mib']:,} MiB")
    print(f"  {accuracy_summary()}")
    return 0


def _calibrate(args: argparse.Namespace, setup, device, tokens: float) -> dict:
    """A few real optimiser steps of this configuration here (CPU, or CUDA where present)."""
    import sys

    from advisor.estimate.calibrate import calibrate

    config = {"model": args.model_size, "method": "lora" if args.method == "qlora" else args.method, "qlora": args.method == "qlora",
              "rank": args.rank, "max_length": setup.seq_len, "micro_batch_size": args.micro_batch,
              "gradient_checkpointing": not args.no_checkpointing}
    if args.method == "dora":
        config.update(method="lora", dora=True)
    print(f"calibrating: {args.calibrate_steps} optimiser steps of {args.method} on {args.model_size} here ...", file=sys.stderr)
    examples = None
    if args.data:
        from advisor.method import read_pairs

        examples = read_pairs(args.data)
    cal = calibrate(config, args.workspace, steps=args.calibrate_steps, examples=examples,
                    catalogue_device="cpu" if device.kind == "cpu" else device.name)
    rate = cal.scale_tokens_per_second(setup)
    return cal.to_dict() | {"summary": cal.summary(), "calibrated_tokens_per_second": round(rate, 1),
                            "calibrated_wall_hours": round(tokens / rate / 3600, 3) if rate else None,
                            "calibrated_peak_mib": round(cal.calibrated_peak_mib(setup), 1)}

