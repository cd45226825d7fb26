"""`advisor plan --answers FILE [--data FILE] [--corpus PATH] [--out plan.yaml]`: the experiment plan.

Writes a YAML plan that `advisor sweep start --plan plan.yaml` runs as is; without ``--out`` it is
printed. A plan that would not fit the stated GPU is refused with the estimator's reason (exit 2).
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


def run(args: argparse.Namespace) -> int:
    import sys
    from pathlib import Path

    from advisor.plan import make_plan
    from advisor.questions import load_answers
    from core.errors import ConfigError

    answers = load_answers(args.answers)
    for flag, value in (("--data", args.data), ("--corpus", args.corpus)):
        if value and not Path(value).exists():
            raise ConfigError(f"{flag} {value} does not exist.")
    plan = make_plan(answers, dataset=args.data, corpus=args.corpus, name=args.name)
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
