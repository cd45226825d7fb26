"""Isolation, probed from outside: workers never import code from the caller's folder, storage passwords
never reach a message, and no write or move leaves the workspace (symbolic links, records copied from
another workspace).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from collections import Counter
from pathlib import Path
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from core.errors import AdvisorError
from tests.reliability._util import examples, record_figure, snapshot
from tests.reliability.test_corrupt_state import run_cli

ROOT = Path(__file__).resolve().parents[2]

# ----------------------------------------------------------------------------- 2. workers and the caller's folder

PLANTED = ("secrets", "json", "argparse", "typing_extensions", "optuna", "advisor", "core")


def test_workers_never_import_modules_from_the_callers_folder(workspace, tmp_path, monkeypatch):
    """`sweep start` from a folder holding secrets.py, json.py, ... (each would write a marker when imported)."""
    from advisor.sweep_launch import start_sweep
    from studies.sweeps.config import SweepConfig
    from studies.sweeps.processes import local_workers, wait_for_exit
    from studies.sweeps.status import sweep_status

    caller = tmp_path / "caller"
    caller.mkdir()
    markers = tmp_path / "markers"
    markers.mkdir()
    for name in PLANTED:
        (caller / f"{name}.py").write_text(f"open({str(markers / name)!r}, 'w').write('imported')\nraise SystemExit(97)\n")
    (caller / "advisor").mkdir()  # a package named like ours, too
    (caller / "advisor" / "__init__.py").write_text(f"open({str(markers / 'advisor-package')!r}, 'w').write('imported')\n")
    monkeypatch.chdir(caller)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([".", "", str(ROOT)]))  # relative entries would mean the caller's folder
    config = SweepConfig(name="planted", objective="synthetic", n_trials=2, heartbeat_interval=1, pruner="none",
                         base={"steps": 2, "step_seconds": 0.0}, evaluate=False)
    info = start_sweep(workspace, config, workers=1)
    assert wait_for_exit(workspace, "planted", 120), "the worker did not finish"
    status = sweep_status(workspace.optuna_url, "planted")
    log = "".join(Path(w.log).read_text() for w in local_workers(workspace, "planted"))
    assert list(markers.iterdir()) == [], f"worker imported from the caller's folder: {[p.name for p in markers.iterdir()]}\n{log}"
    assert status.done == 2, log
    argv = (Path("/proc") / str(info["workers"][0]["pid"]) / "cmdline")
    record_figure("isolation.worker_path", planted_modules=len(PLANTED) + 1, imported=0, trials_done=status.done, argv_checked=not argv.exists())


def test_worker_command_line_and_environment_are_isolated(workspace, monkeypatch):
    from advisor.sweep_launch import worker_argv, worker_env

    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([".", "", "relative/dir", "/abs/extra"]))
    argv = worker_argv(workspace, "x")
    env = worker_env("sqlite:///x.db")
    assert argv[1] == "-P" and argv[2:4] == ["-m", "advisor"]
    assert env["PYTHONPATH"].split(os.pathsep) == [str(ROOT), "/abs/extra"] and env["PYTHONSAFEPATH"] == "1"


# ----------------------------------------------------------------------------- 3. passwords in URLs

SECRET_PREFIX = "Zq7"
password_chars = st.text(st.characters(min_codepoint=33, max_codepoint=126, blacklist_characters="?#"), min_size=3, max_size=24)


@st.composite
def storage_urls(draw) -> tuple[str, str]:
    """(url, password): the four shapes the probe found, in every combination, passwords with any printable character."""
    password = SECRET_PREFIX + draw(password_chars)
    scheme = draw(st.sampled_from(["postgresql", "postgresql+psycopg", "mysql", "mysql+pymysql", "postgres"]))
    user = draw(st.sampled_from(["", "advisor", "u.ser", "x"]))
    encoded = draw(st.booleans())
    shown_pw = quote(password, safe="") if encoded else password
    shape = draw(st.sampled_from(["userinfo", "query", "both"]))
    host = draw(st.sampled_from(["127.0.0.1:9", "db.example", "[::1]:5432", "h"]))
    query_key = draw(st.sampled_from(["password", "sslpassword", "PASSWORD", "token"]))
    extra = draw(st.sampled_from(["", "&sslmode=disable", "&application_name=probe"]))
    if shape == "userinfo":
        return f"{scheme}://{user}:{shown_pw}@{host}/db", password
    if shape == "query":
        return f"{scheme}://{user + '@' if user else ''}{host}/db?{query_key}={quote(password, safe='')}{extra}", password
    return f"{scheme}://{user}:{shown_pw}@{host}/db?{query_key}={quote(password, safe='')}{extra}", password


def _leaks(text: str, password: str) -> bool:
    """Any recognisable piece of the password (4+ characters after the marker, raw or encoded) in ``text``."""
    pieces = {password, quote(password, safe=""), *[p for p in password.split("@") if len(p) >= 4 and p.startswith(SECRET_PREFIX)]}
    return any(p in text for p in pieces) or SECRET_PREFIX in text


def test_redact_url_hides_every_password_shape():
    from studies.sweeps.storage import redact_text, redact_url

    outcomes: Counter = Counter()

    @settings(max_examples=examples(), deadline=None, database=None, suppress_health_check=list(HealthCheck),
              phases=[Phase.explicit, Phase.generate])
    @given(case=storage_urls())
    def check(case):
        url, password = case
        shown = redact_url(url)
        assert not _leaks(shown, password), (url, shown)
        assert "***" in shown, (url, shown)
        message = f"could not connect to {url} (host {url.rsplit('@', 1)[-1]}) password={password}"
        assert not _leaks(redact_text(message, url), password), (url, redact_text(message, url))
        outcomes[url.split(":", 1)[0]] += 1

    check()
    assert redact_url("sqlite:////tmp/x/optuna.db") == "sqlite:////tmp/x/optuna.db"
    record_figure("isolation.redact_url", cases=examples(), leaks=0, by_scheme=dict(outcomes))


def test_cli_never_prints_a_storage_password(workspace, tmp_path):
    """The four shapes from the probe, through the real CLI (connections refused or drivers missing)."""
    password = "Zq7pa@ss:wo/rd"
    urls = [
        f"postgresql://127.0.0.1:9/db?password={quote(password, safe='')}",
        f"postgresql://:{password}@127.0.0.1:9/db",
        f"mysql://user:{password}@127.0.0.1:9/db",
        f"postgresql://user:{password}@127.0.0.1:9/db",
    ]
    plan = tmp_path / "plan.yaml"
    plan.write_text("objective: synthetic\nn_trials: 2\nheartbeat_interval: 1\npruner: none\nbase: {steps: 2}\n")
    runs = 0
    for url in urls:
        for args in (("sweep", "list", "--storage", url), ("sweep", "start", "--plan", str(plan), "--name", "pw", "--storage", url, "--detach")):
            proc = run_cli(workspace, *args)
            runs += 1
            text = proc.stdout + proc.stderr
            assert proc.returncode == 2 and "Traceback" not in text, (url, text[-800:])
            assert not _leaks(text, password), (url, text[-800:])
    for path in workspace.root.rglob("*"):
        if path.is_file():
            assert not _leaks(path.read_bytes().decode("utf-8", "replace"), password), path
    record_figure("isolation.cli_passwords", url_shapes=len(urls), commands=runs, leaks=0)


def test_redact_url_is_the_only_redaction():
    """One function redacts URLs: no other module hand-rolls a regex over `://user:pw@`."""
    offenders = []
    for package in ("core", "advisor", "studies", "rag", "tuning", "ui"):
        for path in (ROOT / package).rglob("*.py"):
            text = path.read_text(encoding="utf-8")
            if path.name != "storage.py" and ("def redact" in text or "hide_password" in text or ":***@" in text):
                offenders.append(str(path.relative_to(ROOT)))
    assert not offenders, offenders


# ----------------------------------------------------------------------------- 4. writes and moves stay inside


def test_writes_never_follow_links_out_of_the_workspace(workspace, tmp_path, monkeypatch):
    from advisor import report
    from studies.results.leaderboard import Leaderboard, ingest_run_dirs
    from studies.sweeps.processes import launch_workers
    from tests.reliability._writer import FakeRecord

    monkeypatch.setattr(report, "render_markdown", lambda record: "# report\n")
    monkeypatch.setattr(report, "render_html", lambda record: "<p>report</p>")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("keep out")
    (outside / "victim.log").write_text("original\n")
    before = snapshot(outside)
    refused: Counter = Counter()

    def expect_refusal(label, fn):
        try:
            fn()
        except AdvisorError as exc:
            assert str(exc)
            refused[label] += 1
        else:
            pytest.fail(f"{label}: not refused")

    # reports/<name> -> outside (HTML and Markdown: the Markdown writer used to copy the target's files in)
    (workspace.dir("reports") / "linked").symlink_to(outside, target_is_directory=True)
    expect_refusal("report html", lambda: report.write_report(workspace, FakeRecord(1), "html", name="linked"))
    expect_refusal("report md", lambda: report.write_report(workspace, FakeRecord(1), "md", name="linked"))
    assert not (workspace.dir("reports") / "secret.txt").exists()

    # sweeps/<name>/logs -> outside; sweeps/<name>/logs/worker-0.log -> a file outside
    argv = lambda _i: [sys.executable, "-c", "print('worker ran')", "sweep"]  # noqa: E731
    logs = workspace.path("sweeps", "s1")
    logs.mkdir(parents=True)
    (logs / "logs").symlink_to(outside, target_is_directory=True)
    expect_refusal("logs folder", lambda: launch_workers(workspace, "s1", 1, argv))
    folder = workspace.path("sweeps", "s2")
    (folder / "logs").mkdir(parents=True)
    (folder / "logs" / "worker-0.log").symlink_to(outside / "victim.log")
    expect_refusal("log file", lambda: launch_workers(workspace, "s2", 1, argv))
    folder = workspace.path("sweeps", "s3")
    folder.mkdir(parents=True)
    (folder / "workers").symlink_to(outside, target_is_directory=True)
    expect_refusal("worker records", lambda: launch_workers(workspace, "s3", 1, argv))

    # runs/x -> a planted run folder outside, its row already "accepted"; a real folder with an accepted row too
    planted = tmp_path / "planted-run"
    planted.mkdir()
    row = {"run_id": "planted", "kind": "lora", "status": "accepted", "status_by": "nobody", "status_reason": "planted"}
    (planted / "run.json").write_text(json.dumps(row))
    (workspace.dir("runs") / "x").symlink_to(planted, target_is_directory=True)
    real = workspace.dir("runs") / "y"
    real.mkdir()
    (real / "run.json").write_text(json.dumps({**row, "run_id": "self-accepted"}))
    board = Leaderboard(workspace)
    assert ingest_run_dirs(board, workspace) == 1
    assert [r["run_id"] for r in board.runs()] == ["self-accepted"] and board.get("self-accepted")["status"] == "candidate"

    time.sleep(0.5)  # a worker that did start would have written by now
    assert snapshot(outside) == before and (outside / "victim.log").read_text() == "original\n"
    record_figure("isolation.symlinks", cases=sum(refused.values()) + 2, refused=dict(refused), planted_rows_added=0, outside_changed=0)


def test_a_copied_workspace_is_self_contained(tmp_path, monkeypatch):
    """Accept in A, copy A to B, reject in B: only B's registry entry is withdrawn; records hold relative paths."""
    from core.workspace import Workspace
    from studies.governance import registry
    from studies.results.leaderboard import Leaderboard
    from tests.reliability._writer import save_adapter
    from tests.reliability.test_corrupt_state import _candidate, pass_gate

    pass_gate(monkeypatch)
    a = Workspace.resolve(tmp_path / "a").ensure()
    _candidate(a, save_adapter(a, 1, name="tuned"))
    row = registry.accept(a, "run-1", "probe", "good")
    assert Path(row["registry_path"]) == a.root / "registry" / "tuned"
    stored = _raw_row(a, "run-1")
    assert stored["registry_path"] == "registry/tuned" and not any(os.path.isabs(v) for v in stored["artifacts"].values()), stored

    shutil.copytree(a.root, tmp_path / "b", symlinks=True)
    b = Workspace.resolve(tmp_path / "b")
    copied = Leaderboard(b).get("run-1")
    assert copied["registry_path"] == str(b.root / "registry" / "tuned")
    assert all(str(v).startswith(str(b.root)) for v in copied["artifacts"].values()), copied["artifacts"]
    registry.reject(b, "run-1", "probe", "bad")
    assert (a.root / "registry" / "tuned").is_dir(), "rejecting in the copy moved the original's entry"
    assert not (b.root / "registry" / "tuned").exists()

    # An older record with an absolute path inside the same workspace still works; one naming another workspace is left alone.
    c = Workspace.resolve(tmp_path / "c").ensure()
    _candidate(c, save_adapter(c, 1, name="tuned"), run_id="old")
    registry.promote(c, Leaderboard(c).get("old"), "tuned", "probe", "old")
    _set_raw(c, "old", registry_path=str(c.root / "registry" / "tuned"))
    registry.reject(c, "old", "probe", "old record")
    assert not (c.root / "registry" / "tuned").exists()
    _candidate(c, save_adapter(c, 2, name="other"), run_id="foreign")
    _set_raw(c, "foreign", registry_path=str(a.root / "registry" / "tuned"))
    registry.reject(c, "foreign", "probe", "foreign record")
    assert (a.root / "registry" / "tuned").is_dir()
    record_figure("isolation.copied_workspace", cases=3, original_touched=0)


def test_sweep_record_stores_a_workspace_relative_storage(workspace, tmp_path):
    from advisor.sweep_launch import recorded_storage, storage_for

    assert recorded_storage(workspace, workspace.optuna_url) == "workspace:optuna.db"
    folder = workspace.path("sweeps", "s")
    folder.mkdir(parents=True)
    (folder / "sweep.json").write_text(json.dumps({"storage": "workspace:optuna.db"}))
    assert storage_for(workspace, "s", None) == workspace.optuna_url
    (folder / "sweep.json").write_text(json.dumps({"storage": "workspace:../../elsewhere.db"}))
    with pytest.raises(AdvisorError):
        storage_for(workspace, "s", None)
    (folder / "sweep.json").write_text("[1, 2]")
    assert storage_for(workspace, "s", None)  # unreadable record: falls back, no crash


def _raw_row(ws, run_id: str) -> dict:
    import duckdb

    con = duckdb.connect(str(ws.leaderboard_path), read_only=True)
    try:
        registry_path, artifacts = con.execute("SELECT registry_path, artifacts_json FROM runs WHERE run_id = ?", [run_id]).fetchone()
    finally:
        con.close()
    return {"registry_path": registry_path, "artifacts": json.loads(artifacts)}


def _set_raw(ws, run_id: str, **values) -> None:
    import duckdb

    con = duckdb.connect(str(ws.leaderboard_path))
    try:
        for key, value in values.items():
            con.execute(f"UPDATE runs SET {key} = ? WHERE run_id = ?", [value, run_id])
    finally:
        con.close()
