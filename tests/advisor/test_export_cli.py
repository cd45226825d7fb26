"""`advisor export`: help stays light, refusals exit 2, a passed check exits 0, a failed one exits 1 and keeps the record."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from advisor.cli import main
from tests.export_fixtures import accepted_tiny_adapter

ROOT = Path(__file__).resolve().parents[2]


def _cli(capsys, *argv):
    code = main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture(scope="module")
def accepted(tmp_path_factory, tiny_model_dir, sample_pairs):
    return accepted_tiny_adapter(tmp_path_factory.mktemp("ws-export-cli"), tiny_model_dir, sample_pairs, 3)


def test_help_lists_formats():
    out = subprocess.run([sys.executable, "-m", "advisor", "export", "--help"], cwd=ROOT, capture_output=True, text=True, check=False)
    assert out.returncode == 0 and "merged" in out.stdout and "ollama" in out.stdout and "--quant" in out.stdout


def test_refusals_exit_2_with_a_message(tmp_path, capsys, accepted):
    ws, run_id, candidate = accepted
    code, _out, err = _cli(capsys, "--workspace", ws.root, "export", "no-such-run", "--format", "merged")
    assert code == 2 and "No run 'no-such-run'" in err
    code, _out, err = _cli(capsys, "--workspace", ws.root, "export", candidate, "--format", "merged")
    assert code == 2 and "advisor accept" in err
    code, _out, err = _cli(capsys, "--workspace", ws.root, "export", run_id)
    assert code == 2 and "--format" in err


def test_export_then_list_and_a_failed_check_exits_1(capsys, accepted):
    from studies.evaluation.run_items import predictions_path

    ws, run_id, _ = accepted
    code, out, _err = _cli(capsys, "--workspace", ws.root, "export", run_id, "--format", "merged", "--json")
    record = json.loads(out)
    assert code == 0 and record["check"]["verdict"] == "matches" and record["check"]["n_items"] == 3
    code, out, _err = _cli(capsys, "--workspace", ws.root, "export", run_id, "--list")
    assert code == 0 and "exports/merged: matches; check passed" in out
    path = predictions_path(ws, run_id)
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    rows[0]["raw"] += " (stored answer altered)"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    code, out, _err = _cli(capsys, "--workspace", ws.root, "export", run_id, "--format", "merged")
    assert code == 1 and "1 of 3 items differ" in out and f"differs {rows[0]['item_id']}" in out and "check FAILED" in out
    listed = json.loads(_cli(capsys, "--workspace", ws.root, "export", run_id, "--list", "--json")[1])
    assert listed[0]["check"]["passed"] is False and listed[0]["check"]["differing"][0]["item_id"] == rows[0]["item_id"]
