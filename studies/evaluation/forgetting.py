"""Forgetting: did fine-tuning cost the model general ability?

Every fine-tuned system is scored on a small general held-out set that ships with the product
(``data/general/general_heldout.jsonl``: questions about Python's standard library answered by its
module docstrings, PSF-2.0, attributed in its README) beside its base model, with the same generation
settings and a paired interval on the difference. A mean drop beyond ``tolerance`` (on a 0-1 metric)
is forgetting; the gate's ``forgetting`` check refuses promotion with the numbers as its reason.

The result, with every per-item value, is stored as ``<ws>/runs/<run_id>/forgetting.json`` beside the
run's predictions; the report and the gate read it from there.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.atomic import atomic_write_json
from core.errors import EvaluationError
from core.workspace import Workspace

GENERAL_SET = Path(__file__).resolve().parents[2] / "data" / "general" / "general_heldout.jsonl"
FORGETTING_FILE = "forgetting.json"
METRIC = "chrf"
TOLERANCE = 0.05
"""Largest acceptable mean drop of the fine-tuned system below its base on the general set (0-1 metric)."""


def load_general_set(path: str | Path | None = None) -> list[Any]:
    """The general held-out pairs (the shipped set unless ``path`` names another pairs file)."""
    from studies.data.datasets import load_pairs

    return list(load_pairs(path or GENERAL_SET).pairs)


@dataclass(frozen=True)
class Forgetting:
    """A fine-tuned run against its base model on the general set."""

    run_id: str
    system: str
    base: str
    metric: str
    n: int
    base_score: float
    tuned_score: float
    drop: float
    """base - tuned (positive: the fine-tune lost ground)."""
    drop_low: float
    drop_high: float
    tolerance: float
    source: str

    @property
    def passed(self) -> bool:
        return self.drop <= self.tolerance

    @property
    def sentence(self) -> str:
        verdict = "within" if self.passed else "beyond"
        return (f"{self.system} scores {self.tuned_score:.3f} {self.metric} on the general held-out set ({self.n} items) against "
                f"{self.base_score:.3f} for its base model: a drop of {self.drop:+.3f} [{self.drop_low:+.3f}, {self.drop_high:+.3f}], "
                f"{verdict} the tolerance of {self.tolerance:.3f}.")

    def to_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "passed": self.passed, "sentence": self.sentence}


def compare_general(run_id: str, system: str, base: str, tuned_values: Sequence[float], base_values: Sequence[float],
                    metric: str = METRIC, tolerance: float = TOLERANCE, source: str = "") -> Forgetting:
    """The paired drop (base - tuned) with its interval, from per-item values on the same general items."""
    from studies.evaluation.stats import paired_difference

    if len(tuned_values) != len(base_values) or not tuned_values:
        raise EvaluationError(f"Forgetting needs the same non-empty general items for both systems, got {len(tuned_values)} and {len(base_values)}.")
    d = paired_difference(list(base_values), list(tuned_values), metric=metric)
    n = len(tuned_values)
    return Forgetting(run_id, system, base, metric, n, sum(base_values) / n, sum(tuned_values) / n, d.difference.mean,
                      d.difference.low, d.difference.high, tolerance, source)


def _score(system: Any, pairs: Sequence[Any], settings: Any, metric: str) -> tuple[list[float], list[dict[str, Any]]]:
    from studies.evaluation import metrics as registry
    from studies.evaluation.extract import extract

    out = system.predict([p.input for p in pairs], settings)
    answers = [extract(p.raw).answer for p in out]
    values, skipped = registry.score_all([metric], answers, [p.output for p in pairs])
    if metric not in values:
        raise EvaluationError(f"Metric {metric!r} could not score the general set: {skipped.get(metric, 'unknown metric')}.")
    rows = [{"item_id": p.id, "answer": a, "value": v} for p, a, v in zip(pairs, answers, values[metric])]
    return values[metric], rows


def measure_forgetting(workspace: Workspace, run_id: str, tuned: Any, base: Any, settings: Any = None, *,
                       metric: str = METRIC, tolerance: float = TOLERANCE, general: str | Path | None = None,
                       limit: int | None = None) -> Forgetting:
    """Score ``tuned`` (the system of leaderboard run ``run_id``) and ``base`` on the general set; store and return the result."""
    from tuning.generate import GenerationSettings

    pairs = load_general_set(general)[:limit] if limit else load_general_set(general)
    settings = settings or GenerationSettings()
    tuned_values, tuned_rows = _score(tuned, pairs, settings, metric)
    base_values, base_rows = _score(base, pairs, settings, metric)
    source = str(general or GENERAL_SET.relative_to(GENERAL_SET.parents[2]))
    result = compare_general(run_id, tuned.name, base.name, tuned_values, base_values, metric, tolerance, source)
    atomic_write_json(workspace.path("runs", run_id, FORGETTING_FILE),
                      {**result.to_dict(), "items": {"tuned": tuned_rows, "base": base_rows}})
    return result


def load_forgetting(workspace: Workspace, run_id: str) -> Forgetting | None:
    """The stored result of ``run_id`` (None when it was never measured)."""
    path = workspace.path("runs", run_id, FORGETTING_FILE)
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        fields = {k: data[k] for k in Forgetting.__dataclass_fields__}
    except (OSError, ValueError, KeyError) as exc:
        raise EvaluationError(f"{path} is unreadable ({exc}); measure again with `advisor report --forgetting`.") from exc
    return Forgetting(**fields)
