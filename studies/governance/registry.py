"""The model registry: accept or reject leaderboard runs, and promote accepted fine-tunes.

``accept`` needs who (``by``) and why (``reason``). Before anything changes it checks that the
run's artefacts exist (predictions; for fine-tunes the adapter), then asks the promotion gate
(:func:`studies.governance.gate.check`, where installed) and refuses a failed verdict. An accepted
fine-tune is copied into ``<ws>/registry/<name>/`` in one atomic step:

    adapter/            the PEFT adapter folder as trained (with its metadata.json)
    metadata.json       the adapter's metadata (base model, data version, training config)
    run.json            the leaderboard row (metrics with intervals, cost, provenance)
    MODEL_CARD.md       data version, metrics with intervals, cost, who accepted it and why, limits

The leaderboard row then points at the registry entry (``registry_path``). Rejecting records the
decision; a rejected run that had a registry entry is withdrawn (moved to a hidden folder, kept).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from core.atomic import atomic_directory, atomic_write_json, atomic_write_text
from core.errors import GateError, LeaderboardError
from core.workspace import Workspace, safe_name, slugify
from studies.governance.run_view import is_fine_tune
from studies.results.leaderboard import Leaderboard
from studies.results.records import require_who_and_why

CARD = "MODEL_CARD.md"


def missing_artefacts(row: Mapping[str, Any]) -> list[str]:
    """What a run needs on disk to be accepted and is not there."""
    artifacts = row.get("artifacts") or {}
    missing = []
    predictions = artifacts.get("predictions")
    if not predictions or not Path(predictions).is_file():
        missing.append(f"predictions ({predictions or 'no path recorded'})")
    if is_fine_tune(row):
        adapter = artifacts.get("adapter_dir")
        if not adapter or not Path(adapter).is_dir():
            missing.append(f"adapter folder ({adapter or 'no path recorded'})")
        else:
            folder = Path(adapter)
            if not (folder / "metadata.json").is_file():
                missing.append(f"{folder / 'metadata.json'}")
            if not any((folder / f).is_file() for f in ("adapter_model.safetensors", "model.safetensors", "adapter_model.bin")):
                missing.append(f"weights in {folder} (adapter_model.safetensors)")
    return missing


def run_gate(ws: Workspace, run_id: str, by: str, plan: Any = None, waivers: Mapping[str, str] | None = None,
             thresholds: Mapping[str, float] | None = None) -> Any:
    """The promotion gate (:func:`studies.governance.gate.check`); a failed verdict raises :class:`GateError`."""
    from studies.governance import gate

    verdict = gate.check(
        ws, run_id, thresholds=dict(thresholds) if thresholds else None, waivers=dict(waivers or {}), plan=plan, decided_by=by
    )
    if not verdict.passed:
        raise GateError(f"Not accepted: the promotion gate refused run {run_id}.\n{verdict.summary()}")
    return verdict


def accept(
    ws: Workspace,
    run_id: str,
    by: str,
    reason: str,
    *,
    name: str | None = None,
    plan: Any = None,
    waivers: Mapping[str, str] | None = None,
    thresholds: Mapping[str, float] | None = None,
    board: Leaderboard | None = None,
) -> dict[str, Any]:
    """Accept a run (gate first); fine-tunes are copied into the registry. Returns the updated row."""
    board = board or Leaderboard(ws)
    require_who_and_why(by, reason)
    row = board.get(run_id)
    missing = missing_artefacts(row)
    if missing:
        raise LeaderboardError(
            f"Cannot accept run {run_id}: its artefacts are missing: {'; '.join(missing)}. "
            "Re-run the evaluation (and training) that made it, then accept the new run."
        )
    verdict = run_gate(ws, run_id, by, plan=plan, waivers=waivers, thresholds=thresholds)
    registry_path = None
    if is_fine_tune(row):
        entry = safe_name(name) if name else slugify(Path(row["artifacts"]["adapter_dir"]).name or run_id, run_id)
        registry_path = str(promote(ws, row, entry, by, reason, verdict))
    return board.set_status(run_id, "accepted", by, reason, registry_path=registry_path)


def reject(ws: Workspace, run_id: str, by: str, reason: str, *, board: Leaderboard | None = None) -> dict[str, Any]:
    """Reject a run (who and why recorded); an existing registry entry is withdrawn, not deleted."""
    board = board or Leaderboard(ws)
    require_who_and_why(by, reason)
    row = board.get(run_id)
    entry = row.get("registry_path")
    if entry and Path(entry).is_dir():
        folder = Path(entry)
        os.replace(folder, folder.with_name(f".withdrawn-{folder.name}-{os.urandom(3).hex()}"))
    return board.set_status(run_id, "rejected", by, reason)


def promote(ws: Workspace, row: Mapping[str, Any], name: str, by: str, reason: str, verdict: Any = None) -> Path:
    """Copy adapter + metadata + run row + model card into ``registry/<name>/`` atomically."""
    adapter = Path(row["artifacts"]["adapter_dir"])
    target = ws.path("registry", name)
    metadata = json.loads((adapter / "metadata.json").read_text(encoding="utf-8"))
    with atomic_directory(target) as tmp:
        shutil.copytree(adapter, tmp / "adapter")
        atomic_write_json(tmp / "metadata.json", metadata)
        atomic_write_json(tmp / "run.json", {k: v for k, v in row.items()})
        if verdict is not None and hasattr(verdict, "to_dict"):
            atomic_write_json(tmp / "gate.json", verdict.to_dict())
        atomic_write_text(tmp / CARD, model_card(row, metadata, name, by, reason, verdict))
    return target


def _gate_lines(verdict: Any) -> list[str]:
    """The gate's verdict and every waiver, for the model card."""
    if verdict is None:
        return ["- no gate verdict recorded"]
    lines = [f"- verdict: {'passed' if verdict.passed else 'refused'} (verdict `{verdict.verdict_id}`)"]
    lines += [f"- waived `{check}`: {why}" for check, why in sorted(verdict.waivers.items())]
    if not verdict.waivers:
        lines.append("- no check was waived")
    return lines


def model_card(row: Mapping[str, Any], metadata: Mapping[str, Any], name: str, by: str, reason: str, verdict: Any = None) -> str:
    """A Markdown model card: what it is, data, metrics with intervals, cost, decision, limits."""
    base = (metadata.get("base_model") or {}).get("name") or row.get("base_model")
    config = metadata.get("config") or {}
    lines = [
        f"# {name}",
        "",
        f"Fine-tuned `{base}` with {config.get('method', row.get('method') or 'an adapter')} "
        f"(rank {config.get('rank', config.get('r', '?'))}). Accepted by **{by}**: {reason}",
        "",
        "## Data",
        f"- data set: {row.get('dataset_name')} (version `{row.get('dataset_version')}`)",
        f"- training data version: `{metadata.get('data_version')}`",
        f"- evaluated on split `{row.get('split_version')}`, part `{row.get('split_part')}`, {row.get('n_items')} items",
        "",
        "## Metrics (mean, 95% paired-bootstrap interval)",
        "| metric | mean | low | high |",
        "|---|---|---|---|",
    ]
    for metric, s in sorted((row.get("metrics") or {}).items()):
        low, high = s.get("low"), s.get("high")
        lines.append(f"| {metric} | {s['mean']:.3f} | {'' if low is None else f'{low:.3f}'} | {'' if high is None else f'{high:.3f}'} |")
    for metric, why in sorted((row.get("skipped_metrics") or {}).items()):
        lines.append(f"| {metric} | skipped: {why} | | |")
    lines += [
        "",
        "## Cost",
        f"- training tokens: {row.get('train_tokens')}; CPU-hours {row.get('cpu_hours', 0):.4f}; GPU-hours {row.get('gpu_hours', 0):.4f}; "
        f"money ${row.get('money_usd', 0):.4f}",
        f"- latency: {row.get('latency_s', 0):.3f} s per query (p95 {row.get('latency_p95_s', 0):.3f} s)",
        "",
        "## Promotion gate",
        *_gate_lines(verdict),
        "",
        "## Provenance",
        f"- run `{row.get('run_id')}`, code `{row.get('code_version')}`, device `{(row.get('environment') or {}).get('device')}`",
        "",
        "## Limits",
        "- Scores hold for the data set version and split above only; new data needs a new evaluation.",
        "- Metrics compare text with a reference answer; commands were not executed, so a high score does not prove "
        "a command is safe or correct on a real system.",
        f"- {row.get('n_items')} test items: read the interval, not just the mean; differences inside it are not shown.",
        f"- Loads only on the base model it was trained on (`{base}`).",
        "",
    ]
    return "\n".join(lines)
