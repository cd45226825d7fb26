"""`advisor judge score / agreement`: exit codes (2 for bad input, no traceback), the flow against a fake endpoint."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from studies.evaluation.run_items import write_run_items
from tests.advisor.test_cli_data import ROOT
from tests.openai_fake import FakeOpenAI


def advisor(*args: str, workspace, env: dict | None = None) -> subprocess.CompletedProcess:
    full = {**os.environ, "ADVISOR_WORKSPACE": str(workspace), **(env or {})}
    return subprocess.run([sys.executable, "-m", "advisor", *args], cwd=ROOT, env=full, capture_output=True, text=True, timeout=300)


def cli(ws, capsys, *argv: str) -> tuple[int, str, str]:
    from advisor.cli import main

    code = main(["--workspace", str(ws.root), *argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def _runs(ws) -> None:
    for run, word in (("r1", "right"), ("r2", "wrong")):
        write_run_items(ws, run, [
            {"item_id": f"i{k}", "input": f"question {k}", "raw": f"{word} {k}", "reference": f"right {k}", "metrics": {"chrf": 0.5}}
            for k in range(4)
        ])  # fmt: skip


def test_bad_input_exits_2_with_a_message_and_no_traceback(tmp_path):
    ws = tmp_path / "ws"
    for args, message in (
        (("judge", "score"), "the following arguments are required"),
        (("judge", "score", "r1", "--timeout", "-1"), "must hold"),
        (("judge", "score", "nope", "--model", "default"), "has no predictions"),
        (("judge", "agreement", "r1"), "at least two"),
    ):
        out = advisor(*args, workspace=ws)
        assert out.returncode == 2, (args, out.stdout, out.stderr)
        assert message in out.stderr and "Traceback" not in out.stderr, out.stderr
    help_text = advisor("judge", "score", "--help", workspace=ws)
    assert help_text.returncode == 0 and "--rubric" in help_text.stdout and "--api-key-env" in help_text.stdout


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ((), "Say which model judges"),
        (("--model", "m", "--endpoint", "http://127.0.0.1:9/v1"), "not both"),
        (("--endpoint", "http://127.0.0.1:9/v1"), "--endpoint-model"),
        (("--endpoint", "ftp://host/v1", "--endpoint-model", "m"), "not an http"),
        (("--endpoint", "http://127.0.0.1:9/v1", "--endpoint-model", "m", "--api-key-env", "JUDGE_TEST_UNSET"), "is empty"),
        (("--model", "default", "--rubric", "missing-rubric.txt"), "does not exist"),
    ],
)
def test_refused_options_exit_2_before_any_model_loads(workspace, capsys, extra, message):
    _runs(workspace)
    os.environ.pop("JUDGE_TEST_UNSET", None)
    code, _, err = cli(workspace, capsys, "judge", "score", "r1", *extra)
    assert code == 2 and message in err, err


def test_score_then_agreement_against_a_fake_endpoint(workspace, capsys, fake_endpoint, monkeypatch):
    _runs(workspace)
    monkeypatch.setenv("JUDGE_TEST_KEY", "sk-cli-secret")
    FakeOpenAI.reply = staticmethod(lambda prompt: "Score: 5" if "Answer to grade:\nright" in prompt else "Score: 1")
    code, out, err = cli(workspace, capsys, "judge", "score", "r1", "r2", "--endpoint", fake_endpoint, "--endpoint-model", "m",
                         "--api-key-env", "JUDGE_TEST_KEY", "--format", "json")
    assert code == 0, err
    data = json.loads(out)
    assert [r["score"]["mean"] for r in data["results"]] == [1.0, 0.0]
    assert data["gate"]["status"] == "not-measured" and not data["gate"]["counts"]
    assert "sk-cli-secret" not in out + err
    code, out, _ = cli(workspace, capsys, "judge", "agreement", "r1", "r2")
    assert code == 0 and "shown for information only" in out and "not measured" in out
    code, out, _ = cli(workspace, capsys, "judge", "score", "r1", "--endpoint", fake_endpoint, "--endpoint-model", "m")
    assert code == 0 and "r1: judge 1.000 [1.000, 1.000] over 4 of 4 item(s)" in out
