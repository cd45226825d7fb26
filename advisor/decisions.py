"""Accepting or rejecting a leaderboard run: the plan its sweep ran under, waivers typed by a person,
the gate's verdict before anything is recorded, and the decision itself."""

from __future__ import annotations

from typing import Any

from core.workspace import Workspace


def parse_waivers(text: str) -> dict[str, str]:
    """Waivers typed one per line as ``check_name: reason`` (blank lines ignored)."""
    from core.errors import GateError

    waivers: dict[str, str] = {}
    for number, line in enumerate((text or "").splitlines(), start=1):
        if not line.strip():
            continue
        check, sep, reason = line.partition(":")
        if not sep or not check.strip() or not reason.strip():
            raise GateError(f"Waiver line {number} ({line.strip()!r}): write `check_name: reason`, "
                            "e.g. `dangerous_commands: the references themselves contain mkfs`.")
        waivers[check.strip()] = reason.strip()
    return waivers


def plan_for_run(ws: Workspace, run_id: str) -> Any:
    """The plan a run's sweep was started from (``<ws>/sweeps/<study>/plan.yaml``), else None."""
    from studies.results.leaderboard import Leaderboard

    study = Leaderboard(ws).get(run_id).get("study")
    if not study:
        return None
    path = ws.root / "sweeps" / study / "plan.yaml"
    if not path.is_file():
        return None
    from advisor.plan import load_plan

    return load_plan(path)


def gate_preview(ws: Workspace, run_id: str, waivers_text: str = "") -> Any:
    """What the promotion gate would say about a run now (nothing recorded)."""
    from studies.governance import gate

    return gate.check(ws, run_id, waivers=parse_waivers(waivers_text), plan=plan_for_run(ws, run_id), record=False)


def decide_run(ws: Workspace, run_id: str, accept: bool, by: str, reason: str, waivers_text: str = "") -> str:
    """Accept (through the promotion gate; fine-tunes go to the registry) or reject a run; says what happened."""
    from core.errors import GateError
    from studies.governance import registry

    missing = [what for what, text in (("your name", by), ("a reason", reason)) if not (text or "").strip()]
    if missing:
        raise GateError(f"Write {' and '.join(missing)}: every decision records who made it and why.")

    if accept:
        row = registry.accept(ws, run_id, by, reason, plan=plan_for_run(ws, run_id), waivers=parse_waivers(waivers_text))
        where = f" Registry entry: {row['registry_path']}." if row.get("registry_path") else ""
        return f"Run {run_id} accepted by {by.strip()}: {reason.strip()}.{where}"
    registry.reject(ws, run_id, by, reason)
    return f"Run {run_id} rejected by {by.strip()}: {reason.strip()}."
