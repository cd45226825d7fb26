"""`advisor reject RUN --by NAME --reason TEXT`: reject a run (who and why recorded)."""

from __future__ import annotations

import argparse

NAME = "reject"
HELP = "reject a leaderboard run (reason required); withdraws its registry entry if it had one"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_id", metavar="RUN", help="run id (see `advisor leaderboard`)")
    parser.add_argument("--by", required=True, help="who decides")
    parser.add_argument("--reason", required=True, help="why (recorded with the decision)")
    parser.add_argument("--format", dest="output_format", choices=("text", "json"), default="text", help="output format")


def run(args: argparse.Namespace) -> int:
    from advisor.cli import print_json, workspace_of
    from studies.governance.registry import reject

    row = reject(workspace_of(args), args.run_id, args.by, args.reason)
    if args.output_format == "json":
        print_json(row)
    else:
        print(f"rejected {row['run_id']} by {row['status_by']}: {row['status_reason']}")
    return 0
