"""Corrupt state, probed from outside: a damaged adapter never enters the registry, and a damaged
leaderboard, Optuna storage or split manifest ends every command that reads it in a typed error
(exit 2, no traceback) that names the file and the fix; nothing corrupt is used or silently replaced.

Commands run in-process through ``advisor.cli.main`` (the exit code and any exception are what a user
gets); one subprocess per family checks the real process too.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from core.errors import AdvisorError
from tests.reliability._util import record_figure

ROOT = Path(__file__).resolve().parents[2]


def cli(ws, *args: str) -> tuple[int, str]:
    """Run the CLI in this process; returns (exit code, stderr). Any exception escaping ``main`` fails the test."""
    import contextlib
    import io

    from advisor.cli import main

    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            code = main(["--workspace", str(ws.root), *args])
        except SystemExit as exc:  # argparse
            code = int(exc.code or 0)
    return code, err.getvalue()


def run_cli(ws, *args: str, cwd: Path = ROOT, timeout: float = 120) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "advisor", "--workspace", str(ws.root), *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout)


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "absent"


# ----------------------------------------------------------------------------- 1. registry


def _candidate(ws, adapter: Path, run_id: str = "run-1"):
    """A fine-tune run on the board whose predictions exist and whose adapter is ``adapter``."""
    from studies.results.leaderboard import Leaderboard
    from studies.results.records import RunRecord

    predictions = ws.dir("runs") / run_id / "predictions.jsonl"
    predictions.parent.mkdir(parents=True, exist_ok=True)
    predictions.write_text('{"id": "1", "prediction": "x"}\n')
    board = Leaderboard(ws)
    board.record(RunRecord(run_id=run_id, kind="lora", method="lora", n_items=1,
                           metrics={"chrf": {"mean": 0.5, "low": 0.4, "high": 0.6, "n": 1}},
                           artifacts={"adapter_dir": str(adapter), "predictions": str(predictions)}))
    return board


def _damage_adapter(folder: Path, how: str) -> None:
    weights = folder / "adapter_model.safetensors"
    meta_path = folder / "metadata.json"
    meta = json.loads(meta_path.read_text())
    if how == "flipped byte":
        data = bytearray(weights.read_bytes())
        data[len(data) // 2] ^= 0xFF
        weights.write_bytes(bytes(data))
    elif how == "truncated weights":
        weights.write_bytes(weights.read_bytes()[:100])
    elif how == "missing weights":
        weights.unlink()
    elif how == "unlisted weights":
        (folder / "extra.safetensors").write_bytes(b"\x00" * 16)
    elif how == "no files entry":
        meta.pop("files")
        meta_path.write_text(json.dumps(meta))
    elif how == "files is a list":
        meta["files"] = []
        meta_path.write_text(json.dumps(meta))
    elif how == "files empty":
        meta["files"] = {}
        meta_path.write_text(json.dumps(meta))
    elif how == "metadata not JSON":
        meta_path.write_text("{not json")
    elif how == "metadata a list":
        meta_path.write_text("[1, 2]")
    elif how == "metadata missing":
        meta_path.unlink()
    elif how == "weights a symlink":
        outside = folder.parent.parent.parent / "outside.safetensors"
        shutil.copy2(weights, outside)
        weights.unlink()
        weights.symlink_to(outside)
    else:  # pragma: no cover
        raise AssertionError(how)


ADAPTER_DAMAGE = ["flipped byte", "truncated weights", "missing weights", "unlisted weights", "no files entry", "files is a list",
                  "files empty", "metadata not JSON", "metadata a list", "metadata missing", "weights a symlink"]


def test_registry_refuses_every_damaged_adapter(tmp_path, monkeypatch):
    """Each damage, through `advisor accept` (the gate passes): exit 2, a message, no registry entry, the row stays a candidate."""
    from core.workspace import Workspace
    from studies.governance import gate
    from tests.reliability._writer import save_adapter

    monkeypatch.setattr(gate, "check", lambda *a, **k: pytest.fail("the gate ran before the adapter was verified"))
    outcomes: Counter = Counter()
    for i, how in enumerate(ADAPTER_DAMAGE):
        ws = Workspace.resolve(tmp_path / f"ws{i}").ensure()
        adapter = save_adapter(ws, 1, name="damaged")
        _damage_adapter(adapter, how)
        board = _candidate(ws, adapter)
        code, err = cli(ws, "accept", "run-1", "--by", "probe", "--reason", "looks fine")
        assert code == 2, (how, code, err)
        assert "Traceback" not in err and err.startswith("error: "), (how, err)
        assert not [p for p in (ws.root / "registry").iterdir()] if (ws.root / "registry").exists() else True, how
        assert board.get("run-1")["status"] == "candidate", how
        outcomes["refused"] += 1
    record_figure("corrupt.registry", cases=len(ADAPTER_DAMAGE), outcomes=dict(outcomes))


class PassingVerdict:
    """What the promotion gate returns when it lets a run through (the gate itself is tested elsewhere)."""

    passed, verdict_id, waivers = True, "v", {}

    def to_dict(self):
        return {}


def pass_gate(monkeypatch) -> None:
    from studies.governance import gate

    monkeypatch.setattr(gate, "check", lambda *a, **k: PassingVerdict())


def test_registry_accepts_a_sound_adapter_and_odd_metadata_does_not_crash_the_card(workspace, monkeypatch):
    from studies.governance import registry
    from tests.reliability._writer import save_adapter

    pass_gate(monkeypatch)
    adapter = save_adapter(workspace, 1, name="sound")
    meta = json.loads((adapter / "metadata.json").read_text())
    meta.update(base_model="just-a-string", config=["not", "a", "mapping"])  # odd but checksums intact
    (adapter / "metadata.json").write_text(json.dumps(meta))
    _candidate(workspace, adapter)
    row = registry.accept(workspace, "run-1", "probe", "sound")
    entry = workspace.root / row["registry_path"]
    assert (entry / "adapter" / "adapter_model.safetensors").is_file() and "just-a-string" in (entry / "MODEL_CARD.md").read_text()


# ----------------------------------------------------------------------------- 5. leaderboard


def _damaged_boards(ws) -> dict[str, bytes]:
    from studies.results.leaderboard import Leaderboard
    from studies.results.records import RunRecord

    Leaderboard(ws).ingest([RunRecord(run_id=f"r{i}", kind="rag", metrics={"chrf": {"mean": 0.5, "low": 0.4, "high": 0.6, "n": 3}})
                            for i in range(300)])
    data = ws.leaderboard_path.read_bytes()
    rng = __import__("random").Random(0)
    garbled = bytearray(data)
    for _ in range(64):
        start = rng.randrange(4096, len(data) - 4096)
        garbled[start : start + 64] = bytes(rng.randrange(256) for _ in range(64))
    return {
        "half-truncated": data[: len(data) // 2],
        "garbled blocks": bytes(garbled),
        "empty": b"",
        "text": b"not a database\n" * 100,
        "header zeroed": b"\x00" * 4096 + data[4096:],
    }


BOARD_COMMANDS = [
    ("leaderboard",),
    ("leaderboard", "--best"),
    ("leaderboard", "--pareto"),
    ("leaderboard", "--export", "{tmp}/out.csv"),
    ("accept", "r1", "--by", "p", "--reason", "r"),
    ("reject", "r1", "--by", "p", "--reason", "r"),
    ("report", "--runs", "r1,r2"),
    ("leaderboard", "--ingest-runs"),
]


def test_damaged_leaderboard_ends_every_reading_command_in_a_typed_error(workspace, tmp_path):
    outcomes: Counter = Counter()
    variants = _damaged_boards(workspace)
    for label, data in variants.items():
        workspace.leaderboard_path.write_bytes(data)
        for wal in workspace.root.glob("leaderboard.duckdb.wal"):
            wal.unlink()
        before = sha(workspace.leaderboard_path)
        for command in BOARD_COMMANDS:
            args = [a.replace("{tmp}", str(tmp_path)) for a in command]
            code, err = cli(workspace, *args)
            assert code == 2, (label, args, code, err[-500:])
            assert "leaderboard" in err and str(workspace.leaderboard_path) in err, (label, args, err[-500:])
            outcomes[label] += 1
        assert sha(workspace.leaderboard_path) == before, f"{label}: the damaged file was changed"
    proc = run_cli(workspace, "leaderboard")  # the real process once: exit 2, no traceback
    assert proc.returncode == 2 and "Traceback" not in proc.stderr and "mv " in proc.stderr, proc.stderr[-800:]
    record_figure("corrupt.leaderboard", variants=len(variants), commands=len(BOARD_COMMANDS), cases=sum(outcomes.values()), failures=0)


# ----------------------------------------------------------------------------- 5. Optuna storage


def _sweep_plan(tmp_path: Path) -> Path:
    plan = tmp_path / "sweep.yaml"
    plan.write_text("objective: synthetic\nn_trials: 2\nheartbeat_interval: 1\npruner: none\nbase: {steps: 2, step_seconds: 0.0}\n")
    return plan


def _damaged_storages(tmp_path: Path) -> dict[str, bytes]:
    import sqlite3

    from core.workspace import Workspace
    from studies.sweeps.config import SweepConfig
    from studies.sweeps.study import create_or_resume

    seed_ws = Workspace.resolve(tmp_path / "seed").ensure()
    create_or_resume(SweepConfig(name="probe", objective="synthetic", n_trials=2), seed_ws.optuna_url)
    con = sqlite3.connect(seed_ws.root / "optuna.db")
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    data = (seed_ws.root / "optuna.db").read_bytes()
    foreign = tmp_path / "foreign.db"
    con = sqlite3.connect(foreign)
    con.execute("CREATE TABLE notes (body TEXT)")
    con.commit()
    con.close()
    garbled = bytearray(data)
    for offset in range(4096, len(data), 4096):  # every page after the first: the header survives, the tables do not
        garbled[offset + 8 : offset + 200] = b"\xa5" * 192
    return {
        "empty": b"",
        "half-truncated": data[: len(data) // 2],
        "garbled pages": bytes(garbled),
        "text": b"hello\n" * 1000,
        "header zeroed": b"\x00" * 100 + data[100:],
        "foreign SQLite": foreign.read_bytes(),
    }


def test_damaged_optuna_storage_is_refused_not_waited_out_or_recreated(workspace, tmp_path):
    from studies.sweeps.processes import local_workers

    plan = _sweep_plan(tmp_path)
    outcomes: Counter = Counter()
    variants = _damaged_storages(tmp_path)
    db = workspace.root / "optuna.db"
    for label, data in variants.items():
        for extra in workspace.root.glob("optuna.db-*"):
            extra.unlink()
        db.write_bytes(data)
        for args in (("sweep", "list"), ("sweep", "status", "probe"), ("sweep", "start", "--plan", str(plan), "--name", "probe", "--detach"),
                     ("sweep", "stop", "probe", "--wait", "0")):
            code, err = cli(workspace, *args)
            assert code == 2, (label, args, code, err[-600:])
            assert str(db) in err and ("corrupt" in err or "not an Optuna" in err), (label, args, err[-600:])
            outcomes[label] += 1
        assert db.read_bytes() == data, f"{label}: the storage was changed or re-created"
        assert not local_workers(workspace, "probe", alive_only=True), f"{label}: a worker was left running"
    record_figure("corrupt.optuna_storage", variants=len(variants), commands=4, cases=sum(outcomes.values()), failures=0)


def test_corruption_is_never_taken_for_an_outage():
    import sqlite3

    from studies.sweeps.storage import is_transient

    assert not is_transient(sqlite3.DatabaseError("file is not a database"))
    assert not is_transient(sqlite3.DatabaseError("database disk image is malformed"))
    assert not is_transient(sqlite3.OperationalError("no such table: studies"))
    assert is_transient(sqlite3.OperationalError("database is locked"))


# ----------------------------------------------------------------------------- 5. split manifests


def _edit(manifest_path: Path, how: str) -> None:
    data = json.loads(manifest_path.read_text())
    if how == "a list":
        manifest_path.write_text("[]")
    elif how == "not JSON":
        manifest_path.write_text('{"version": ')
    elif how == "missing":
        manifest_path.unlink()
    elif how == "fraction not a number":
        data["fractions"]["train"] = "most"
        manifest_path.write_text(json.dumps(data))
    elif how == "seed edited":
        data["seed"] = data["seed"] + 1
        manifest_path.write_text(json.dumps(data))
    elif how == "data set renamed":
        data["dataset_name"] = "something-else"
        manifest_path.write_text(json.dumps(data))
    elif how == "files a list":
        data["files"] = []
        manifest_path.write_text(json.dumps(data))
    elif how == "identity removed":
        data.pop("identity_sha256")
        manifest_path.write_text(json.dumps(data))
    else:  # pragma: no cover
        raise AssertionError(how)


SPLIT_DAMAGE = ["a list", "not JSON", "missing", "fraction not a number", "seed edited", "data set renamed", "files a list", "identity removed"]


def test_damaged_split_manifests_are_errors_naming_the_file(workspace, sample_pairs):
    from studies.data.datasets import load_pairs
    from studies.data.splits import list_splits, load_split, make_split, save_split

    dataset = load_pairs(sample_pairs)
    good = make_split(dataset, seed=3)
    outcomes: Counter = Counter()
    for how in SPLIT_DAMAGE:
        folder = save_split(workspace, good)
        assert [s["version"] for s in list_splits(workspace)] == [good.version]
        _edit(folder / "manifest.json", how)
        with pytest.raises(AdvisorError, match="manifest.json"):
            load_split(workspace, good.version)
        code, err = cli(workspace, "data", "splits")
        assert code == 2 and "manifest.json" in err and "advisor data split" in err, (how, code, err)
        outcomes["refused"] += 1
        shutil.rmtree(folder)
    record_figure("corrupt.split_manifest", cases=len(SPLIT_DAMAGE), outcomes=dict(outcomes))
