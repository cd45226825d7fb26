"""`advisor accept RUN --by NAME --reason TEXT`: accept a run (promotion gate first); fine-tunes go to the registry."""

from __future__ import annotations

import argparse

from advisor.cli import path_arg

NAME = "accept"
HELP = "accept a leaderboard run (reason required); accepted fine-tunes are copied into the registry"


def _pair(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key.strip() or not value.strip():
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    return key.strip(), value.strip()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_id", metavar="RUN", help="run id (see `advisor leaderboard`)")
    parser.add_argument("--by", required=True, help="who decides")
    parser.add_argument("--reason", required=True, help="why (recorded with the decision and in the model card)")
    parser.add_argument("--name", default=None, help="registry entry name (default: the adapter's name)")
    parser.add_argument("--waive", type=_pair, action="append", default=[], metavar="CHECK=REASON",
                        help="waive a failed responsible-AI check of the promotion gate, with the reason")
    parser.add_argument("--threshold", type=_pair, action="append", default=[], metavar="METRIC=VALUE",
                        help="acceptance threshold for the promotion gate (e.g. chrf=0.45)")
    parser.add_argument("--plan", type=path_arg, default=None, help="experiment plan (YAML) whose acceptance thresholds, checks and "
                        "human-review requirement the gate applies")
    parser.add_argument("--format", dest="output_format", choices=("text", "json"), default="text", help="output format")


def run(args: argparse.Namespace) -> int:
    from advisor.cli import print_json, workspace_of
    from core.errors import ConfigError
    from studies.governance.registry import accept

    thresholds = {}
    for key, value in args.threshold:
        try:
            thresholds[key] = float(value)
        except ValueError:
            raise ConfigError(f"--threshold {key}={value}: the value must be a number.") from None
    plan = None
    if args.plan:
        from advisor.plan import load_plan

        plan = load_plan(args.plan)
    row = accept(workspace_of(args), args.run_id, args.by, args.reason, name=args.name, plan=plan,
                 waivers=dict(args.waive) or None, thresholds=thresholds or None)
    if args.output_format == "json":
        print_json(row)
    else:
        where = f"; registry entry {row['registry_path']}" if row.get("registry_path") else ""
        print(f"accepted {row['run_id']} by {row['status_by']}: {row['status_reason']}{where}")
    return 0
