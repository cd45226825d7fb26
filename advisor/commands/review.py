"""`advisor review RUN_A RUN_B --reviewer NAME`: a blind pairwise review session in the terminal.

For each test item the reviewer sees the input and two outputs labelled "Output 1" and
"Output 2" (which run is which is drawn at random per item and hidden), and answers
1, 2, t (tie), s (skip: never shown again) or q (quit; answers so far are kept), then an
optional comment. Works with piped stdin (end of input = quit). ``--results`` prints the
pair's win rates, Bradley-Terry scores and agreement instead of starting a session.
"""

from __future__ import annotations

import argparse

from advisor.cli import positive_int, seed_int
import sys

NAME = "review"
HELP = "blind pairwise human review of two runs (or --results for win rates and agreement)"

_KEYS = {"1": "left", "2": "right", "t": "tie", "tie": "tie", "s": "skip", "skip": "skip", "q": "quit", "quit": "quit"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_a", metavar="RUN_A", help="first run id (order does not matter, nor is it shown)")
    parser.add_argument("run_b", metavar="RUN_B", help="second run id")
    parser.add_argument("--reviewer", help="your name (required for a session; stored with every judgement)")
    parser.add_argument("--limit", type=positive_int, default=None, help="review at most N items this session")
    parser.add_argument("--seed", type=seed_int, default=None, help="seed for order and sides (default: random, stored)")
    parser.add_argument("--show-reference", action="store_true", help="also show the reference answer")
    parser.add_argument("--results", action="store_true", help="print the pair's results instead of reviewing")
    parser.add_argument("--metric", default=None, help="metric for agreement with the automatic score (default: primary)")
    parser.add_argument("--format", choices=("text", "json"), default="text", help="output format of --results")


def _ask(prompt: str) -> str | None:
    try:
        return input(prompt)
    except EOFError:
        return None


def _session(args: argparse.Namespace) -> int:
    from studies.governance.review import format_item, refresh_scores, start_session

    ws = _workspace(args)
    if not args.reviewer:
        from core.errors import ConfigError

        raise ConfigError("Say who is reviewing: --reviewer NAME (or use --results to see the results).")
    session = start_session(ws, args.run_a, args.run_b, args.reviewer, seed=args.seed, limit=args.limit)
    total = len(session.items)
    if not total:
        print(f"Nothing left to review: {session.reviewer} has judged every shared item of this pair.")
        return 0
    print(f"Blind review of {total} item(s). Which output is better? 1 or 2, t = tie, s = skip, q = quit.")
    counts = {"left": 0, "right": 0, "tie": 0, "skip": 0}
    for number, item in enumerate(session.items, start=1):
        print()
        print(format_item(item, number, total, show_reference=args.show_reference))
        choice = None
        while choice is None:
            answer = _ask("Better output [1/2/t/s/q]: ")
            if answer is None:
                choice = "quit"
                break
            choice = _KEYS.get(answer.strip().lower())
            if choice is None:
                print("Please answer 1, 2, t, s or q.")
        if choice == "quit":
            break
        comment = None if choice == "skip" else _ask("Comment (optional, Enter to skip): ")
        session.record(item, choice, comment)
        counts[choice] += 1
    judged = counts["left"] + counts["right"] + counts["tie"]
    print()
    print(f"Recorded {judged} judgement(s) and {counts['skip']} skip(s) for {session.reviewer} (session {session.session_id}).")
    if session.recorded:
        refresh_scores(ws)
    return 0


def _workspace(args: argparse.Namespace):  # noqa: ANN202 - the CLI helper's type
    from advisor.cli import workspace_of

    return workspace_of(args)


def _results(args: argparse.Namespace) -> int:
    from advisor.cli import print_json
    from studies.governance.review import summarize

    summary = summarize(_workspace(args), args.run_a, args.run_b, metric=args.metric)
    if args.format == "json":
        print_json(summary.to_dict())
        return 0
    print(f"{summary.judgements} judgement(s) by {len(summary.reviewers)} reviewer(s), {summary.ties} tie(s).")
    for run, rate in summary.win_rates.items():
        bt = summary.bradley_terry.get(run)
        bt_text = f", Bradley-Terry {bt:+.2f}" if bt is not None else ""
        print(f"  {run}: won {rate.wins}/{rate.decisive} decisive = {rate.rate:.0%} [{rate.low:.0%}, {rate.high:.0%}]{bt_text}")
    if summary.reviewer_agreement is None:
        print("  Reviewer agreement: no item judged by two reviewers yet.")
    else:
        kappa = "n/a" if summary.kappa is None else f"{summary.kappa:.2f}"
        print(f"  Reviewer agreement: {summary.reviewer_agreement:.0%} over {summary.overlap_items} item(s), Cohen's kappa {kappa}.")
    if summary.metric_agreement is None:
        print(f"  Agreement with {summary.metric or 'the metric'}: nothing to compare yet.")
    else:
        print(
            f"  Agreement with {summary.metric}: the preferred output scored higher in {summary.metric_agreement:.0%} "
            f"of {summary.metric_compared} decisive judgement(s)."
        )
    return 0


def run(args: argparse.Namespace) -> int:
    if args.limit is not None and args.limit < 1:
        from core.errors import ConfigError

        raise ConfigError(f"--limit must be >= 1, but got {args.limit}.")
    if args.results:
        return _results(args)
    sys.stdout.flush()
    return _session(args)
