"""`advisor tune --data FILE [--config lora.yaml] [--name NAME]`: fine-tune, evaluate on the frozen test split, record.

The data file is split exactly as ``advisor data split FILE --seed N`` does (same seed, same
split version): the adapter trains on the train part, validates on the validation part, and is
evaluated on the test part through the shared evaluation contract (a leaderboard row).
"""

from __future__ import annotations

import argparse

from advisor.cli import path_arg, positive_int, seed_int

NAME = "tune"
HELP = "fine-tune a LoRA/DoRA/QLoRA adapter (or full weights) on a pair data set, then evaluate it on the frozen test split"
DESCRIPTION = (
    "Train on the seeded split's train part with a TrainConfig recipe (YAML; see tuning/recipes/lora.yaml), "
    "show loss and tokens/s while training, save the adapter in PEFT format under <workspace>/adapters/NAME, "
    "the run record under <workspace>/runs/NAME/record.json, then evaluate on the test part (leaderboard row). "
    "Re-running the same command after a crash resumes from the last checkpoint."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", type=path_arg, metavar="FILE", required=True, help="pair data set (JSONL/CSV/tldr pages; see `advisor data check`)")
    parser.add_argument("--config", type=path_arg, metavar="YAML", default=None, help="TrainConfig recipe (default: the built-in defaults)")
    parser.add_argument("--name", default=None, help="adapter/run name (default: <data name>-<method>)")
    parser.add_argument("--model", default=None, help="base model: a local transformers folder (default: SmolLM2-135M-Instruct)")
    parser.add_argument("--seed", type=seed_int, default=0, help="split seed (default 0; must match `advisor eval --seed`) and training seed")
    parser.add_argument("--max-steps", type=positive_int, default=None, help="override the recipe's max_steps (quick runs)")
    parser.add_argument("--allow-unreviewed", action="store_true", help="accept generated pairs nobody reviewed (recorded on the result)")
    parser.add_argument("--device", default=None, help="auto, cpu, cuda or cuda:N (overrides the recipe)")
    from advisor.commands.data import task_options

    task_options(parser)
    parser.add_argument("--no-eval", action="store_true", help="train and save only; skip the test-split evaluation")
    parser.add_argument("--eval-limit", type=positive_int, default=None, help="evaluate the first N test items only (quick looks; not for decisions)")
    parser.add_argument("--no-resume", action="store_true", help="start over even if a checkpoint of this run exists")
    parser.add_argument("--format", dest="output_format", choices=("text", "json"), default="text", help="output format (default text)")


class _LazyBar:
    """A tqdm bar opened at the first training step: no empty '0step' bar while the model still loads."""

    def __init__(self) -> None:
        self.bar = None

    def get(self, total: int, step: int = 0):
        if self.bar is None:
            from tqdm import tqdm

            # counted from the step it opens at: the first step's time is not known, so no "12,300 step/s"
            self.bar = tqdm(total=total, initial=step, unit="step", dynamic_ncols=True)
        return self.bar

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _progress_bar():
    lazy = _LazyBar()

    def update(p) -> None:
        bar = lazy.get(p.total_steps, p.step)
        if bar.total != p.total_steps:
            bar.total = p.total_steps
        bar.n = p.step
        postfix = {"loss": f"{p.loss:.3f}", "tok/s": f"{p.tokens_per_s:.0f}"}
        if p.eval_loss is not None:
            postfix["val"] = f"{p.eval_loss:.3f}"
        bar.set_postfix(postfix, refresh=False)
        bar.refresh()

    return lazy, update


def run(args: argparse.Namespace) -> int:
    from advisor.cli import print_json, workspace_of
    from core.workspace import safe_name, slugify
    from studies.data.datasets import load_pairs
    from studies.data.splits import make_split, save_split
    from tuning.config import TrainConfig
    from tuning.distributed import launched
    from tuning.train import train

    ws = workspace_of(args)
    main = launched().is_main  # under torchrun every process trains; rank 0 alone writes, prints and evaluates
    config = TrainConfig.load(args.config) if args.config else TrainConfig()
    changes = {"seed": args.seed}
    if args.model is not None:
        changes["model"] = args.model
    if args.max_steps is not None:
        changes["max_steps"] = args.max_steps
    if args.device is not None:
        changes["device"] = args.device
    if args.system_prompt is not None:
        changes["system_prompt"] = args.system_prompt  # the adapter is evaluated with the prompt it trained with
    config = config.replace(**changes)

    dataset = load_pairs(args.data)
    split = make_split(dataset, seed=args.seed, allow_unreviewed=args.allow_unreviewed)
    if any(getattr(args, k, None) for k in ("task", "labels", "system_prompt")):
        from advisor.commands.data import resolve_task_args

        split.task = resolve_task_args(args, [p.output for p in split.train])
    if main:
        save_split(ws, split)
    name = safe_name(args.name) if args.name else slugify(f"{dataset.name}-{config.method}")
    if main:
        print(f"split {split.version}: {len(split.train)} train / {len(split.validation)} validation / {len(split.test)} test; training {name!r}")

    if not main:
        train(config, split.train, split.validation, ws, name, data_version=f"{dataset.name}@{split.version}", resume=not args.no_resume)
        return 0
    bar, update = _progress_bar()
    try:
        result = train(config, split.train, split.validation, ws, name, progress=update,
                       data_version=f"{dataset.name}@{split.version}", resume=not args.no_resume)
    finally:
        bar.close()
    from studies.evaluation.systems import record_trained_on

    record_trained_on(result.adapter_dir, split)
    record = result.record
    out = {
        "name": name,
        "adapter_dir": str(result.adapter_dir),
        "split": split.version,
        "steps": record.steps,
        "tokens_seen": record.tokens_seen,
        "tokens_per_s": round(record.tokens_per_s, 1),
        "compiled": record.compiled,
        "compile_seconds": record.compile_seconds,
        "truncated_examples": record.train_data.truncated,
        "dropped_examples": record.train_data.dropped,
        "final_train_loss": record.final_train_loss,
        "best_eval_loss": record.best_eval_loss,
        "wall_seconds": round(record.wall_seconds, 1),
        "peak_memory_mb": round(record.peak_memory_mb, 1),
    }
    if not args.no_eval:
        from studies.evaluation.contract import evaluate
        from studies.evaluation.specs import make_system

        from advisor.cli import ProgressBar

        system = make_system(f"lora:{name}", ws, device=None if config.device == "auto" else config.device)
        bar = ProgressBar(f"eval lora:{name}")
        try:
            evaluated = evaluate(system, split, ws, limit=args.eval_limit, progress=bar, task=split.task)
        finally:
            bar.close()
        out["evaluation"] = {"run_id": evaluated.run_id, "task": split.task.kind if split.task else None, "primary": evaluated.primary,
                             "n": evaluated.n, "available": evaluated.available,
                             "scores": {k: round(s.mean, 4) for k, s in evaluated.scores.items()}}
    if args.output_format == "json":
        print_json(out)
        return 0
    print(f"adapter {out['adapter_dir']}: {out['steps']} steps, {out['tokens_seen']} tokens at {out['tokens_per_s']} tok/s, "
          f"best validation loss {out['best_eval_loss']}")
    if out["truncated_examples"] or out["dropped_examples"]:
        print(f"  {out['truncated_examples']} examples were cut at max_length={config.max_length}; {out['dropped_examples']} dropped (no answer left)")
    if "evaluation" in out:
        print(f"  test run {out['evaluation']['run_id']}: " + ", ".join(f"{k} {v:.3f}" for k, v in out["evaluation"]["scores"].items()))
    return 0
