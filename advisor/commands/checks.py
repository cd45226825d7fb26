"""`advisor checks RUN [--data FILE]`: responsible-AI and safety checks on a run and its training data.

Exit codes: 0 every check passed (or was skipped), 3 at least one check failed, 2 bad input
(unknown run, unreadable file, bad threshold). ``--format json`` prints every result with its
findings. ``advisor checks --list`` shows each check, its default threshold and what it reads.
"""

from __future__ import annotations

import argparse

NAME = "checks"
HELP = "secrets, personal data, dangerous commands, refusals and group balance in a run's outputs / training data"
EXIT_FAILED = 3


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run", metavar="RUN", nargs="?", help="run id whose predictions are checked")
    parser.add_argument("--data", metavar="FILE", help="training data file to check too (default: the run's train split, if a fine-tune)")
    parser.add_argument("--format", choices=("text", "json"), default="text")
    parser.add_argument("--threshold", action="append", default=[], metavar="NAME=VALUE", help="override a check's threshold")
    parser.add_argument("--only", action="append", default=None, metavar="NAME", help="run only this check (repeatable)")
    parser.add_argument("--skip", action="append", default=[], metavar="NAME", help="do not run this check (repeatable)")
    parser.add_argument("--allow", action="append", default=[], metavar="TEXT", help="never flag findings containing TEXT")
    parser.add_argument("--metric", default=None, help="metric for group_balance (default: the primary metric)")
    parser.add_argument("--group-min-items", type=int, default=5, help="ignore groups smaller than this in group_balance")
    parser.add_argument("--findings", type=int, default=5, help="findings shown per failed check in text output")
    parser.add_argument("--list", action="store_true", help="list the checks and exit")


def _thresholds(pairs: list[str]) -> dict[str, float]:
    from core.errors import ConfigError

    out = {}
    for text in pairs:
        name, sep, value = text.partition("=")
        try:
            if not sep:
                raise ValueError
            out[name.strip()] = float(value)
        except ValueError:
            raise ConfigError(f"--threshold expects NAME=NUMBER (e.g. refusals_and_empty=0.1), got {text!r}.") from None
    return out


def run(args: argparse.Namespace) -> int:
    from advisor.cli import print_json, workspace_of
    from core.errors import ConfigError
    from studies.governance.checks import CHECKS, ChecksConfig, load_training_data, run_checks

    if args.list:
        for spec in CHECKS.values():
            print(f"{spec.name:26} threshold {spec.threshold:<5g} reads {spec.reads:8} {spec.doc}")
        return 0
    if not args.run and not args.data:
        raise ConfigError("Name a run to check (advisor checks RUN) and/or a training data file (--data FILE).")
    config = ChecksConfig(
        thresholds=_thresholds(args.threshold),
        only=args.only,
        skip=args.skip,
        allow=args.allow,
        group_min_items=args.group_min_items,
        primary_metric=args.metric,
    ).validate()
    ws = workspace_of(args)
    items = None
    data = None
    data_note = "no training data"
    if args.run:
        from studies.evaluation.run_items import load_run_items
        from studies.governance.run_view import read_run, training_data_of

        items = load_run_items(ws, args.run)
        run = read_run(ws, args.run, items)
    if args.data:
        data = load_training_data(args.data)
        data_note = args.data
    elif args.run:
        data, data_note = training_data_of(ws, run)
    results = run_checks(items, data, config)
    failed = [r for r in results if not r.passed]
    if args.format == "json":
        print_json({"run": args.run, "training_data": data_note, "passed": not failed, "results": [r.to_dict() for r in results]})
    else:
        print(f"Checks for {args.run or '(no run)'}; training data: {data_note}")
        for r in results:
            mark = "skip" if r.skipped else ("PASS" if r.passed else "FAIL")
            extra = f"  ({r.skipped})" if r.skipped else ""
            print(f"  [{mark}] {r.name:26} value {r.value:.4g} (threshold {r.threshold:g}){extra}")
            if not r.passed:
                for f in r.findings[: args.findings]:
                    print(f"         {f.where} {f.item_id}: {f.rule}: {f.snippet}")
                if len(r.findings) > args.findings:
                    print(f"         ... and {len(r.findings) - args.findings} more (--format json lists all)")
        print("All checks passed." if not failed else f"{len(failed)} check(s) failed: {', '.join(r.name for r in failed)}.")
    return EXIT_FAILED if failed else 0
