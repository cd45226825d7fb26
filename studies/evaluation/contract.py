"""The one evaluation contract: every system, the same frozen split, settings, extraction and metrics.

:func:`evaluate` refuses a system on data it trained on (its split version must match and the
evaluated groups must not overlap its training groups), applies leakage control to systems that
retrieve (:func:`leakage_control`), prompts and decodes for the task kind (label scoring for a
classification), runs the system on every item of the split part, extracts answers by the kind's
rule and scores the kind's metrics per item (:mod:`studies.evaluation.tasks`), and puts a
paired-bootstrap interval on each mean. It stores, under
``<ws>/runs/<run_id>/`` (atomically):

- ``predictions.jsonl``: one line per item: item_id, input, group, reference, raw, answer,
  extraction rule, per-item metric values, latency and tokens (and RAG hits);
- ``run.json``: the leaderboard row (:class:`~studies.results.records.RunRecord`).

With ``record=True`` the row also goes to the leaderboard (short-lived, retried connection);
a row that could not be written is never lost: ``run.json`` stays, and
:func:`~studies.results.leaderboard.ingest_run_dirs` adds it later. Sweep workers pass ``record=False``
and ship ``EvalResult.to_dict()`` through Optuna instead.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from core.atomic import atomic_write_json, atomic_write_text
from core.errors import EvaluationError
from core.workspace import Workspace
from studies.data.kinds import TaskSpec, task_of_split
from studies.evaluation import metrics as metric_registry
from studies.evaluation import prices, provenance
from studies.evaluation.stats import PairedComparison, Score, interval, paired_difference
from studies.evaluation.tasks import answer_token_budget, extract_for, metrics_for, primary_metric, task_report
from studies.evaluation.systems import System, system_device
from studies.results.leaderboard import Leaderboard
from studies.results.records import RunRecord, new_run_id, trial_run_id
from tuning.generate import GenerationSettings

log = logging.getLogger(__name__)

PREDICTIONS = "predictions.jsonl"
RUN_FILE = "run.json"
CHUNK = 64
"""Items per predict() call (progress is reported between chunks)."""
DECODINGS = ("auto", "labels", "generate")


@dataclass
class EvalResult:
    """What one evaluation produced (the leaderboard row is ``record``)."""

    run_id: str
    system: str
    kind: str
    split_version: str
    part: str
    n: int
    scores: dict[str, Score]
    """Mean of each metric over items, with its 95% bootstrap interval."""
    per_item: dict[str, list[float]]
    """Per-item values of each metric, in item order (what paired comparisons use)."""
    item_ids: list[str]
    skipped_metrics: dict[str, str]
    latency_s: float
    latency_p95_s: float
    prompt_tokens: int
    completion_tokens: int
    wall_s: float
    predictions_path: str
    record: RunRecord
    recorded: bool = False
    """True when this call added the row to the leaderboard."""
    settings: dict[str, Any] = field(default_factory=dict)
    prompts_cut: int = 0
    """Items whose prompt exceeded ``max_prompt_tokens`` and lost its start (raise the limit or shorten the context)."""
    task: TaskSpec | None = None
    """The task the run was evaluated as (kind, labels): it chose the metrics, extraction and prompts."""
    primary: str | None = None
    """The task kind's primary metric."""
    report: dict[str, Any] = field(default_factory=dict)
    """Set-level results of the kind (classification: macro-F1, per-class table, confusion matrix, baselines)."""
    available: int = 0
    """Items in the split part; more than ``n`` when ``limit`` capped the evaluation."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-able summary (what sweeps store in Optuna; includes the leaderboard row)."""
        return {
            "run_id": self.run_id,
            "system": self.system,
            "kind": self.kind,
            "split_version": self.split_version,
            "part": self.part,
            "n": self.n,
            "scores": {k: v.to_dict() for k, v in self.scores.items()},
            "skipped_metrics": dict(self.skipped_metrics),
            "latency_s": self.latency_s,
            "latency_p95_s": self.latency_p95_s,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "wall_s": self.wall_s,
            "predictions_path": self.predictions_path,
            "settings": dict(self.settings),
            "prompts_cut": self.prompts_cut,
            "task": self.task.to_dict() if self.task else None,
            "primary": self.primary,
            "report": self.report,
            "available": self.available,
            "recorded": self.recorded,
            "record": self.record.to_dict(),
        }


def metric_names(extra_metrics: Sequence[str] | None = None, metrics: Sequence[str] | None = None) -> list[str]:
    """The contract's metric list: ``metrics`` (default: all defaults) plus ``extra_metrics``, deduplicated."""
    names = list(metrics if metrics is not None else metric_registry.DEFAULT_METRICS)
    for name in extra_metrics or ():
        if name not in names:
            names.append(name)
    for name in names:
        metric_registry.get_metric(name)  # unknown names fail before any generation
    return names


def check_contract(system: System, split: Any, part: str) -> None:
    """Refuse data the system trained on: the split version must match and groups must not overlap."""
    if part == "train":
        raise EvaluationError("Evaluating on the train part is refused: use the frozen test split (or validation in sweeps).")
    trained = system.trained_on()
    if trained is None:
        return
    version, groups = trained
    if version != split.version:
        raise EvaluationError(
            f"{system.name} was trained on split {version} but this is split {split.version}. Evaluate it on the test part "
            f"of split {version} (`--split {version}`): only then are its test items guaranteed unseen."
        )
    overlap = set(groups) & set(split.groups(part))
    if overlap:
        shown = ", ".join(sorted(overlap)[:5])
        raise EvaluationError(
            f"{system.name} trained on {len(overlap)} group(s) of the {part} part of split {split.version} (e.g. {shown}); "
            "evaluating it there would measure memorisation. Retrain it on the train part of this split only."
        )


def leakage_control(system: System, items: Sequence[Any], split: Any) -> str | None:
    """The one place leakage control is applied: a system that retrieves (``exclude_items``) is made to
    evaluate ``items`` without their own examples in what it retrieves from. Returns the note recorded
    with the run (None for systems that retrieve nothing)."""
    exclude = getattr(system, "exclude_items", None)
    return exclude(list(items), split) if callable(exclude) else None


def _part(split: Any, part: str) -> list[Any]:
    getter = getattr(split, "part", None)
    items = getter(part) if callable(getter) else getattr(split, part, None)
    if items is None:
        raise EvaluationError(f"Split {getattr(split, 'version', '?')} has no part {part!r}.")
    return list(items)


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, int(round(q * (len(ordered) - 1)))))
    return ordered[k]


def _gpu_name(device: str) -> str | None:
    if not device.startswith("cuda"):
        return None
    try:
        import torch

        return torch.cuda.get_device_name(torch.device(device))
    except Exception:  # noqa: BLE001 - a name only refines the price
        return "gpu"


def settings_for(split: Any, **overrides: Any) -> GenerationSettings:
    """The generation settings of an evaluation on ``split`` when the caller names none: the defaults, with a
    generation limit long enough for the training answers (:func:`~studies.evaluation.tasks.answer_token_budget`);
    ``overrides`` (not None) win. Every system evaluated on the split gets the same, recorded with each run."""
    settings = GenerationSettings()
    settings.max_new_tokens = answer_token_budget([p.output for p in split.train], settings.max_new_tokens)
    for key, value in overrides.items():
        if value is not None:
            setattr(settings, key, value)
    return settings


def evaluate(
    system: System,
    split: Any,
    workspace: Workspace,
    settings: GenerationSettings | None = None,
    extra_metrics: Sequence[str] | None = None,
    record: bool = True,
    study: str | None = None,
    trial: int | None = None,
    *,
    part: str = "test",
    limit: int | None = None,
    metrics: Sequence[str] | None = None,
    run_id: str | None = None,
    price_per_hour: float | None = None,
    progress: Callable[[int, int], None] | None = None,
    task: TaskSpec | None = None,
    decoding: str = "auto",
) -> EvalResult:
    """Evaluate ``system`` on one part (default: test) of a frozen ``split``; see the module docstring.

    ``limit`` evaluates the first N items only (sweeps on validation); ``price_per_hour`` overrides
    the price table for the evaluation's own compute. ``task`` (default: the split's, recorded in its
    manifest or inferred from its train part) chooses the metrics (unless ``metrics`` is given), the
    answer extraction and the prompts of systems that build them (``use_task``). Raises
    :class:`EvaluationError` when the contract is broken, before any generation. ``decoding``:
    ``labels`` scores every label (classification; the answer is always a label), ``generate``
    decodes freely, ``auto`` (default) scores labels for classification where the system can.
    """
    settings = settings or settings_for(split)
    settings.validate()
    task = task or task_of_split(split)
    if decoding not in DECODINGS:
        raise EvaluationError(f"decoding must be one of {', '.join(DECODINGS)}, but got {decoding!r}.")
    scorer = getattr(system, "score_labels", None)
    if decoding == "labels" and (task.kind != "classification" or not task.labels or not callable(scorer)):
        raise EvaluationError(
            f"Label scoring needs a classification task with labels and a system that can score them; this is a {task.kind} "
            f"task and {system.name} {'can' if callable(scorer) else 'cannot'} score labels. Use --decoding generate."
        )
    use_labels = decoding != "generate" and task.kind == "classification" and bool(task.labels) and callable(scorer)
    decoding = "labels" if use_labels else "generate"
    if task.kind == "structured" and task.format != "sql" and not settings.stop_after_json:
        settings = dataclasses.replace(settings, stop_after_json=True)  # structured answers end with their object
    names = metric_names(extra_metrics, metrics if metrics is not None else metrics_for(task))
    items = _part(split, part)
    available = len(items)
    if limit is not None:
        if limit < 1:
            raise EvaluationError(f"`limit >= 1` must hold, but got {limit}.")
        items = items[:limit]
    if not items:
        raise EvaluationError(f"Split {split.version} has no items in its {part} part; nothing to evaluate.")
    check_contract(system, split, part)
    leakage = leakage_control(system, items, split)
    use_task = getattr(system, "use_task", None)
    if callable(use_task):
        use_task(task)
    if run_id is None:
        run_id = trial_run_id(study, trial) if study is not None and trial is not None else new_run_id(system.kind)
    run_dir = workspace.path("runs", run_id)

    started = time.perf_counter()
    predictions = []
    inputs = [p.input for p in items]
    if progress is not None:  # the bar starts (and times) from here, not after the first chunk
        progress(0, len(inputs))
    for start in range(0, len(inputs), CHUNK):
        chunk = inputs[start : start + CHUNK]
        out = scorer(chunk, list(task.labels), settings) if use_labels else system.predict(chunk, settings)
        if len(out) != len(chunk):
            raise EvaluationError(f"{system.name} returned {len(out)} answers for {len(chunk)} inputs; a system must answer every input.")
        predictions.extend(out)
        if progress is not None:
            progress(len(predictions), len(inputs))
    wall = time.perf_counter() - started

    extractions = [extract_for(task, p.raw) for p in predictions]
    answers = [e.answer for e in extractions]
    references = [p.output for p in items]
    values, skipped = metric_registry.score_all(names, answers, references)
    scores = {name: interval(vals) for name, vals in values.items()}
    report = task_report(task, answers, references)
    aggregate = {"macro_f1": report["macro_f1"]} if "macro_f1" in report else {}
    primary = primary_metric(task) if primary_metric(task) in values else None

    latencies = [float(p.latency_s) for p in predictions]
    prompt_tokens = sum(int(p.prompt_tokens) for p in predictions)
    completion_tokens = sum(int(p.completion_tokens) for p in predictions)
    prompts_cut = sum(1 for p in predictions if getattr(p, "truncated_prompt", False))
    if prompts_cut:
        log.warning(
            "%d of %d prompts of %s were longer than max_prompt_tokens=%d and lost their start; raise max_prompt_tokens "
            "or retrieve fewer / shorter chunks.", prompts_cut, len(predictions), system.name, settings.max_prompt_tokens,
        )

    lines = []
    for i, (item, pred, ext) in enumerate(zip(items, predictions, extractions)):
        row = {
            "index": i,
            "item_id": item.id,
            "group": getattr(item, "group", None),
            "input": item.input,
            "reference": item.output,
            "raw": pred.raw,
            "answer": ext.answer,
            "extraction": ext.rule,
            "metrics": {name: vals[i] for name, vals in values.items()},
            "latency_s": pred.latency_s,
            "retrieval_s": pred.retrieval_s,
            "prompt_tokens": pred.prompt_tokens,
            "completion_tokens": pred.completion_tokens,
            "truncated_prompt": bool(getattr(pred, "truncated_prompt", False)),
        }
        if pred.context is not None:
            row["context"] = pred.context
        if getattr(pred, "label_scores", None):
            row["label_scores"] = pred.label_scores
        lines.append(json.dumps(row, ensure_ascii=False, default=str))

    config = system.config()
    costs = dict(getattr(system, "costs", lambda: {})() or {})
    device = system_device(system)
    eval_hours = wall / 3600.0
    on_gpu = device.startswith("cuda")
    train_hours = float(costs.get("train_seconds", 0.0)) / 3600.0
    train_on_gpu = str(costs.get("train_device", "cpu")).startswith("cuda")
    cpu_hours = (0.0 if on_gpu else eval_hours) + (0.0 if train_on_gpu else train_hours)
    gpu_hours = (eval_hours if on_gpu else 0.0) + (train_hours if train_on_gpu else 0.0)
    gpu = _gpu_name(device) if on_gpu else None
    money = prices.money(cpu_hours, gpu_hours, gpu, price_cpu=price_per_hour, price_gpu=price_per_hour)
    settings_dict = {k: getattr(settings, k) for k in settings.__dataclass_fields__}
    run = RunRecord(
        run_id=run_id,
        kind=system.kind,
        system=system.name,
        study=study,
        trial=trial,
        base_model=config.get("base_model"),
        method=config.get("method"),
        config={**config, "generation": settings_dict, "metrics": names, "limit": limit, "items_available": available,
                "prompts_cut": prompts_cut, "leakage_control": leakage, "decoding": decoding, "task": task.to_dict(),
                "primary_metric": primary, "task_report": report,
                **({"unreviewed_override": split.unreviewed} if getattr(split, "unreviewed", 0) else {})},
        task=task.kind,
        dataset_name=getattr(split, "dataset_name", None),
        dataset_version=getattr(split, "dataset_hash", None),
        split_version=split.version,
        split_part=part,
        n_items=len(items),
        metrics={**{k: v.to_dict() for k, v in scores.items()}, **aggregate},
        skipped_metrics=skipped,
        train_tokens=int(costs.get("train_tokens", 0) or 0),
        eval_tokens=prompt_tokens + completion_tokens,
        cpu_hours=cpu_hours,
        gpu_hours=gpu_hours,
        money_usd=money,
        latency_s=statistics.fmean(latencies),
        latency_p95_s=_percentile(latencies, 0.95),
        artifacts={**dict(getattr(system, "artifacts", lambda: {})() or {}), "run_dir": str(run_dir), "predictions": str(run_dir / PREDICTIONS)},
        code_version=provenance.code_version(),
        environment={**provenance.environment(device), "gpu": gpu, "price_per_hour": price_per_hour},
    )
    atomic_write_text(run_dir / PREDICTIONS, "\n".join(lines) + "\n")
    atomic_write_json(run_dir / RUN_FILE, run.to_dict())
    recorded = False
    if record:
        recorded = Leaderboard(workspace).record(run)
    return EvalResult(
        run_id=run_id,
        system=system.name,
        kind=system.kind,
        split_version=split.version,
        part=part,
        n=len(items),
        scores=scores,
        per_item=values,
        item_ids=[p.id for p in items],
        skipped_metrics=skipped,
        latency_s=run.latency_s,
        latency_p95_s=run.latency_p95_s,
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        wall_s=wall,
        predictions_path=str(run_dir / PREDICTIONS),
        record=run,
        recorded=recorded,
        settings=settings_dict,
        prompts_cut=prompts_cut,
        task=task,
        primary=primary,
        report=report,
        available=available,
    )


def read_predictions(workspace: Workspace, run_id: str) -> list[dict[str, Any]]:
    """The stored per-item predictions of a run (one reader for every consumer: see ``studies.evaluation.run_items``)."""
    from studies.evaluation.run_items import read_prediction_rows

    return read_prediction_rows(workspace, run_id)


def compare(workspace: Workspace, run_a: str, run_b: str, metrics: Sequence[str] | None = None) -> dict[str, PairedComparison]:
    """Paired comparison of two runs on the same items: bootstrap CI of the difference + paired test.

    Refuses runs over different items (different split or part): a paired test needs the same items.
    """
    a, b = read_predictions(workspace, run_a), read_predictions(workspace, run_b)
    ids_a, ids_b = [r["item_id"] for r in a], [r["item_id"] for r in b]
    if sorted(ids_a) != sorted(ids_b):
        raise EvaluationError(
            f"Runs {run_a} and {run_b} were evaluated on different items ({len(ids_a)} vs {len(ids_b)}); compare runs "
            "on the same frozen split and part."
        )
    by_id = {r["item_id"]: r for r in b}
    common = [m for m in (a[0]["metrics"] if a else {}) if m in (b[0]["metrics"] if b else {})]
    out = {}
    for name in metrics or common:
        if name not in common:
            raise EvaluationError(f"Metric {name!r} is not in both runs; shared metrics: {', '.join(common)}.")
        xs = [r["metrics"][name] for r in a]
        ys = [by_id[r["item_id"]]["metrics"][name] for r in a]
        out[name] = paired_difference(xs, ys, metric=name, binary=metric_registry.is_binary(name))
    return out
