"""Example retrieval (rag-examples): nearest training pairs, leakage-free and group-aware, vote and few-shot."""

from __future__ import annotations

import pytest

from studies.data.datasets import Pair
from studies.data.splits import FrozenSplit
from studies.evaluation.contract import evaluate, read_predictions
from studies.evaluation.example_systems import ExampleRagSystem, _vote
from studies.evaluation.specs import make_system
from tests.rag_fakes import FakeEncoder
from tuning.generate import GenerationSettings

TOPICS = {
    "fruit": ["apple banana", "pear plum", "grape melon", "cherry peach"],
    "vehicle": ["car truck", "bus train", "bike scooter", "plane boat"],
    "colour": ["red blue", "green yellow", "purple orange", "black white"],
}


def _split(extra_train=()):
    train, test = [], []
    for label, words in TOPICS.items():
        for i, w in enumerate(words):
            for j in range(3):
                train.append(Pair(f"{label}-{i}-{j}", f"{w} item {j}", label, group=f"{label}-{i}"))
        test.append(Pair(f"test-{label}", f"{words[0]} question", label, group=f"test-{label}"))
    return FrozenSplit("ex00000000000000", "topics", "h", 0, train + list(extra_train), [], test)


def test_the_vote_of_the_nearest_training_pairs(workspace):
    split = _split()
    assert split.task.kind == "classification"
    system = make_system("rag-examples:vote", workspace, encoder=FakeEncoder())
    result = evaluate(system, split, workspace)
    assert result.record.kind == "rag-examples" and result.record.system == "rag-examples:vote"
    assert result.scores["accuracy"].mean == 1.0
    rows = read_predictions(workspace, result.run_id)
    train_ids = {p.id for p in split.train}
    assert all(len(r["context"]) == 4 and {c["doc_id"] for c in r["context"]} <= train_ids for r in rows)
    assert "training pairs" in result.record.config["leakage_control"]
    assert _vote([Pair("a", "x", "b"), Pair("b", "y", "c"), Pair("c", "z", "c")]) == "c"
    assert _vote([Pair("a", "x", "b"), Pair("b", "y", "c")]) == "b"  # tie: the nearest


def test_a_test_item_never_retrieves_itself_or_its_group(workspace):
    # pairs that break the split on purpose: same group as a test item, and the very same input in another group
    leaks = [Pair("leak-group", "apple banana question twin", "vehicle", group="test-fruit"),
             Pair("leak-input", "apple banana question", "vehicle", group="elsewhere")]
    split = _split(leaks)
    system = ExampleRagSystem(workspace, encoder=FakeEncoder(), vote=True, k=8)
    result = evaluate(system, split, workspace)
    for row in read_predictions(workspace, result.run_id):
        ids = {c["doc_id"] for c in row["context"]}
        assert "leak-group" not in ids and "leak-input" not in ids, row["item_id"]
    # without the block, the twin would be the nearest neighbour of the fruit test item
    hits, _ = system.pipeline.retrieve(["apple banana question"], k=3)
    assert {h.doc_id for h in hits[0]} & {"leak-group", "leak-input"}


def test_few_shot_examples_with_label_scoring_on_the_tiny_model(workspace, tiny_model_dir):
    split = _split()
    system = make_system("rag-examples", workspace, encoder=FakeEncoder(), model=str(tiny_model_dir), device="cpu")
    result = evaluate(system, split, workspace, GenerationSettings(max_new_tokens=4))
    assert result.record.config["decoding"] == "labels" and result.report["non_label_answers"] == 0
    conv = system.conversation("q", [split.train[0], split.train[5]], "sys")
    assert conv[0] == {"role": "system", "content": "sys"} and conv[-1] == {"role": "user", "content": "q"}
    assert conv[-3]["content"] == split.train[0].input and conv[-2]["content"] == split.train[0].output  # nearest last


def test_bad_specs_are_refused(workspace):
    from core.errors import EvaluationError

    with pytest.raises(EvaluationError, match="rag-examples"):
        make_system("rag-examples:nope", workspace)
    with pytest.raises(EvaluationError, match="needs a split"):
        ExampleRagSystem(workspace).neighbours(["x"])
