"""Does a calibrated pre-flight predict a real SmolLM2 run? Target: the calibrated time within 30% of the measured one.

Run: .venv/bin/python bench/bench_calibration.py [--data data/sample/pairs.jsonl] [--calibrate-steps 5] [--run-steps 40]
(writes bench/results/calibration.md). It calibrates SmolLM2-135M LoRA for a few steps with
``advisor.estimate.calibrate``, predicts the time of a longer run of the same configuration from the
measured tokens/s, then trains that run with ``tuning.train.train`` and compares. The uncalibrated
estimate is reported beside it. Run it on an otherwise idle machine: both runs share the CPU's load.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TARGET = 0.30


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(ROOT / "data" / "sample" / "pairs.jsonl"))
    parser.add_argument("--calibrate-steps", type=int, default=5)
    parser.add_argument("--run-steps", type=int, default=40)
    parser.add_argument("--micro-batch", type=int, default=4)
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--workspace", default=None)
    args = parser.parse_args()

    from advisor.estimate import training_tokens_per_second
    from advisor.estimate.calibrate import calibrate
    from advisor.estimate.feasibility import setup_from_config
    from advisor.method import read_pairs
    from core.workspace import Workspace
    from tuning.config import TrainConfig
    from tuning.train import train

    ws = Workspace.resolve(args.workspace or tempfile.mkdtemp(prefix="bench-calibration-")).ensure()
    pairs = read_pairs(args.data)
    config = {"method": "lora", "rank": 16, "max_length": args.max_length, "micro_batch_size": args.micro_batch, "gradient_checkpointing": False}
    cal = calibrate(config, ws, steps=args.calibrate_steps, examples=pairs, device="cpu")
    run_config = TrainConfig(**config, max_steps=args.run_steps, eval_every=0, save_every=0, keep_best=False, device="cpu")
    started = time.perf_counter()
    record = train(run_config, pairs, pairs[:8], ws, f"bench-calibration-{int(time.time())}", resume=False).record
    wall = time.perf_counter() - started
    tokens, seconds = record.tokens_seen, record.train_seconds
    predicted = tokens / cal.measured_tokens_per_second
    uncalibrated = tokens / training_tokens_per_second(setup_from_config(config), "cpu")
    error = predicted / seconds - 1
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    lines = [
        "# Calibrated pre-flight vs a real SmolLM2 run",
        "",
        f"CPU, load average {load:.1f} at the end; SmolLM2-135M LoRA r16, micro-batch {args.micro_batch} x {args.max_length}, data {args.data}.",
        "",
        "| | tokens/s | seconds for the run's tokens | error vs measured |",
        "|---|---|---|---|",
        f"| calibration ({args.calibrate_steps} steps) | {cal.measured_tokens_per_second:,.0f} | {predicted:,.1f} | {error:+.0%} |",
        f"| uncalibrated estimate | {tokens / uncalibrated:,.0f} | {uncalibrated:,.1f} | {uncalibrated / seconds - 1:+.0%} |",
        f"| measured run ({args.run_steps} steps, {tokens:,} tokens) | {tokens / seconds:,.0f} | {seconds:,.1f} | |",
        "",
        f"Target: calibrated within {TARGET:.0%}: {'met' if abs(error) <= TARGET else 'MISSED'}. Wall time of the run {wall:,.1f} s "
        f"(model loading included). Peak memory: calibration {cal.measured_peak_mib:,.0f} MiB ({cal.memory_basis}), "
        f"estimate {cal.estimated_peak_mib:,.0f} MiB.",
    ]
    out = ROOT / "bench" / "results" / "calibration.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))
    return 0 if abs(error) <= TARGET else 1


if __name__ == "__main__":
    raise SystemExit(main())
