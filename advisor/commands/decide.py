"""`advisor decide [--answers FILE] [--format text|json|md]`: the explained recommendation.

Without ``--answers`` the questionnaire is asked in the terminal (numbered choices, one line per
answer); ``--save-answers FILE`` keeps what was typed. Bad answers files (unknown ids, missing
required answers, bad values) are listed in one error, exit code 2.
"""

from __future__ import annotations

import argparse

from advisor.cli import path_arg

NAME = "decide"
HELP = "recommend prompting, RAG, fine-tuning (LoRA/QLoRA/DoRA/full), both, or not yet; with reasons"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--answers", type=path_arg, metavar="FILE", help="answers file (YAML or JSON, question id: answer); omit to be asked interactively")
    parser.add_argument("--format", choices=("text", "json", "md"), default="text", help="output format (default: text)")
    parser.add_argument("--save-answers", type=path_arg, metavar="FILE", help="interactive mode: write the answers to this YAML file")
    parser.add_argument("--out", type=path_arg, metavar="FILE", help="also write the output to this file")


def run(args: argparse.Namespace) -> int:
    import json
    import sys
    from pathlib import Path

    from advisor.explain import recommendation_json, render_markdown, render_text
    from advisor.questions import load_answers, validate_answers
    from advisor.recommend import recommend
    from core.atomic import atomic_write_text

    notes: list[str] = []
    if args.answers:
        answers = load_answers(args.answers, notes=notes)
        for note in notes:
            print(f"note: {note}", file=sys.stderr)
    else:
        from advisor.interview import interview

        raw = interview(sys.stdin, sys.stdout if args.format == "text" else sys.stderr)
        answers = validate_answers(raw)
        if args.save_answers:
            from advisor.questions import answers_to_yaml

            atomic_write_text(Path(args.save_answers), answers_to_yaml(answers))
            print(f"answers saved to {args.save_answers}", file=sys.stderr)
    rec = recommend(answers, validate=False, notes=notes)
    if args.format == "json":
        text = json.dumps(recommendation_json(rec), indent=2, default=str, ensure_ascii=False) + "\n"
    elif args.format == "md":
        text = render_markdown(rec)
    else:
        text = render_text(rec)
    sys.stdout.write(text)
    if args.out:
        atomic_write_text(Path(args.out), text)
    return 0
