"""Constructed runs for report tests: canned systems evaluated through the real evaluation contract."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from studies.data.pair import Pair
from studies.data.splits import make_split, save_split
from studies.evaluation.systems import Prediction
from tuning.generate import GenerationSettings

FAST_METRICS = ["exact_match", "token_f1", "chrf", "command_program"]


class CannedSystem:
    """A system whose answers are fixed in advance: right on the items ``correct`` selects, wrong elsewhere."""

    def __init__(self, name: str, kind: str, answers: dict[str, str], latency: float = 0.01, prompt_tokens: int = 20) -> None:
        self.name, self.kind, self.answers = name, kind, answers
        self.latency, self.prompt_tokens = latency, prompt_tokens

    def config(self) -> dict[str, Any]:
        return {"canned": True, "seed": 0}

    def trained_on(self):
        return None

    def predict(self, inputs: Sequence[str], settings: GenerationSettings) -> list[Prediction]:
        return [Prediction(raw=f"Use `{self.answers[q]}`", latency_s=self.latency, prompt_tokens=self.prompt_tokens, completion_tokens=5) for q in inputs]


def make_dataset(n_groups: int = 20, per_group: int = 10):
    from studies.data.datasets import LoadedDataset
    from studies.data.validation import ValidationReport

    pairs = [
        Pair(id=f"g{g}-{i}", input=f"question {g} {i}", output=f"tool{g} --flag{i} value", group=f"tool{g}", meta={})
        for g in range(n_groups)
        for i in range(per_group)
    ]
    report = ValidationReport(source="constructed", format="jsonl", records=len(pairs), valid=len(pairs))
    return LoadedDataset(name="constructed", pairs=pairs, report=report, content_hash="c0ffee", source="constructed")


def evaluate_canned(ws, split, name: str, kind: str, accuracy: float, latency: float = 0.01, prompt_tokens: int = 20, seed: int = 0) -> str:
    """Evaluate a canned system that answers the first ``accuracy`` share of test items correctly (rest: wrong)."""
    import random

    from studies.evaluation.contract import evaluate

    rng = random.Random(seed)
    items = list(split.test)
    right = set(rng.sample(range(len(items)), round(accuracy * len(items))))
    answers = {p.input: (p.output if i in right else "wrongtool --nope") for i, p in enumerate(items)}
    result = evaluate(CannedSystem(name, kind, answers, latency, prompt_tokens), split, ws, metrics=FAST_METRICS)
    return result.run_id


def frozen_split(ws, n_groups: int = 20, per_group: int = 10):
    split = make_split(make_dataset(n_groups, per_group), seed=0)
    save_split(ws, split)
    return split
