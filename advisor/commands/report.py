"""`advisor report`: the RAG-vs-fine-tune comparison and decision record of leaderboard runs."""

from __future__ import annotations

import argparse

NAME = "report"
HELP = "compare leaderboard runs and write the decision record (Markdown or self-contained HTML)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--runs", required=True, help="comma-separated run ids from `advisor leaderboard` (at least two)")
    parser.add_argument("--answers", help="questionnaire answers (YAML/JSON) whose recommendation the evidence revisits")
    parser.add_argument("--metric", help="primary metric the verdict follows (default: the plan's primary_metric with --plan, "
                        "else the primary metric of the runs' task kind)")
    parser.add_argument("--plan", metavar="YAML", help="experiment plan whose primary_metric the verdict follows")
    parser.add_argument("--metrics", help="comma-separated metrics to show (default: every shared metric)")
    parser.add_argument("--format", choices=("md", "html", "json"), default="md", help="output format (default: md)")
    parser.add_argument("--name", help="report folder name under <workspace>/reports/ (default: from the split and time)")
    parser.add_argument("--studies", help="comma-separated sweep names whose history to plot (trials on the leaderboard)")
    parser.add_argument("--no-checks", action="store_true", help="skip the responsible-AI checks section")


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
    primary = args.metric
    if primary is None and args.plan:
        from advisor.plan import load_plan

        plan = load_plan(args.plan)
        primary = plan.primary_metric
        if answers is None and plan.answers:
            answers = plan.answers
    record = build_record(ws, runs, answers=answers, primary=primary, metrics=metrics, include_checks=not args.no_checks,
                          studies=studies)
    if args.format == "json":
        print_json(record.to_dict())
        return 0
    path = write_report(ws, record, fmt=args.format, name=args.name)
    print(record.verdict.headline)
    print(f"report: {path}")
    return 0
