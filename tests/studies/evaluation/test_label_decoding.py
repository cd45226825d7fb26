"""Label scoring through the contract on the tiny model: every answer is a label; free generation stays available."""

from __future__ import annotations

import pytest

from core.errors import EvaluationError
from studies.evaluation.contract import evaluate, read_predictions
from tuning.generate import GenerationSettings


@pytest.fixture(scope="module")
def cls_split():
    from studies.data.datasets import Pair
    from studies.data.splits import FrozenSplit

    labels = ["weather", "sports", "cooking"]
    train = [Pair(f"t{i}", f"some text about topic {i}", labels[i % 3]) for i in range(30)]
    test = [Pair(f"x{i}", f"what is this text {i} about", labels[i % 3]) for i in range(5)]
    return FrozenSplit("lbl0000000000000", "topics", "h", 0, train, [], test)


def test_base_model_scores_labels_so_every_answer_is_a_label(workspace, cls_split, tiny_model_dir):
    from studies.evaluation.systems import BaseModelSystem

    system = BaseModelSystem(workspace, str(tiny_model_dir), device="cpu")
    result = evaluate(system, cls_split, workspace, GenerationSettings(max_new_tokens=8))
    assert result.record.config["decoding"] == "labels" and result.primary == "accuracy"
    assert result.report["non_label_answers"] == 0
    rows = read_predictions(workspace, result.run_id)
    assert all(r["answer"] in cls_split.task.labels and set(r["label_scores"]) == set(cls_split.task.labels) for r in rows)
    assert "weather, sports, cooking" in result.record.config["system_prompt"]

    free = evaluate(system, cls_split, workspace, GenerationSettings(max_new_tokens=8), decoding="generate")
    assert free.record.config["decoding"] == "generate"
    assert all("label_scores" not in r for r in read_predictions(workspace, free.run_id))


def test_label_decoding_is_refused_where_it_cannot_apply(workspace, sample_pairs):
    from studies.data.datasets import load_pairs
    from studies.data.splits import make_split
    from studies.evaluation.systems import BaseModelSystem

    split = make_split(load_pairs(sample_pairs), seed=0)  # a command task
    with pytest.raises(EvaluationError, match="Label scoring needs a classification"):
        evaluate(BaseModelSystem(workspace, loaded=object()), split, workspace, decoding="labels", limit=2)
    with pytest.raises(EvaluationError, match="decoding must be one of"):
        evaluate(BaseModelSystem(workspace, loaded=object()), split, workspace, decoding="beam", limit=2)


def test_structured_tasks_stop_at_the_end_of_the_object(workspace, tiny_model_dir):
    from studies.data.datasets import Pair
    from studies.data.splits import FrozenSplit
    from studies.evaluation.systems import BaseModelSystem

    train = [Pair(f"t{i}", f"person {i}", f'{{"name": "p{i}", "age": {i}}}') for i in range(12)]
    test = [Pair(f"x{i}", f"person x{i}", f'{{"name": "x{i}", "age": {i}}}') for i in range(3)]
    split = FrozenSplit("json000000000000", "people", "h", 0, train, [], test)
    assert split.task.kind == "structured"
    result = evaluate(BaseModelSystem(workspace, str(tiny_model_dir), device="cpu"), split, workspace, GenerationSettings(max_new_tokens=6))
    assert result.record.config["generation"]["stop_after_json"] is True and result.primary == "field_f1"
    assert set(result.scores) == {"field_f1", "json_exact", "json_parse"}
    assert '"name" (string)' in result.record.config["system_prompt"]
