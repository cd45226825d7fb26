"""`advisor export RUN --format merged|gguf|ollama`: export an accepted fine-tune, checked on the frozen test split."""

from __future__ import annotations

import argparse
import sys

NAME = "export"
HELP = "export an accepted fine-tune (merged checkpoint, GGUF, Ollama) and re-check it on the frozen test split"
DESCRIPTION = (
    "Merge the accepted run's adapter into its base and write a merged transformers checkpoint, a GGUF (llama.cpp's "
    "converter) or a GGUF with an Ollama Modelfile into <workspace>/registry/<entry>/exports/. The export is loaded "
    "back by an independent loader and answers the first --sample test items with the run's generation settings; its "
    "greedy outputs are compared item by item with the stored predictions. Exit 0: the check passed; 1: the export "
    "was kept but its check failed (the record lists the differing items); 2: refused (not accepted, corrupt adapter, "
    "bad option)."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from advisor.cli import positive_int

    parser.add_argument("run_id", metavar="RUN", help="an accepted run (see `advisor leaderboard --status accepted`)")
    parser.add_argument("--format", dest="export_format", choices=("merged", "gguf", "ollama"), default=None,
                        help="what to write (required unless --list)")
    parser.add_argument("--quant", choices=("f16", "q8_0", "bf16", "f32"), default=None,
                        help="GGUF type for gguf/ollama (default f16; q8_0 is half the size and must match 90%% of items)")
    parser.add_argument("--sample", type=positive_int, default=48, help="test items re-evaluated (default 48: the first 48)")
    parser.add_argument("--device", default="cpu", help="device of the check (default cpu, as the evaluation)")
    parser.add_argument("--list", action="store_true", help="list the run's exports and their checks, then exit")
    parser.add_argument("--json", action="store_true", help="print the export record(s) as JSON")


def run(args: argparse.Namespace) -> int:
    from advisor.cli import print_json, workspace_of
    from core.errors import ConfigError
    from studies.governance.export import export_run, list_exports

    ws = workspace_of(args)
    if args.list:
        records = list_exports(ws, args.run_id)
        if args.json:
            print_json([r.to_dict() for r in records])
        for r in [] if args.json else records:
            print(f"{r.path}: {r.check.verdict}; check {'passed' if r.check.passed else 'FAILED'} ({r.created_at})")
        if not records and not args.json:
            print(f"run {args.run_id} has no exports yet")
        return 0
    if args.export_format is None:
        raise ConfigError("Say what to export: --format merged, gguf or ollama (or --list).")
    record = export_run(ws, args.run_id, args.export_format, quant=args.quant, sample=args.sample, device=args.device,
                        say=lambda text: print(text, file=sys.stderr, flush=True))
    if args.json:
        print_json(record.to_dict())
    else:
        c = record.check
        print(f"exported {record.format}{'-' + record.quant if record.quant else ''} of {record.run_id} to {record.path}")
        print(f"  check ({c.loader}): {c.n_matching}/{c.n_items} items identical; {c.verdict}")
        if c.metric and c.export_mean is not None:
            span = f" in [{c.interval[0]:.3f}, {c.interval[1]:.3f}]" if c.interval else ""
            print(f"  {c.metric}: {c.export_mean:.3f} (adapter {c.adapter_mean:.3f}){span}: "
                  f"{'inside' if c.metric_inside else 'OUTSIDE'} the interval")
        for d in c.differing[:10]:
            print(f"  differs {d.item_id}: expected {d.expected!r}, got {d.got!r}")
        print(f"  check {'passed' if c.passed else 'FAILED (the export is kept with its record)'}")
    return 0 if record.check.passed else 1
