"""`advisor plan --answers FILE [--data FILE] [--corpus PATH] [--out plan.yaml]`: the experiment plan.

Writes a YAML plan that `advisor sweep start --plan plan.yaml` runs as is; without ``--out`` it is
printed. A plan that would not fit the stated GPU is refused with the estimator's reason (exit 2).
``--calibrate`` first runs a few real optimiser steps of the first rung here and records the
measured figures beside the estimates (``calibration:`` in the plan).
"""

from __future__ import annotations

import argparse

from advisor.cli import path_arg

NAME = "plan"
HELP = "write the experiment plan (data split, RAG configs, model ladder, LoRA search space, budget, thresholds)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--answers", type=path_arg, metavar="FILE", required=True, help="questionnaire answers (YAML or JSON)")
    parser.add_argument("--data", type=path_arg, metavar="FILE", help="pairs file to fine-tune and evaluate on")
    parser.add_argument("--corpus", type=path_arg, metavar="PATH", help="document folder or JSONL for RAG")
    parser.add_argument("--name", default="plan", help="plan and sweep name (default: plan)")
    parser.add_argument("--out", type=path_arg, metavar="FILE", help="write the plan here (default: print it)")
    parser.add_argument("--format", choices=("yaml", "json"), default="yaml", help="stdout format when --out is not given")
    parser.add_argument("--calibrate", action="store_true", help="measure a few real optimiser steps of the first rung here and record them in the plan")
    parser.add_argument("--workspace", default=None, help="workspace for the calibration run (default $ADVISOR_WORKSPACE or ./workspace)")


def run(args: argparse.Namespace) -> int:
    import sys
    from pathlib import Path

    from advisor.plan import make_plan
    from advisor.questions import load_answers
    from core.errors import ConfigError

    notes: list[str] = []
    answers = load_answers(args.answers, notes=notes)
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    for flag, value in (("--data", args.data), ("--corpus", args.corpus)):
        if value and not Path(value).exists():
            raise ConfigError(f"{flag} {value} does not exist.")
    calibration = None
    if args.calibrate:
        draft = make_plan(answers, dataset=args.data, corpus=args.corpus, name=args.name)
        calibration = _calibrate(draft, args)
    plan = make_plan(answers, dataset=args.data, corpus=args.corpus, name=args.name, calibration=calibration)
    if args.out:
        path = plan.save(args.out)
        print(f"plan written to {path}: {plan.recommendation}, {plan.method}, models {plan.models}, {plan.budget.trials} LoRA trials")
        for note in plan.notes:
            print(f"  - {note}")
        print(f"run it with: advisor sweep start --plan {path}")
        return 0
    if args.format == "json":
        from advisor.cli import print_json

        print_json(plan.to_dict())
    else:
        sys.stdout.write(plan.to_yaml())
    return 0


def _calibrate(plan, args: argparse.Namespace):
    """A few real optimiser steps of the plan's first rung (its cheapest trial) on this machine."""
    import sys

    from advisor.estimate.calibrate import calibrate
    from advisor.method import read_pairs

    config = plan.cheapest_config(plan.models[0])
    config["model"] = None if config["model"] in ("smollm2", "default") else config["model"]
    if config.get("method") == "qlora":
        config.update(method="lora", qlora=True)
    print(f"calibrating: a few optimiser steps of {plan.models[0]} ({config['method']}) here ...", file=sys.stderr)
    examples = read_pairs(args.data) if args.data else None
    return calibrate({k: v for k, v in config.items() if v is not None}, args.workspace, examples=examples or None)
