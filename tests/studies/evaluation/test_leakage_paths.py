"""Leakage control lives in the evaluation contract: the four ways to evaluate a RAG system give the same row."""

from __future__ import annotations

import json

import pytest

from advisor.cli import main


@pytest.fixture(scope="module")
def setup(tmp_path_factory, sample_pairs, sample_pages):
    from core.workspace import Workspace
    from rag.corpus import load_corpus
    from rag.embedder import as_encoder
    from rag.index import build_index
    from studies.data.datasets import load_pairs
    from studies.data.splits import make_split, save_split

    ws = Workspace.resolve(tmp_path_factory.mktemp("ws")).ensure()
    split = make_split(load_pairs(sample_pairs), seed=0)
    save_split(ws, split)
    build_index(ws, "pages", load_corpus(sample_pages), as_encoder(None))
    return ws, split


def _rows(ws, run_id):
    from studies.evaluation.contract import read_predictions

    return [(r["item_id"], r["answer"], r["metrics"]) for r in read_predictions(ws, run_id)]


@pytest.mark.slow
def test_four_paths_give_the_same_row(setup, tiny_model_dir, sample_pairs, sample_pages, capsys, monkeypatch):
    import advisor.background
    from core.jobs import run_here
    from advisor.demo import DemoSettings, _rag
    from rag.retrieval_eval import own_examples_in_index
    from studies.results.leaderboard import Leaderboard
    from tuning.generate import GenerationSettings

    ws, split = setup
    limit = 4
    test = split.test[:limit]
    assert own_examples_in_index(ws, "pages", test), "the raw index holds the test pairs' own examples"
    common = ["--workspace", str(ws.root)]

    assert main([*common, "rag", "eval", "pages", "--data", str(sample_pairs), "--limit", str(limit), "--model", str(tiny_model_dir)]) == 0
    rag_cli = json.loads(capsys.readouterr().out)["run_id"]
    assert main([*common, "eval", "rag:pages", "--data", str(sample_pairs), "--limit", str(limit), "--model", str(tiny_model_dir),
                 "--device", "cpu", "--format", "json", "--no-progress"]) == 0
    eval_cli = json.loads(capsys.readouterr().out)["run_id"]
    monkeypatch.setattr(advisor.background, "start_job", run_here)  # the app's background job, run to the end here
    job = advisor.background.start_rag_eval(ws, "pages", split.version, limit=limit, model=str(tiny_model_dir))
    assert job.state == "done", job
    app = job.result["run_id"]
    demo, _index = _rag(ws, split, sample_pages, DemoSettings(test_limit=limit, index_name="pages", model=str(tiny_model_dir),
                                                                max_new_tokens=64), GenerationSettings(), lambda line: None)

    board = Leaderboard(ws)
    rows = {name: board.get(rid) for name, rid in {"rag eval": rag_cli, "eval rag:": eval_cli, "app": app, "demo": demo}.items()}
    reference = _rows(ws, rag_cli)
    for name, row in rows.items():
        assert _rows(ws, row["run_id"]) == reference, name
        assert row["n_items"] == limit and row["split_version"] == split.version, name
        assert row["config"]["index"].startswith("pages-eval-"), name  # every path evaluated the leakage-controlled index
        assert {k: v["mean"] for k, v in row["metrics"].items()} == {k: v["mean"] for k, v in rows["rag eval"]["metrics"].items()}, name
    assert not own_examples_in_index(ws, rows["app"]["config"]["index"], test)
