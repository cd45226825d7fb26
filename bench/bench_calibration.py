"""Does a calibrated pre-flight predict a real SmolLM2 run? Target: the calibrated time within 30% of the measured one.

Run: .venv/bin/python bench/bench_calibration.py [--data data/sample/pairs.jsonl] [--calibrate-steps 8] [--run-steps 40] [--rounds 3]
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
    parser.add_argument("--calibrate-steps", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
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
    rows, errors, loads = [], [], []
    for round_ in range(1, args.rounds + 1):  # interleaved: calibrate, run, calibrate, run (the load drifts)
        cal = calibrate(config, ws, steps=args.calibrate_steps, examples=pairs, device="cpu")
        run_config = TrainConfig(**config, max_steps=args.run_steps, eval_every=0, save_every=0, keep_best=False, device="cpu")
        started = time.perf_counter()
        record = train(run_config, pairs, pairs[:8], ws, f"bench-calibration-{int(time.time())}", resume=False).record
        wall = time.perf_counter() - started
        tokens, seconds = record.tokens_seen, record.train_seconds
        predicted = tokens / cal.measured_tokens_per_second
        uncalibrated = tokens / training_tokens_per_second(setup_from_config(config), "cpu")
        error = predicted / seconds - 1
        errors.append(error)
        loads.append(os.getloadavg()[0])
        rows.append(f"| {round_} | {cal.measured_tokens_per_second:,.0f} | {predicted:,.1f} | {tokens / uncalibrated:,.0f} | "
                    f"{uncalibrated:,.1f} | {tokens:,} | {tokens / seconds:,.0f} | {seconds:,.1f} ({wall:,.1f} wall) | {error:+.0%} | "
                    f"{uncalibrated / seconds - 1:+.0%} | {loads[-1]:.1f} |")
    median_error = sorted(errors, key=abs)[len(errors) // 2]
    lines = [
        "# Calibrated pre-flight vs a real SmolLM2 run",
        "",
        f"CPU ({os.cpu_count()} cores), SmolLM2-135M LoRA r16, micro-batch {args.micro_batch} x {args.max_length}, data {args.data}; "
        f"{args.rounds} interleaved rounds of a {args.calibrate_steps}-step calibration then a {args.run_steps}-step run.",
        "",
        "| round | calibrated tokens/s | predicted s | uncalibrated tokens/s | uncalibrated s | run tokens | measured tokens/s | "
        "measured s | calibrated error | uncalibrated error | load (1 min) |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
        *rows,
        "",
        f"Target: calibrated time within {TARGET:.0%} of the measured run: median error {median_error:+.0%}, "
        f"{sum(abs(e) <= TARGET for e in errors)} of {len(errors)} rounds within: {'met' if abs(median_error) <= TARGET else 'MISSED'}. "
        f"Peak memory (last round): calibration {cal.measured_peak_mib:,.0f} MiB ({cal.memory_basis}), estimate {cal.estimated_peak_mib:,.0f} MiB.",
    ]
    out = ROOT / "bench" / "results" / "calibration.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))
    return 0 if abs(median_error) <= TARGET else 1


if __name__ == "__main__":
    raise SystemExit(main())
