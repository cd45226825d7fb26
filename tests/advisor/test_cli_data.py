"""`advisor data ...` through a subprocess: exit codes, JSON output, no tracebacks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def advisor(*args: str, workspace: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "ADVISOR_WORKSPACE": str(workspace)}
    return subprocess.run(
        [sys.executable, "-m", "advisor", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def test_check_sample_json(tmp_path, sample_pairs):
    out = advisor("data", "check", str(sample_pairs), "--format", "json", workspace=tmp_path / "ws")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["pairs"] == 684 and data["valid"] is True
    assert {"duplicates", "conflicts", "content_hash", "readiness", "validation"} <= data.keys()
    assert data["readiness"]["groups"] == 101


def test_check_text(tmp_path, sample_pages):
    out = advisor("data", "check", str(sample_pages), workspace=tmp_path / "ws")
    assert out.returncode == 0, out.stderr
    assert "684 valid pairs" in out.stdout and "verdict" in out.stdout


def test_check_broken_file_lists_every_problem_exit_2(tmp_path):
    path = tmp_path / "broken.jsonl"
    path.write_bytes(
        b'{"input": "a", "output": "b"}\n'
        b"{not json\n"
        b'{"input": "c"}\n'
        b'{"input": "", "output": "d"}\n'
        b'{"input": "\xff", "output": "e"}\n'
    )
    out = advisor("data", "check", str(path), workspace=tmp_path / "ws")
    assert out.returncode == 2
    assert "Traceback" not in out.stderr + out.stdout
    for line in (2, 3, 4, 5):
        assert f"line {line}:" in out.stdout
    js = advisor("data", "check", str(path), "--format", "json", workspace=tmp_path / "ws")
    assert js.returncode == 2
    data = json.loads(js.stdout)
    assert data["valid"] is False and data["pairs"] == 1
    assert [p["line"] for p in data["validation"]["problems"]] == [2, 3, 4, 5]


def test_check_with_mapping_and_errors_without_traceback(tmp_path):
    path = tmp_path / "qa.csv"
    path.write_text("question,answer\nWhat?,That\nWho?,Them\nWhere?,There\n", encoding="utf-8")
    out = advisor("data", "check", str(path), "--map", "input=question,output=answer", "--format", "json", workspace=tmp_path / "ws")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["pairs"] == 3
    unmapped = advisor("data", "check", str(path), workspace=tmp_path / "ws")
    assert unmapped.returncode == 2 and "--map" in unmapped.stdout
    for args in (["data", "check", str(tmp_path / "missing.jsonl")], ["data", "check", str(path), "--map", "nonsense"]):
        bad = advisor(*args, workspace=tmp_path / "ws")
        assert bad.returncode == 2 and bad.stderr.startswith("error:") and "Traceback" not in bad.stderr


def test_split_prints_version_and_is_reproducible(tmp_path, sample_pairs):
    ws = tmp_path / "ws"
    first = advisor("data", "split", str(sample_pairs), "--seed", "5", workspace=ws)
    assert first.returncode == 0, first.stderr
    version = first.stdout.splitlines()[0].strip()
    assert len(version) == 16 and (ws / "splits" / version / "manifest.json").is_file()
    again = advisor("data", "split", str(sample_pairs), "--seed", "5", "--format", "json", workspace=ws)
    assert json.loads(again.stdout)["version"] == version
    other = advisor("data", "split", str(sample_pairs), "--seed", "6", "--fractions", "0.7,0.15,0.15", workspace=ws)
    assert other.returncode == 0 and other.stdout.splitlines()[0] != version
    listing = advisor("data", "splits", "--format", "json", workspace=ws)
    assert {item["version"] for item in json.loads(listing.stdout)} == {version, other.stdout.splitlines()[0]}
    bad = advisor("data", "split", str(sample_pairs), "--seed", "5", "--fractions", "0.5,0.1", workspace=ws)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    bad = advisor("data", "split", str(sample_pairs), "--seed", "5", "--fractions", "0.5,0.1,0.1", workspace=ws)
    assert bad.returncode == 2 and "sum to 1" in bad.stderr


def test_split_refuses_invalid_data(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"input": "a", "output": "b"}\n{"input": "c"}\n', encoding="utf-8")
    out = advisor("data", "split", str(path), "--seed", "1", workspace=tmp_path / "ws")
    assert out.returncode == 2 and "line 2" in out.stderr and "Traceback" not in out.stderr


def test_import_tldr(tmp_path, sample_pages):
    ws = tmp_path / "ws"
    out = advisor("data", "import-tldr", str(sample_pages), "--name", "devops", "--format", "json", workspace=ws)
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["pairs"] == 684 and (ws / "datasets" / "devops" / "pairs.jsonl").is_file()
    plain = tmp_path / "plain.jsonl"
    plain.write_text('{"input": "a", "output": "b"}\n', encoding="utf-8")
    refused = advisor("data", "import-tldr", str(plain), workspace=ws)
    assert refused.returncode == 2 and "not tldr" in refused.stderr
    unsafe = advisor("data", "import-tldr", str(sample_pages), "--name", "../escape", workspace=ws)
    assert unsafe.returncode == 2 and "Traceback" not in unsafe.stderr


def _tickets(tmp_path: Path) -> Path:
    path = tmp_path / "tickets.jsonl"
    labels = ["billing", "outage", "feature request"]
    path.write_text("".join(json.dumps({"input": f"ticket number {i} text", "output": labels[i % 3]}) + "\n" for i in range(60)))
    return path


def test_check_and_split_show_the_task_kind_with_evidence_and_take_overrides(tmp_path):
    path = _tickets(tmp_path)
    out = advisor("data", "check", str(path), workspace=tmp_path / "ws")
    assert out.returncode == 0, out.stderr
    assert "task kind: classification (inferred: 3 distinct outputs over 60 pairs" in out.stdout
    assert "labels: billing, outage, feature request" in out.stdout
    js = json.loads(advisor("data", "check", str(path), "--task", "text", "--format", "json", workspace=tmp_path / "ws").stdout)
    assert js["task"]["kind"] == "text" and js["task"]["source"] == "given"
    split = advisor("data", "split", str(path), "--seed", "1", "--labels", "billing,outage,feature request,other",
                    "--format", "json", workspace=tmp_path / "ws")
    assert split.returncode == 0, split.stderr
    task = json.loads(split.stdout)["task"]
    assert task["kind"] == "classification" and task["labels"][-1] == "other" and task["source"] == "given"
    listing = advisor("data", "splits", workspace=tmp_path / "ws")
    assert "classification" in listing.stdout
    bad = advisor("data", "check", str(path), "--task", "regression", workspace=tmp_path / "ws")
    assert bad.returncode == 2 and "invalid choice" in bad.stderr


def test_check_guesses_the_mapping_of_common_column_names_and_it_works(tmp_path):
    path = tmp_path / "tickets.csv"
    path.write_text("text,label\n" + "".join(f'"ticket {i} about the printer",hardware\n' for i in range(5)), encoding="utf-8")
    out = advisor("data", "check", str(path), workspace=tmp_path / "ws")
    assert out.returncode == 2 and "hint: run it again with --map input=text,output=label" in out.stdout, out.stdout
    again = advisor("data", "check", str(path), "--map", "input=text,output=label", workspace=tmp_path / "ws")
    assert again.returncode == 0, again.stdout + again.stderr
    assert "5 valid pairs" in again.stdout
