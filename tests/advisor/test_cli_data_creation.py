"""`advisor data generate / review / build` through a subprocess: the flow, exit codes, no tracebacks."""

from __future__ import annotations

import csv
import json

import pytest

import os
import subprocess
import sys

from tests.advisor.test_cli_data import ROOT
from tests.studies.data.test_creation import DOC


def advisor(*args: str, workspace) -> subprocess.CompletedProcess:
    env = {**os.environ, "ADVISOR_WORKSPACE": str(workspace)}
    return subprocess.run([sys.executable, "-m", "advisor", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)


@pytest.fixture
def docs(tmp_path):
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "grep.md").write_text(DOC, encoding="utf-8")
    for tool, verb in (("tar", "archive"), ("gzip", "compress"), ("curl", "transfer")):
        (folder / f"{tool}.md").write_text(
            f"# {tool}\n\n{tool.capitalize()} tools {verb} data.\n\n## Options\n\n"
            f"  -v, --verbose     Print every file as {tool} processes it, one per line.\n"
            f"  -f, --file FILE   Use FILE as the {tool} input instead of standard input.\n\n"
            f"## Exit status\n\nThe {tool} command returns 0 on success and 2 when its arguments are invalid.\n", encoding="utf-8")
    return folder


def test_bad_generate_arguments_exit_2_with_a_message(tmp_path, docs):
    ws = tmp_path / "ws"
    for args, message in (
        (("--corpus", "", "--name", "x"), "No corpus"),
        (("--corpus", str(docs), "--name", "../x"), "name"),
        (("--corpus", str(docs), "--name", "x", "--endpoint", "http://127.0.0.1:9/v1"), "--endpoint-model"),
        (("--corpus", str(docs), "--name", "x", "--model", "m", "--endpoint", "http://h/v1"), "not both"),
        (("--corpus", str(docs), "--name", "x", "--near-duplicate", "2"), "between 0 and 1"),
    ):
        out = advisor("data", "generate", *args, workspace=ws)
        assert out.returncode == 2, (args, out.stdout, out.stderr)
        assert message in out.stderr and "Traceback" not in out.stderr, out.stderr
    out = advisor("data", "review", "nothing-here", workspace=ws)
    assert out.returncode == 2 and "No generation named" in out.stderr


@pytest.mark.slow
def test_generate_review_by_csv_build_and_split(tmp_path, docs):
    ws = tmp_path / "ws"
    out = advisor("data", "generate", "--corpus", str(docs), "--name", "tools", "--format", "json", workspace=ws)
    assert out.returncode == 0, out.stderr
    summary = json.loads(out.stdout)
    assert summary["documents"] == 4 and summary["kept"] > 8
    assert set(summary["dropped"]) == {"length", "unsafe", "duplicate", "ungrounded", "near_duplicate", "unroutable"}

    csv_path = tmp_path / "review.csv"
    out = advisor("data", "review", "tools", "--export", str(csv_path), workspace=ws)
    assert out.returncode == 0, out.stderr
    rows = list(csv.DictReader(csv_path.open(encoding="utf-8")))
    for i, row in enumerate(rows):
        row["decision"] = "reject" if i % 4 == 3 else "accept"
    with csv_path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    out = advisor("data", "review", "tools", "--import", str(csv_path), "--format", "json", workspace=ws)
    assert out.returncode == 2 and "--reviewer" in out.stderr
    out = advisor("data", "review", "tools", "--import", str(csv_path), "--reviewer", "ana", "--format", "json", workspace=ws)
    assert out.returncode == 0, out.stderr
    progress = json.loads(out.stdout)
    assert progress["pending"] == 0 and progress["rejected"] == len(rows) // 4

    out = advisor("data", "build", "tools", "--format", "json", workspace=ws)
    assert out.returncode == 0, out.stderr
    built = json.loads(out.stdout)
    assert built["pairs"] == len(rows) - len(rows) // 4 and built["review"]["reviewers"] == ["ana"]
    out = advisor("data", "split", built["path"] + "/pairs.jsonl", "--seed", "0", "--fractions", "0.5,0.25,0.25", workspace=ws)
    assert out.returncode == 0, out.stderr
    out = advisor("data", "check", built["path"] + "/pairs.jsonl", "--format", "json", workspace=ws)
    assert json.loads(out.stdout)["readiness"]["reviewed"] == built["pairs"]
