"""`advisor tune`: trains on the seeded split, saves the adapter, evaluates on the test split."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("torch")


def test_tune_command_trains_saves_and_evaluates(tiny_model_dir, workspace, sample_pairs, tmp_path, capsys):
    from advisor.cli import main

    data = tmp_path / "pairs.jsonl"
    data.write_text("".join(sample_pairs.read_text(encoding="utf-8").splitlines(keepends=True)[:80]), encoding="utf-8")
    recipe = tmp_path / "r.yaml"
    recipe.write_text("# advisor tune --data pairs.jsonl --config r.yaml\nmethod: lora\nrank: 4\nmicro_batch_size: 4\nmax_length: 128\neval_every: 2\n")
    code = main(["--workspace", str(workspace.root), "tune", "--data", str(data), "--config", str(recipe), "--name", "cli",
                 "--model", str(tiny_model_dir), "--max-steps", "3", "--eval-limit", "4", "--format", "json"])
    assert code == 0
    out = json.loads(capsys.readouterr().out.split("\n", 1)[1])
    assert out["steps"] == 3 and out["name"] == "cli" and "evaluation" in out and out["evaluation"]["scores"]
    assert (workspace.dir("adapters") / "cli" / "adapter_model.safetensors").is_file()
    assert (workspace.dir("adapters") / "cli" / "trained_on.json").is_file()
    assert (workspace.dir("runs") / "cli" / "record.json").is_file()


def test_tune_refuses_a_bad_recipe(workspace, sample_pairs, tmp_path, capsys):
    from advisor.cli import main

    recipe = tmp_path / "bad.yaml"
    recipe.write_text("rank: 0\ndropout: 2.0\n")
    assert main(["--workspace", str(workspace.root), "tune", "--data", str(sample_pairs), "--config", str(recipe)]) == 2
    err = capsys.readouterr().err
    assert "rank" in err and "dropout" in err
