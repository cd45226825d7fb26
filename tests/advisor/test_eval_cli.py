"""`advisor eval`, `advisor leaderboard`, `advisor accept` / `reject`: base, LoRA and RAG rows from the CLI."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from advisor.cli import main

ROOT = Path(__file__).resolve().parents[2]
FAST = "exact_match,token_f1,chrf,command_flags"


def _cli(capsys, *argv):
    code = main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture
def stub_gate(monkeypatch):
    import studies.governance.gate

    monkeypatch.setattr(
        studies.governance.gate, "check", lambda ws, run_id, **kw: studies.governance.gate.GateVerdict(passed=True, failures=[], waivers={}, run_id=run_id)
    )


def test_base_lora_and_rag_land_as_rows_with_intervals(tmp_path, capsys, tiny_model_dir, sample_pairs, monkeypatch, stub_gate):
    from core.workspace import Workspace
    from studies.data.datasets import load_pairs
    from studies.data.splits import make_split
    from studies.evaluation.systems import record_trained_on
    from tuning.config import TrainConfig
    from tuning.train import train

    ws_dir = tmp_path / "ws"
    ws = Workspace.resolve(ws_dir).ensure()
    common = ["--data", sample_pairs, "--limit", 4, "--max-new-tokens", 6, "--metrics", FAST, "--device", "cpu"]

    code, out, err = _cli(capsys, "--workspace", ws_dir, "eval", "base", "--model", tiny_model_dir, *common)
    assert code == 0, err
    assert "chrf" in out and "[" in out and "row added" in out

    split = make_split(load_pairs(sample_pairs), seed=0)
    config = TrainConfig(model=str(tiny_model_dir), rank=4, alpha=8, max_steps=1, micro_batch_size=4, eval_every=1,
                         eval_examples=4, max_length=64, device="cpu", precision="fp32")
    result = train(config, split.train[:8], split.validation[:4], ws, "cli-adapter", data_version=split.version)
    record_trained_on(result.adapter_dir, split)
    code, out, err = _cli(capsys, "--workspace", ws_dir, "eval", "lora:cli-adapter", *common, "--format", "json")
    assert code == 0, err
    lora = json.loads(out)
    assert lora["kind"] == "lora" and lora["split_version"] == split.version

    from tests.studies.evaluation.test_eval_systems import _Pipeline  # the agreed RagPipeline interface, stood in
    import types

    module = types.ModuleType("rag.pipeline")
    module.RagPipeline = _Pipeline
    monkeypatch.setitem(sys.modules, "rag.pipeline", module)
    code, out, err = _cli(capsys, "--workspace", ws_dir, "eval", "rag:tldr", "--model", tiny_model_dir, *common)
    assert code == 0, err

    code, out, err = _cli(capsys, "--workspace", ws_dir, "leaderboard", "--format", "json")
    rows = json.loads(out)
    assert sorted(r["kind"] for r in rows) == ["base", "lora", "rag"]
    for row in rows:
        for name in FAST.split(","):
            m = row["metrics"][name]
            assert m["low"] <= m["mean"] <= m["high"] and m["n"] == 4
        assert row["split_version"] == split.version and row["status"] == "candidate"

    code, out, _ = _cli(capsys, "--workspace", ws_dir, "leaderboard", "--kind", "lora", "--format", "csv")
    table = list(csv.DictReader(io.StringIO(out)))
    assert [r["kind"] for r in table] == ["lora"] and table[0]["chrf_low"] != ""
    code, out, _ = _cli(capsys, "--workspace", ws_dir, "leaderboard")
    assert code == 0 and "rag:tldr" in out and "lora:cli-adapter" in out
    code, out, _ = _cli(capsys, "--workspace", ws_dir, "leaderboard", "--best", "--metric", "chrf", "--format", "json")
    assert sorted(r["kind"] for r in json.loads(out)) == ["base", "lora", "rag"]
    code, out, _ = _cli(capsys, "--workspace", ws_dir, "leaderboard", "--pareto", "--cost", "latency_s", "--format", "json")
    assert code == 0 and json.loads(out)
    code, out, _ = _cli(capsys, "--workspace", ws_dir, "leaderboard", "--export", tmp_path / "lb.parquet")
    assert code == 0 and (tmp_path / "lb.parquet").is_file()

    # accept the LoRA run: registry entry shows on the leaderboard
    code, out, err = _cli(capsys, "--workspace", ws_dir, "accept", lora["run_id"], "--by", "ana", "--reason", "best chrF", "--name", "cli-lora")
    assert code == 0, err
    code, out, _ = _cli(capsys, "--workspace", ws_dir, "leaderboard", "--status", "accepted", "--format", "json")
    (accepted,) = json.loads(out)
    assert accepted["registry_path"].endswith("registry/cli-lora") and accepted["status_reason"] == "best chrF"
    code, out, err = _cli(capsys, "--workspace", ws_dir, "reject", lora["run_id"], "--by", "bo", "--reason", "")
    assert code == 2 and "reason" in err
    code, out, err = _cli(capsys, "--workspace", ws_dir, "reject", lora["run_id"], "--by", "bo", "--reason", "too slow")
    assert code == 0 and "rejected" in out


def test_bad_input_exits_2_with_a_message(tmp_path, capsys, sample_pairs):
    code, _, err = _cli(capsys, "--workspace", tmp_path / "ws", "eval", "gpt5", "--data", sample_pairs)
    assert code == 2 and "Unknown system" in err
    code, _, err = _cli(capsys, "--workspace", tmp_path / "ws", "eval", "lora:missing", "--data", sample_pairs)
    assert code == 2 and "not found" in err
    code, _, err = _cli(capsys, "--workspace", tmp_path / "ws", "accept", "nope", "--by", "a", "--reason", "b")
    assert code == 2 and "No run" in err
    with pytest.raises(SystemExit) as exc:
        main(["--workspace", str(tmp_path / "ws"), "accept", "nope", "--by", "a"])
    assert exc.value.code == 2
    code, out, _ = _cli(capsys, "--workspace", tmp_path / "ws", "leaderboard")
    assert code == 0 and "no runs yet" in out
    code, out, _ = _cli(capsys, "eval", "base", "--data", "x", "--list-metrics")
    assert "command_flags" in out and "chrf" in out


def test_help_exits_0_through_a_subprocess():
    for cmd in ("eval", "leaderboard", "accept", "reject"):
        out = subprocess.run([sys.executable, "-m", "advisor", cmd, "--help"], cwd=ROOT, capture_output=True, text=True, timeout=120)
        assert out.returncode == 0 and "usage:" in out.stdout, out.stderr


@pytest.mark.slow
def test_real_smollm2_base_model_lands_on_the_leaderboard(tmp_path, sample_pairs, session_workspace):
    """The real default generator and MiniLM, from the CLI in a subprocess: a row with intervals."""
    import shutil

    from tuning.models import ensure_converted

    ws_dir = tmp_path / "ws"
    converted = ensure_converted(session_workspace)
    shutil.copytree(converted, ws_dir / "models" / converted.name)  # skip a second conversion
    run = lambda *a: subprocess.run([sys.executable, "-m", "advisor", "--workspace", str(ws_dir), *map(str, a)],  # noqa: E731
                                    cwd=ROOT, capture_output=True, text=True, timeout=900)
    out = run("eval", "base", "--data", sample_pairs, "--limit", 16, "--max-new-tokens", 32, "--format", "json")
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert "embedding_similarity" in result["scores"], result["skipped_metrics"]
    out = run("leaderboard", "--format", "json")
    (row,) = json.loads(out.stdout)
    assert row["base_model"] == "smollm2-135m-instruct" and row["n_items"] == 16
    for m in row["metrics"].values():
        assert m["low"] <= m["mean"] <= m["high"]
    assert row["metrics"]["command_program"]["mean"] > 0  # SmolLM2 names the right program at least sometimes


def test_rag_build_of_a_pairs_file_points_to_example_retrieval(tmp_path, capsys, sample_pairs):
    code, out, err = _cli(capsys, "--workspace", tmp_path / "ws", "rag", "build", "--corpus", sample_pairs)
    assert code == 2 and "rag-examples" in err and "Traceback" not in err


def test_leaderboard_shows_and_filters_task_data_set_and_part_and_best_stays_in_one_split(tmp_path, capsys):
    from core.workspace import Workspace
    from studies.results.leaderboard import Leaderboard
    from studies.results.records import RunRecord

    ws = Workspace.resolve(tmp_path / "ws").ensure()

    def run(rid, kind, dataset, split, mean, task):
        return RunRecord(run_id=rid, kind=kind, system=kind, dataset_name=dataset, split_version=split, split_part="test", task=task,
                         n_items=20, metrics={"accuracy": {"mean": mean, "low": mean - 0.1, "high": mean + 0.1, "n": 20}})

    board = Leaderboard(ws)
    board.ingest([run("old-base", "base", "docs", "s2aaaaaa", 0.9, "short_answer")])
    board.ingest([run("t-base", "base", "tickets", "s1bbbbbb", 0.3, "classification"),
                  run("t-lora", "lora", "tickets", "s1bbbbbb", 0.6, "classification")])
    code, out, err = _cli(capsys, "--workspace", ws.root, "leaderboard", "--task", "classification")
    assert code == 0 and "t-lora" in out and "old-base" not in out and "tickets" in out and "s1bbbbbb/test" in out
    table = [line for line in out.splitlines() if line.strip() and not line.startswith("runs scored on")]
    assert "accuracy" in table[0]  # the kind's primary metric is the default column (under the comparable-set heading)
    code, out, err = _cli(capsys, "--workspace", ws.root, "leaderboard", "--best", "--format", "json")
    rows = json.loads(out)
    assert {r["run_id"] for r in rows} <= {"t-base", "t-lora", "old-base"} and len({r["split_version"] for r in rows}) == 1
    assert "compares within one data set and split" in err
    code, out, err = _cli(capsys, "--workspace", ws.root, "leaderboard", "--best", "--split", "s2aaaaaa", "--metric", "accuracy",
                          "--format", "json")
    assert [r["run_id"] for r in json.loads(out)] == ["old-base"]
