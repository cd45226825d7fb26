"""Knowledge or behaviour: the oracle-context system (tiny model) and RAG's errors split by hand."""

from __future__ import annotations

import pytest

from core.errors import EvaluationError
from studies.evaluation.oracle import OracleContextSystem, error_split, gold_documents


def pred(item, value, group="p1", docs=()):
    return {"item_id": item, "group": group, "metrics": {"acc": value}, "context": [{"doc_id": d} for d in docs]}


def test_error_split_by_hand():
    # 4 items. RAG: i1 right; i2 wrong with gold retrieved (reading); i3, i4 wrong, gold missing (retrieval).
    rag = [pred("i1", 1, docs=["p1"]), pred("i2", 0, docs=["p1"]), pred("i3", 0, docs=["x"]), pred("i4", 0, docs=[])]
    oracle = [pred("i1", 1), pred("i2", 0), pred("i3", 1), pred("i4", 0)]
    base = [pred("i1", 0), pred("i2", 0), pred("i3", 0), pred("i4", 0)]
    s = error_split(rag, oracle, base, "acc")
    assert (s.items, s.rag_correct, s.retrieval_failures, s.reading_failures, s.oracle_fixes_retrieval) == (4, 1, 2, 1, 1)
    assert s.hit_rate == pytest.approx(0.5)
    assert s.scores == {"no context": 0.0, "retrieval": 0.25, "oracle": 0.5}
    assert s.fix.startswith("Fix the retriever first: 2 of 3")
    assert s.knowledge_or_behaviour.startswith("Knowledge")


def test_reading_failures_and_behaviour():
    rag = [pred(f"i{i}", 0, docs=["p1"]) for i in range(4)]
    oracle = [pred(f"i{i}", 0) for i in range(4)]
    base = [pred(f"i{i}", 0) for i in range(4)]
    s = error_split(rag, oracle, base, "acc")
    assert s.reading_failures == 4 and s.fix.startswith("Fix the generator")
    assert s.knowledge_or_behaviour.startswith("Behaviour")
    with pytest.raises(EvaluationError, match="share no items"):
        error_split(rag, [], base, "acc")
    with pytest.raises(EvaluationError, match="'f1' is not stored"):
        error_split(rag, oracle, base, "f1")


def test_oracle_run_on_the_tiny_model(workspace, sample_pairs, sample_pages, tiny_model_dir):
    """The oracle prompt holds the gold page's chunks; the run goes through the contract and stores its context."""
    from rag.config import RagConfig
    from rag.corpus import load_corpus
    from rag.index import build_index
    from studies.data.datasets import load_pairs
    from studies.data.splits import make_split
    from studies.evaluation.contract import evaluate, read_predictions
    from studies.results.leaderboard import Leaderboard
    from tests.rag_fakes import FakeEncoder
    from tuning.generate import GenerationSettings

    split = make_split(load_pairs(sample_pairs), seed=0)
    build_index(workspace, "sample", load_corpus(sample_pages), FakeEncoder(), RagConfig(chunk_size=48))
    gold = gold_documents(split.test)
    system = OracleContextSystem("sample", workspace, gold, model=str(tiny_model_dir), device="cpu", encoder=FakeEncoder())
    result = evaluate(system, split, workspace, GenerationSettings(max_new_tokens=4, batch_size=4),
                      metrics=["exact_match", "chrf"], limit=3)
    assert Leaderboard(workspace).get(result.run_id)["kind"] == "rag-oracle"
    for p in read_predictions(workspace, result.run_id):
        assert p["context"] and {c["doc_id"] for c in p["context"]} == {gold[p["input"]]}
    with pytest.raises(EvaluationError, match="no gold document"):
        OracleContextSystem("sample", workspace, {"other": "nope"}, model=str(tiny_model_dir), device="cpu",
                            encoder=FakeEncoder()).predict(["question"], GenerationSettings(max_new_tokens=2))
