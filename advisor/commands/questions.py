"""`advisor questions [--format text|json]`: list the questionnaire (ids, choices, when each applies)."""

from __future__ import annotations

import argparse

NAME = "questions"
HELP = "list the questionnaire: question ids, answer types, choices and when each applies"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--format", choices=("text", "json"), default="text", help="output format (default: text)")


def run(args: argparse.Namespace) -> int:
    from advisor.cli import print_json
    from advisor.questions import load_questionnaire

    qn = load_questionnaire()
    if args.format == "json":
        print_json(qn.to_dict())
        return 0
    section = None
    for q in qn.questions:
        if q.section != section:
            section = q.section
            print(f"\n== {qn.sections.get(section, section)} ==")
        flags = [q.type, "required" if q.required else f"optional, default {q.default!r}"]
        if q.applies_when:
            flags.append("asked when " + ", ".join(f"{k} {v}" for k, v in q.applies_when.items()))
        print(f"{q.id} ({q.title}): {q.text}  ({'; '.join(flags)})")
        if q.help:
            print(f"    {q.help}")
        for c in q.choices:
            print(f"    - {c.value}: {c.label}")
    print("\nAnswer them in a YAML file (id: value) and run `advisor decide --answers FILE`, or run `advisor decide` to be asked.")
    print("A 'not sure' answer (unsure) moves no score: the advice then shows what each real answer would give.")
    return 0
