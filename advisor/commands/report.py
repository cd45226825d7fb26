"""`advisor report`: the RAG-vs-fine-tune comparison and decision record of leaderboard runs."""

from __future__ import annotations

import argparse

from advisor.cli import bounded_float, path_arg, positive_float

NAME = "report"
HELP = "compare leaderboard runs and write the decision record (Markdown or self-contained HTML)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--runs", required=True, help="comma-separated run ids from `advisor leaderboard` (at least two)")
    parser.add_argument("--answers", type=path_arg, help="questionnaire answers (YAML/JSON) whose recommendation the evidence revisits")
    parser.add_argument("--metric", help="primary metric the verdict follows (default: the plan's primary_metric with --plan, "
                        "else the primary metric of the runs' task kind)")
    parser.add_argument("--plan", type=path_arg, metavar="YAML", help="experiment plan whose primary_metric the verdict follows, whose latency budget each system's p95 "
                        "is measured against, and whose rag.gold_hit_k adds retrieval hit@k of the gold document")
    parser.add_argument("--metrics", help="comma-separated metrics to show (default: every shared metric)")
    parser.add_argument("--format", choices=("md", "html", "json"), default="md", help="output format (default: md)")
    parser.add_argument("--name", help="report folder name under <workspace>/reports/ (default: from the split and time)")
    parser.add_argument("--studies", help="comma-separated sweep names whose history to plot (trials on the leaderboard)")
    parser.add_argument("--no-checks", action="store_true", help="skip the responsible-AI checks section")
    evidence = parser.add_argument_group("evidence a review meeting asks for (measured when missing, then stored)")
    evidence.add_argument("--learning-curve", action=argparse.BooleanOptionalAction, default=True,
                          help="retrain the best LoRA run on 25%%/50%% of the training split and project 2x/4x the data (default: on)")
    evidence.add_argument("--oracle", action="store_true",
                          help="oracle-context run (gold document in the prompt) beside RAG and no context: retrieval vs reading failures")
    evidence.add_argument("--forgetting", action="store_true",
                          help="score every fine-tuned run and its base model on the shipped general held-out set")
    evidence.add_argument("--forgetting-tolerance", type=bounded_float(0.0, 1.0, low_open=False), help="largest acceptable drop on the general set (default 0.05)")
    evidence.add_argument("--requests-per-day", type=positive_float, help="volume for the cost (default: from --answers, else 10,000)")
    evidence.add_argument("--prices", help="JSON price table: {\"per_hour\": {DEVICE: USD}, \"api\": {NAME: {\"input\": USD/1M, \"output\": USD/1M}}}")


def run(args: argparse.Namespace) -> int:
    from advisor.cli import print_json, workspace_of
    from advisor.report import build_record, write_report

    ws = workspace_of(args)
    answers = None
    if args.answers:
        from advisor.questions import load_answers

        answers = load_answers(args.answers)
    runs = [r.strip() for r in args.runs.split(",") if r.strip()]
    metrics = [m.strip() for m in args.metrics.split(",")] if args.metrics else None
    studies = [s.strip() for s in args.studies.split(",") if s.strip()] if args.studies else None
    primary, plan = args.metric, None
    if args.plan:
        from advisor.plan import load_plan

        plan = load_plan(args.plan)
        primary = primary or plan.primary_metric
        if answers is None and plan.answers:
            answers = plan.answers
    record = build_record(ws, runs, answers=answers, primary=primary, metrics=metrics, include_checks=not args.no_checks,
                          studies=studies, evidence=_evidence(args), requests_per_day=args.requests_per_day, prices=args.prices,
                          command=_command(ws, args), say=print, plan=plan)
    if args.format == "json":
        print_json(record.to_dict())
        return 0
    path = write_report(ws, record, fmt=args.format, name=args.name)
    print(record.page.verdict if record.page is not None else record.verdict.headline)  # readable names
    print(f"report: {path}")
    return 0


def _evidence(args: argparse.Namespace):
    from advisor.meeting_evidence import EvidenceOptions

    if args.forgetting_tolerance is not None and args.forgetting_tolerance < 0:
        from core.errors import ConfigError

        raise ConfigError(f"--forgetting-tolerance must be >= 0, but got {args.forgetting_tolerance}.")
    return EvidenceOptions(learning_curve=args.learning_curve, oracle=args.oracle, forgetting=args.forgetting,
                           forgetting_tolerance=args.forgetting_tolerance)


def _command(ws, args: argparse.Namespace) -> str:
    """The command line that writes this record again (the options that change its content)."""
    from advisor.record_summary import reproduce_command

    flags = ([] if args.learning_curve else ["--no-learning-curve"]) + (["--oracle"] if args.oracle else [])
    flags += ["--forgetting"] if args.forgetting else []
    for option in ("plan", "metrics", "studies", "forgetting_tolerance", "requests_per_day", "prices"):
        value = getattr(args, option)
        if value is not None:
            flags += ["--" + option.replace("_", "-"), str(value)]
    flags += ["--no-checks"] if args.no_checks else []
    fmt = "md" if args.format == "json" else args.format
    return reproduce_command(ws.root, [r.strip() for r in args.runs.split(",") if r.strip()], answers=args.answers,
                             metric=args.metric, fmt=fmt, name=args.name, flags=flags)
