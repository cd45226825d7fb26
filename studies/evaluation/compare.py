"""Comparison of leaderboard runs on one frozen test split: the evidence behind the verdict.

For any set of runs evaluated on the same split version and part (typically base model, best
RAG, best LoRA, RAG + LoRA) :func:`compare_runs` gives, per metric, each run's score with its
interval and the paired difference to the best run with its interval and p-value; the cost to
build (training tokens, hours, money) and to serve (latency, prompt tokens per query); wins and
losses per group; and items where each system wins, side by side. Runs over different items are
refused: a paired comparison needs the same items.

A model judge's scores (metric ``judge``, :mod:`studies.evaluation.judge`) are compared like any metric
but decide the verdict only when its agreement with blind human review passes
:func:`studies.governance.judge_agreement.judge_gate`; otherwise the kind's primary metric decides and
the comparison says why (``judge_note``).
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from core.errors import EvaluationError
from core.workspace import Workspace
from studies.evaluation import metrics as metric_registry
from studies.evaluation.contract import read_predictions
from studies.evaluation.judge import JUDGE_METRIC
from studies.evaluation.stats import PairedComparison, Score, interval, paired_difference
from studies.results.leaderboard import Leaderboard

if TYPE_CHECKING:  # pragma: no cover
    from studies.governance.judge_agreement import JudgeGate

ALPHA = 0.05
"""Significance level of the paired test that must agree with the interval before a win is called."""
BUILD_ORDER = {"base": 0, "rag": 1, "rag-examples": 1, "lora": 2, "dora": 2, "qlora": 2, "full": 3, "rag+lora": 4, "rag-examples+lora": 4}
"""How much each kind of system costs to build and keep, simplest first (ties go to the simpler)."""


def beaten(comp: PairedComparison) -> bool:
    """True when a run (a - best) is measurably worse: interval below 0 and paired test significant."""
    return comp.difference.high < 0.0 and comp.p_value < ALPHA


@dataclass
class RunSummary:
    """One compared run: its scores and what it costs to build and to serve."""

    run_id: str
    kind: str
    system: str
    scores: dict[str, Score]
    train_tokens: int
    cpu_hours: float
    gpu_hours: float
    money_usd: float
    latency_s: float
    prompt_tokens: float
    """Mean prompt tokens per query (RAG prompts carry the retrieved context)."""
    completion_tokens: float
    config: dict[str, Any] = field(default_factory=dict)
    base_model: str | None = None
    method: str | None = None
    status: str = "candidate"
    status_by: str | None = None
    status_reason: str | None = None
    status_at: Any = None
    seed: Any = None


@dataclass
class GroupResult:
    """One group (tool, category): each run's mean on the primary metric, and who wins it."""

    group: str
    n: int
    means: dict[str, float]
    winner: str | None
    """The run with the highest mean, None when the top is shared."""


@dataclass
class Example:
    """One test item where ``winner`` scored higher than every other run, with all outputs."""

    item_id: str
    input: str
    reference: str
    winner: str
    answers: dict[str, str]
    values: dict[str, float]


@dataclass
class RunComparison:
    """Everything a report says about a set of runs on the same items."""

    runs: list[RunSummary]
    split_version: str
    part: str
    n_items: int
    metrics: list[str]
    primary: str
    best: dict[str, str]
    """metric -> run id with the highest mean."""
    differences: dict[str, dict[str, PairedComparison]]
    """metric -> run id -> paired comparison of that run against the best (run - best)."""
    groups: list[GroupResult]
    examples: dict[str, list[Example]]
    dataset_name: str | None = None
    dataset_version: str | None = None
    task: str | None = None
    """The task kind the runs were evaluated as (None for runs from before kinds were recorded)."""
    primary_source: str = "given"
    """Where the primary metric came from: 'given' (plan or --metric), 'task' (the kind's primary metric) or 'judge'
    (a text task whose model judge passed its agreement gate: ``studies.governance.judge_agreement``)."""
    available: int | None = None
    """Items in the split part; above ``n_items`` when the evaluation was capped (``limit``)."""
    judge: JudgeGate | None = None
    """Whether the model judge may decide (its agreement with human review), when a judge graded the runs or was asked for."""
    judge_requested: bool = False
    """The caller named the judge as the primary metric (it decides only when its gate says it counts)."""

    @property
    def judge_note(self) -> str | None:
        """One sentence on whether the judge's scores decide the verdict, and why; None without a judge."""
        if self.judge is None:
            return None
        if self.primary == JUDGE_METRIC:
            return f"The model judge decides the verdict: {self.judge.reason}."
        if self.judge.counts:
            named = "was named as the primary metric" if self.primary_source == "given" else "is the task kind's primary metric"
            return (f"The model judge is shown for information ({self.primary} {named}; name the judge as the primary metric "
                    f"to let it decide): {self.judge.reason}.")
        fallback = f"; the verdict follows {self.primary} instead" if self.judge_requested else ""
        return f"The model judge is shown for information only: {self.judge.reason}{fallback}."

    @property
    def capped(self) -> bool:
        return self.available is not None and self.available > self.n_items

    def run(self, run_id: str) -> RunSummary:
        return next(r for r in self.runs if r.run_id == run_id)

    def tied_with_best(self, metric: str | None = None) -> list[str]:
        """Runs the best does not beat on ``metric`` (the best included).

        The best beats a run only when the paired interval of the difference excludes 0 *and* the
        paired test agrees (p < ``ALPHA``): with few items a percentile interval alone can be too
        narrow, and a report that says "beats" next to p = 0.25 helps nobody.
        """
        metric = metric or self.primary
        return [self.best[metric]] + [rid for rid in self.differences[metric] if not beaten(self.differences[metric][rid])]

    def to_dict(self) -> dict[str, Any]:
        return json.loads(
            json.dumps(
                {
                    "split_version": self.split_version,
                    "part": self.part,
                    "n_items": self.n_items,
                    "metrics": self.metrics,
                    "primary": self.primary,
                    "primary_source": self.primary_source,
                    "task": self.task,
                    "available": self.available,
                    "judge": self.judge.to_dict() if self.judge is not None else None,
                    "judge_requested": self.judge_requested,
                    "judge_note": self.judge_note,
                    "best": self.best,
                    "runs": [r.__dict__ | {"scores": {k: v.to_dict() for k, v in r.scores.items()}} for r in self.runs],
                    "differences": {
                        m: {rid: c.to_dict() for rid, c in d.items()} for m, d in self.differences.items()
                    },
                    "groups": [g.__dict__ for g in self.groups],
                    "examples": {k: [e.__dict__ for e in v] for k, v in self.examples.items()},
                },
                default=str,
            )
        )


def _row_scores(row: dict[str, Any], per_item: dict[str, list[float]]) -> dict[str, Score]:
    """The leaderboard's stored interval of each metric; recomputed from the items where the row has none."""
    stored = row.get("metrics") or {}
    scores: dict[str, Score] = {}
    for name, values in per_item.items():
        s = stored.get(name) or {}
        if all(s.get(key) is not None for key in ("mean", "low", "high")):
            scores[name] = Score(float(s["mean"]), float(s["low"]), float(s["high"]), int(s.get("n") or len(values)))
        else:
            scores[name] = interval(values)
    return scores


def compare_runs(
    workspace: Workspace,
    run_ids: list[str],
    metrics: list[str] | None = None,
    primary: str | None = None,
    max_examples: int = 3,
    board: Leaderboard | None = None,
) -> RunComparison:
    """Compare runs evaluated on the same frozen split; see the module docstring."""
    run_ids = list(dict.fromkeys(run_ids))
    if len(run_ids) < 2:
        raise EvaluationError("A comparison needs at least two runs; `advisor leaderboard` lists them.")
    board = board or Leaderboard(workspace)
    rows = {rid: board.get(rid) for rid in run_ids}
    splits = {(rows[r].get("split_version"), rows[r].get("split_part") or "test") for r in run_ids}
    if len(splits) != 1:
        listing = ", ".join(f"{r}: {rows[r].get('split_version')}/{rows[r].get('split_part')}" for r in run_ids)
        raise EvaluationError(
            f"The runs were evaluated on different splits ({listing}). Compare runs on one frozen split: "
            "re-evaluate them with `advisor eval ... --data FILE` on the same data and seed."
        )
    split_version, part = next(iter(splits))
    preds = {rid: {p["item_id"]: p for p in read_predictions(workspace, rid)} for rid in run_ids}
    items = sorted(preds[run_ids[0]])
    for rid in run_ids[1:]:
        if sorted(preds[rid]) != items:
            raise EvaluationError(f"Runs {run_ids[0]} and {rid} cover different items; a paired comparison needs the same items.")
    if not items:
        raise EvaluationError("The runs have no evaluated items to compare.")
    shared = set.intersection(*(set(preds[rid][i].get("metrics") or {}) for rid in run_ids for i in items))
    if metrics:
        missing = [m for m in metrics if m not in shared]
        if missing:
            raise EvaluationError(f"Metric(s) {missing} are not stored for every run; shared metrics: {sorted(shared)}.")
        chosen = list(metrics)
    else:
        chosen = [m for m in metric_registry.DEFAULT_METRICS if m in shared] + sorted(shared - set(metric_registry.DEFAULT_METRICS))
    if not chosen:
        raise EvaluationError("The runs share no metric; evaluate them through the same contract (`advisor eval`).")
    task, fmt = _task_of(rows, run_ids)
    if task is None:
        task, fmt = _task_of_split(workspace, str(split_version))
    source = "given"
    judge_requested = primary == JUDGE_METRIC
    judge = None
    if judge_requested or any(JUDGE_METRIC in (p.get("metrics") or {}) for rid in run_ids for p in preds[rid].values()):
        from studies.governance.judge_agreement import judge_gate

        judge = judge_gate(workspace, run_ids)
    if judge_requested and not (judge is not None and judge.counts):
        primary = None  # the judge may not decide: the kind's primary metric does
    if primary is None:
        from studies.evaluation.tasks import primary_for_kind

        primary = primary_for_kind(task, fmt)
        source = "task"
        if task == "text" and not judge_requested and judge is not None and judge.counts and JUDGE_METRIC in shared:
            primary, source = JUDGE_METRIC, "judge"
        if primary is None or primary not in shared:
            raise EvaluationError(
                "Name the primary metric the verdict follows (`--metric`, or `primary_metric` in the plan): "
                + (f"the judge may not decide ({judge.reason if judge else 'it is not stored'}), and " if judge_requested else "")
                + (f"the runs' task kind {task!r} has primary metric {primary!r}, which they do not share"
                   if task else "the runs do not record one shared task kind")
                + f"; shared metrics: {', '.join(sorted(shared))}."
            )
    if primary not in chosen and (source != "given" or primary == JUDGE_METRIC):
        chosen = [primary] + chosen
    if primary not in chosen:
        raise EvaluationError(f"Primary metric {primary!r} is not among the compared metrics {chosen}.")
    values = {rid: {m: [float(preds[rid][i]["metrics"][m]) for i in items] for m in chosen} for rid in run_ids}

    runs = [_summary(rows[rid], values[rid], [preds[rid][i] for i in items]) for rid in run_ids]
    best: dict[str, str] = {}
    differences: dict[str, dict[str, PairedComparison]] = {}
    for m in chosen:
        best[m] = max(run_ids, key=lambda r: (sum(values[r][m]), -BUILD_ORDER.get(rows[r]["kind"], 9)))
        differences[m] = {
            rid: paired_difference(values[rid][m], values[best[m]][m], metric=m, binary=metric_registry.is_binary(m))
            for rid in run_ids
            if rid != best[m]
        }
    groups = _groups(run_ids, items, preds, primary)
    examples = _examples(run_ids, items, preds, primary, max_examples)
    first = rows[run_ids[0]]
    return RunComparison(
        runs=runs,
        split_version=str(split_version),
        part=str(part),
        n_items=len(items),
        metrics=chosen,
        primary=primary,
        best=best,
        differences=differences,
        groups=groups,
        examples=examples,
        dataset_name=first.get("dataset_name"),
        dataset_version=first.get("dataset_version"),
        task=task,
        primary_source=source,
        available=_available(rows, run_ids),
        judge=judge,
        judge_requested=judge_requested,
    )


def _task_of(rows: dict[str, dict[str, Any]], run_ids: list[str]) -> tuple[str | None, str | None]:
    """The task kind (and structured format) the runs share, else (None, None)."""
    kinds = {rows[r].get("task") for r in run_ids}
    if len(kinds) != 1 or None in kinds:
        return None, None
    config = rows[run_ids[0]].get("config") or {}
    task = config.get("task") if isinstance(config, dict) else None
    return next(iter(kinds)), (task or {}).get("format") if isinstance(task, dict) else None


def _task_of_split(workspace: Workspace, version: str) -> tuple[str | None, str | None]:
    """Runs from before task kinds were recorded: the task of their split, when it is in this workspace."""
    from core.errors import AdvisorError
    from studies.data.splits import load_split

    try:
        task = load_split(workspace, version).task
    except (AdvisorError, OSError, ValueError):
        return None, None
    return (task.kind, task.format) if task is not None else (None, None)


def _available(rows: dict[str, dict[str, Any]], run_ids: list[str]) -> int | None:
    """Items in the evaluated split part, as the runs recorded it (None when they did not)."""
    found = []
    for r in run_ids:
        config = rows[r].get("config") or {}
        if isinstance(config, dict) and config.get("items_available") is not None:
            found.append(int(config["items_available"]))
    return max(found) if found else None


def _summary(row: dict[str, Any], per_item: dict[str, list[float]], items: list[dict[str, Any]]) -> RunSummary:
    n = max(len(items), 1)
    config = row.get("config") or {}
    return RunSummary(
        run_id=row["run_id"],
        kind=row["kind"],
        system=row.get("system") or row["kind"],
        scores=_row_scores(row, per_item),
        train_tokens=int(row.get("train_tokens") or 0),
        cpu_hours=float(row.get("cpu_hours") or 0.0),
        gpu_hours=float(row.get("gpu_hours") or 0.0),
        money_usd=float(row.get("money_usd") or 0.0),
        latency_s=float(row.get("latency_s") or 0.0),
        prompt_tokens=sum(int(i.get("prompt_tokens") or 0) for i in items) / n,
        completion_tokens=sum(int(i.get("completion_tokens") or 0) for i in items) / n,
        config=config,
        base_model=row.get("base_model"),
        method=row.get("method"),
        status=row.get("status") or "candidate",
        status_by=row.get("status_by"),
        status_reason=row.get("status_reason"),
        status_at=row.get("status_at"),
        seed=config.get("seed"),
    )


def _groups(run_ids: list[str], items: list[str], preds: dict, metric: str) -> list[GroupResult]:
    by_group: dict[str, list[str]] = defaultdict(list)
    for item in items:
        by_group[str(preds[run_ids[0]][item].get("group") or "(no group)")].append(item)
    out = []
    for group, members in sorted(by_group.items()):
        means = {rid: sum(float(preds[rid][i]["metrics"][metric]) for i in members) / len(members) for rid in run_ids}
        top = max(means.values())
        leaders = [rid for rid, v in means.items() if v == top]
        out.append(GroupResult(group=group, n=len(members), means=means, winner=leaders[0] if len(leaders) == 1 else None))
    return out


def _examples(run_ids: list[str], items: list[str], preds: dict, metric: str, limit: int) -> dict[str, list[Example]]:
    out: dict[str, list[Example]] = {rid: [] for rid in run_ids}
    for item in items:
        vals = {rid: float(preds[rid][item]["metrics"][metric]) for rid in run_ids}
        top = max(vals.values())
        leaders = [rid for rid, v in vals.items() if v == top]
        if len(leaders) != 1 or len(out[leaders[0]]) >= limit:
            continue
        first = preds[run_ids[0]][item]
        out[leaders[0]].append(
            Example(
                item_id=item,
                input=str(first.get("input", "")),
                reference=str(first.get("reference", "")),
                winner=leaders[0],
                answers={rid: str(preds[rid][item].get("answer", "")) for rid in run_ids},
                values=vals,
            )
        )
    return out
