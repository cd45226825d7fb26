"""The evidence a review meeting asks for after the comparison: how much data, knowledge or behaviour, forgetting.

:func:`measure` runs what is missing (it trains and generates: minutes on a CPU) and stores it beside the
runs; :func:`gather` only reads what is stored, so the record's numbers always come from the leaderboard
and the stored predictions. Each part is optional (:class:`EvidenceOptions`); a part that cannot be
measured for these runs says why instead of failing the report.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.errors import AdvisorError
from core.workspace import Workspace

if TYPE_CHECKING:  # pragma: no cover
    from studies.evaluation.compare import RunComparison

log = logging.getLogger(__name__)
ORACLE_FILE = "oracle.json"
FINE_TUNED = ("lora", "dora", "qlora", "full", "rag+lora")


@dataclass
class EvidenceOptions:
    """Which extra parts the record holds (measured when missing)."""

    learning_curve: bool = False
    oracle: bool = False
    forgetting: bool = False
    forgetting_tolerance: float | None = None
    """Largest acceptable drop on the general set (None: the gate's default)."""
    general_limit: int | None = None
    """Score the first N general items only (None: all of them)."""
    max_new_tokens: int = 40

    @property
    def any(self) -> bool:
        return self.learning_curve or self.oracle or self.forgetting


def _split(ws: Workspace, comparison: "RunComparison") -> Any:
    from studies.data.splits import load_split

    return load_split(ws, comparison.split_version)


def _settings(rows: dict[str, dict[str, Any]], run_id: str, options: EvidenceOptions) -> Any:
    """The generation settings the run was evaluated with (the same contract for the extra runs)."""
    from tuning.generate import GenerationSettings

    stored = (rows[run_id].get("config") or {}).get("generation") or {}
    known = {k: v for k, v in stored.items() if k in GenerationSettings.__dataclass_fields__}
    return GenerationSettings(**known) if known else GenerationSettings(max_new_tokens=options.max_new_tokens)


def _best(comparison: "RunComparison", kinds: tuple[str, ...]) -> Any:
    runs = [r for r in comparison.runs if r.kind in kinds]
    return max(runs, key=lambda r: r.scores[comparison.primary].mean) if runs else None


def measure(ws: Workspace, comparison: "RunComparison", rows: dict[str, dict[str, Any]], options: EvidenceOptions,
            say: Callable[[str], None] = log.info) -> dict[str, str]:
    """Run and store what ``options`` asks for and is not stored yet; returns ``{part: why it could not be measured}``."""
    limit = comparison.n_items
    parts = [("learning_curve", options.learning_curve, _measure_curve), ("oracle", options.oracle, _measure_oracle),
             ("forgetting", options.forgetting, _measure_forgetting)]
    problems: dict[str, str] = {}
    for name, wanted, fn in parts:
        if not wanted:
            continue
        try:
            fn(ws, comparison, rows, options, limit, say)
        except AdvisorError as exc:  # one part that cannot be measured must not cost the whole record
            say(f"{name.replace('_', ' ')}: not measured: {exc}")
            problems[name] = str(exc)
    return problems


def _measure_curve(ws: Workspace, comparison: "RunComparison", rows: dict[str, dict[str, Any]], options: EvidenceOptions,
                   limit: int, say: Callable[[str], None]) -> None:
    from studies.evaluation.learning_curve import load_stored_curve, run_learning_curve

    best = _best(comparison, ("lora", "dora", "qlora"))
    if best is not None and load_stored_curve(ws, best.run_id) is None:
        say(f"learning curve: retraining {best.system} on 25% and 50% of the training split")
        run_learning_curve(ws, _split(ws, comparison), rows[best.run_id], _settings(rows, best.run_id, options),
                           limit=limit, metrics=comparison.metrics, progress=say)


def _measure_oracle(ws: Workspace, comparison: "RunComparison", rows: dict[str, dict[str, Any]], options: EvidenceOptions,
                    limit: int, say: Callable[[str], None]) -> None:
    from studies.evaluation.contract import evaluate
    from studies.evaluation.oracle import OracleContextSystem, gold_documents

    rag = _best(comparison, ("rag",))
    base = _best(comparison, ("base",))
    if rag is None or base is None:
        return
    path = ws.path("runs", rag.run_id, ORACLE_FILE)
    if path.is_file():
        return
    split = _split(ws, comparison)
    config = rows[rag.run_id].get("config") or {}
    say(f"oracle context: {rag.system} with the gold document in the prompt")
    system = OracleContextSystem(str(config.get("index")), ws, gold_documents(split.part(comparison.part)),
                                 model=(rows[base.run_id].get("config") or {}).get("model_path"))
    result = evaluate(system, split, ws, _settings(rows, rag.run_id, options), part=comparison.part, limit=limit,
                      metrics=comparison.metrics)
    from core.atomic import atomic_write_json

    atomic_write_json(path, {"rag_run": rag.run_id, "oracle_run": result.run_id, "no_context_run": base.run_id})


def _measure_forgetting(ws: Workspace, comparison: "RunComparison", rows: dict[str, dict[str, Any]], options: EvidenceOptions,
                        limit: int, say: Callable[[str], None]) -> None:
    from studies.evaluation.forgetting import TOLERANCE, load_forgetting, measure_forgetting
    from studies.evaluation.systems import BaseModelSystem, LoraSystem

    done: dict[str, Any] = {}  # adapter dir -> result: rag+lora and lora over one adapter forget the same
    for run in comparison.runs:
        if run.kind not in FINE_TUNED or load_forgetting(ws, run.run_id) is not None:
            continue
        adapter = (rows[run.run_id].get("config") or {}).get("adapter_dir")
        if not adapter or not Path(adapter).is_dir():
            say(f"forgetting: {run.system} has no adapter folder on this machine; skipped")
            continue
        tolerance = TOLERANCE if options.forgetting_tolerance is None else options.forgetting_tolerance
        if adapter in done:
            from core.atomic import atomic_write_json

            prior = json.loads(ws.path("runs", done[adapter], "forgetting.json").read_text(encoding="utf-8"))
            atomic_write_json(ws.path("runs", run.run_id, "forgetting.json"), {**prior, "run_id": run.run_id, "system": run.system})
            continue
        say(f"forgetting: {run.system} and its base model on the general held-out set")
        tuned = LoraSystem(adapter, ws)
        base_path = (tuned.metadata.get("base_model") or {}).get("path")
        base = BaseModelSystem(ws, base_path if base_path and Path(base_path).is_dir() else None, system_prompt=tuned.system_prompt)
        measure_forgetting(ws, run.run_id, tuned, base, _settings(rows, run.run_id, options), tolerance=tolerance,
                           limit=options.general_limit)
        done[adapter] = run.run_id


def gather(ws: Workspace, comparison: "RunComparison", rows: dict[str, dict[str, Any]], names: dict[str, str],
           options: EvidenceOptions, problems: dict[str, str] | None = None) -> dict[str, Any]:
    """What is stored for the parts ``options`` asks for, as plain dicts for the templates (``problems``: from :func:`measure`)."""
    out: dict[str, Any] = {}
    problems = problems or {}
    if options.learning_curve:
        out["learning_curve"] = _gather_curve(ws, comparison, rows, names)
        if "missing" in out["learning_curve"] and "learning_curve" in problems:
            out["learning_curve"] = {"missing": problems["learning_curve"]}
    if options.oracle:
        out["oracle"] = _gather_oracle(ws, comparison, names)
        if "missing" in out["oracle"] and "oracle" in problems:
            out["oracle"] = {"missing": problems["oracle"]}
    if options.forgetting:
        from studies.evaluation.forgetting import load_forgetting

        found = {}
        for run in comparison.runs:
            if run.kind in FINE_TUNED:
                f = load_forgetting(ws, run.run_id)
                found[names[run.run_id]] = f.to_dict() if f else None
        out["forgetting"] = found
    return out


def _gather_curve(ws: Workspace, comparison: "RunComparison", rows: dict[str, dict[str, Any]], names: dict[str, str]) -> dict[str, Any]:
    from studies.evaluation.learning_curve import curve_from_leaderboard, load_stored_curve
    from studies.results.leaderboard import Leaderboard

    best = _best(comparison, ("lora", "dora", "qlora"))
    if best is None:
        return {"missing": "no LoRA-family run among the compared systems"}
    stored = load_stored_curve(ws, best.run_id)
    if stored is None:
        return {"missing": f"not measured for {names[best.run_id]} (`advisor report --learning-curve`)"}
    rag = _best(comparison, ("rag", "rag+lora"))
    target = rag.scores[comparison.primary].mean if rag is not None else None
    try:
        curve = curve_from_leaderboard(Leaderboard(ws), stored, comparison.primary, target, names.get(rag.run_id) if rag else None)
    except AdvisorError as exc:
        return {"missing": str(exc)}
    return {"system": names[best.run_id], **curve.to_dict()}


def _gather_oracle(ws: Workspace, comparison: "RunComparison", names: dict[str, str]) -> dict[str, Any]:
    from studies.evaluation.contract import read_predictions
    from studies.evaluation.oracle import error_split
    from studies.results.leaderboard import Leaderboard

    rag = _best(comparison, ("rag",))
    if rag is None:
        return {"missing": "no RAG run among the compared systems"}
    path = ws.path("runs", rag.run_id, ORACLE_FILE)
    if not path.is_file():
        return {"missing": f"not measured for {names[rag.run_id]} (`advisor report --oracle`)"}
    ids = json.loads(path.read_text(encoding="utf-8"))
    try:
        split = error_split(read_predictions(ws, ids["rag_run"]), read_predictions(ws, ids["oracle_run"]),
                            read_predictions(ws, ids["no_context_run"]), comparison.primary)
        oracle_row = Leaderboard(ws).get(ids["oracle_run"])
    except AdvisorError as exc:
        return {"missing": str(exc)}
    score = (oracle_row.get("metrics") or {}).get(comparison.primary) or {}
    return {"rag": names[rag.run_id], "oracle_run": ids["oracle_run"], "oracle_score": score, **split.to_dict()}


DOCUMENT_RAG = ("rag", "rag+lora")
"""Systems that retrieve documents (example retrieval returns training pairs, which have no gold document)."""


def gold_retrieval(ws: Workspace, comparison: "RunComparison", names: dict[str, str], k: int) -> list[dict[str, Any]]:
    """Retrieval hit@k of each test item's gold document, per document-RAG run, read from the stored predictions.

    The gold document of an item is its pair's ``page`` (else its group) in the frozen split; a run whose
    predictions cannot be read says why instead of failing the record.
    """
    from studies.evaluation.contract import read_predictions
    from studies.evaluation.oracle import gold_by_item, gold_hits

    gold: dict[str, str] | None = None
    try:
        gold = gold_by_item(_split(ws, comparison).part(comparison.part))
    except (AdvisorError, OSError) as exc:  # the split is gone: each item's stored group stands in for its document
        log.info("gold documents from the stored groups: %s", exc)
    out = []
    for run in comparison.runs:
        if run.kind not in DOCUMENT_RAG:
            continue
        try:
            hits = gold_hits(read_predictions(ws, run.run_id), k, gold)
        except AdvisorError as exc:
            out.append({"run_id": run.run_id, "name": names.get(run.run_id, run.system), "k": k, "missing": str(exc)})
            continue
        out.append({"run_id": run.run_id, "name": names.get(run.run_id, run.system), **hits.to_dict()})
    return out
