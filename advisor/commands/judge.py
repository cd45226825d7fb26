"""`advisor judge score / agreement`: an optional model judge for free-text answers, and whether it agrees with people.

    advisor judge score RUN_A RUN_B --model default --rubric rubric.txt     # a local transformers model
    advisor judge score RUN_A RUN_B --endpoint http://gpu:8000/v1 --endpoint-model Qwen2.5-7B-Instruct --api-key-env JUDGE_KEY
    advisor judge agreement RUN_A RUN_B                                      # against the blind human review

The judge grades every stored answer 1-5 under the rubric and stores it (0-1) as the metric ``judge``.
It decides a verdict (``advisor report``) only once it agrees with blind human review often enough
(docs/tasks.md, "A model judge").
"""

from __future__ import annotations

import argparse

from advisor.cli import path_arg, positive_float

NAME = "judge"
HELP = "grade free-text answers with a model judge under your rubric, and measure its agreement with human review"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="judge_command", metavar="ACTION", required=True)
    score = sub.add_parser("score", help="grade every stored answer of the runs (1-5 -> 0-1) and store it as the metric 'judge'")
    score.add_argument("runs", nargs="+", metavar="RUN", help="run ids from `advisor leaderboard` (judge every run you compare)")
    score.add_argument("--model", default=None,
                       help="judge with a local transformers model: 'default' (SmolLM2-135M-Instruct) or a model folder")
    score.add_argument("--endpoint", default=None, help="judge with an OpenAI-compatible endpoint (base URL, e.g. http://host:8000/v1)")
    score.add_argument("--endpoint-model", default=None, help="the model name the endpoint serves (required with --endpoint)")
    score.add_argument("--api-key-env", default=None, help="environment variable holding the endpoint's API key (never printed)")
    score.add_argument("--timeout", type=positive_float, default=120.0, help="seconds per endpoint request (default 120)")
    score.add_argument("--rubric", type=path_arg, default=None, metavar="FILE",
                       help="text file saying what each grade 1-5 means (default: a rubric for grounded answers, docs/tasks.md)")
    score.add_argument("--format", dest="output_format", choices=("text", "json"), default="text", help="output format (default text)")
    agree = sub.add_parser("agreement", help="how often the judge prefers what blind human reviewers preferred, and whether it may count")
    agree.add_argument("runs", nargs="+", metavar="RUN", help="two or more judged run ids")
    agree.add_argument("--format", dest="output_format", choices=("text", "json"), default="text", help="output format (default text)")


def run(args: argparse.Namespace) -> int:
    return {"score": _score, "agreement": _agreement}[args.judge_command](args)


def _judge(args: argparse.Namespace, ws):
    from core.errors import EvaluationError
    from studies.evaluation.judge import EndpointJudge, LocalJudge

    if args.model and args.endpoint:
        raise EvaluationError("Pass either --model or --endpoint, not both.")
    if args.endpoint:
        if not args.endpoint_model:
            raise EvaluationError("--endpoint needs --endpoint-model: the model name the server serves (see its /v1/models).")
        return EndpointJudge(args.endpoint, args.endpoint_model, args.api_key_env, timeout_s=args.timeout)
    if args.model:
        return LocalJudge(None if args.model == "default" else args.model, ws)
    raise EvaluationError("Say which model judges: --model default (or a model folder), or --endpoint URL --endpoint-model NAME.")


def _score(args: argparse.Namespace) -> int:
    from advisor.cli import ProgressBar, print_json, workspace_of
    from studies.evaluation.judge import judge_run, load_rubric
    from studies.evaluation.run_items import read_prediction_rows

    ws = workspace_of(args)
    runs = list(dict.fromkeys(args.runs))
    rubric = load_rubric(args.rubric)
    for rid in runs:  # every run must have stored answers before a model loads
        read_prediction_rows(ws, rid)
    judge = _judge(args, ws)
    results = []
    for rid in runs:
        bar = ProgressBar(f"judging {rid}", disable=None)
        try:
            results.append(judge_run(ws, rid, judge, rubric, progress=bar))
        finally:
            bar.close()
    gate = _gate(ws, runs) if len(runs) > 1 else None
    if args.output_format == "json":
        print_json({"results": [r.to_dict() for r in results], "gate": gate.to_dict() if gate else None})
        return 0
    print(f"judge {judge.name}, rubric {rubric.source} ({rubric.sha256[:12]})")
    for r in results:
        score = f"{r.score}" if r.score else "no score"
        extra = f", {r.unparsed} unparseable" if r.unparsed else ""
        extra += f", {r.truncated_prompts} prompt(s) cut" if r.truncated_prompts else ""
        print(f"  {r.run_id}: judge {score} over {r.parsed} of {r.items} item(s){extra}")
    if gate is not None:
        _print_gate(gate)
    return 0


def _gate(ws, runs: list[str]):
    from studies.governance.judge_agreement import judge_gate

    return judge_gate(ws, runs)


def _print_gate(gate) -> None:
    a = gate.agreement
    if a is not None and a.n:
        print(f"agreement with human review: {a.agree} of {a.n} judgement(s) = {a.rate:.0%} [{a.low:.0%}, {a.high:.0%}], "
              f"kappa {'n/a' if a.kappa is None else f'{a.kappa:.2f}'}; decisive only: {a.decisive_agree} of {a.decisive}; "
              f"judge ties: {a.judge_ties}")
    verdict = "counts in a verdict" if gate.counts else "shown for information only"
    print(f"the judge {verdict}: {gate.reason}.")


def _agreement(args: argparse.Namespace) -> int:
    from advisor.cli import print_json, workspace_of
    from core.errors import EvaluationError

    runs = list(dict.fromkeys(args.runs))
    if len(runs) < 2:
        raise EvaluationError("Agreement needs at least two judged runs that people reviewed against each other.")
    ws = workspace_of(args)
    from studies.evaluation.run_items import read_prediction_rows

    for rid in runs:
        read_prediction_rows(ws, rid)  # an unknown run is named, with the runs that exist
    gate = _gate(ws, runs)
    if args.output_format == "json":
        print_json(gate.to_dict())
    else:
        _print_gate(gate)
    return 0
