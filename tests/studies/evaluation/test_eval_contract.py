"""The evaluation contract with stand-in systems: predictions stored, intervals, refusals, comparisons."""

from __future__ import annotations

import json
import types

import pytest

from core.errors import EvaluationError
from studies.evaluation import metrics as metric_registry
from studies.evaluation.contract import compare, evaluate, read_predictions
from studies.results.leaderboard import Leaderboard
from studies.results.records import trial_run_id
from studies.evaluation.systems import Prediction, System
from tuning.generate import GenerationSettings

FAST = ["exact_match", "token_f1", "chrf", "command_program", "command_flags"]


@pytest.fixture(scope="module")
def split(sample_pairs):
    from studies.data.datasets import load_pairs
    from studies.data.splits import make_split

    return make_split(load_pairs(sample_pairs), seed=0)


class Oracle:
    """Answers right on every ``every``-th item (wrapped in prose), else a wrong command."""

    kind = "oracle"

    def __init__(self, split, every=2, trained=None, name="oracle"):
        self.answers = {p.input: p.output for p in split.test + split.validation}
        self.every, self.trained, self.name = every, trained, name
        self.calls = 0

    def config(self):
        return {"base_model": "none", "method": "oracle", "every": self.every}

    def trained_on(self):
        return self.trained

    def predict(self, inputs, settings):
        out = []
        for q in inputs:
            self.calls += 1
            right = self.calls % self.every == 0
            out.append(Prediction(f"Sure:\n```bash\n{self.answers[q]}\n```" if right else "Use `rm -rf /tmp/x` maybe", 0.01, 10, 5))
        return out


def test_oracle_is_a_system(split):
    assert isinstance(Oracle(split), System)


def test_evaluate_stores_predictions_scores_and_a_row(split, workspace):
    system = Oracle(split)
    result = evaluate(system, split, workspace, GenerationSettings(max_new_tokens=8), metrics=FAST)
    n = len(split.test)
    assert result.n == n and result.part == "test" and result.split_version == split.version
    em = result.scores["exact_match"]
    assert em.mean == pytest.approx(sum(1 for i in range(n) if (i + 1) % 2 == 0) / n)
    assert em.low < em.mean < em.high
    rows = read_predictions(workspace, result.run_id)
    assert len(rows) == n
    first, second = rows[0], rows[1]
    assert first["answer"] == "rm -rf /tmp/x" and first["extraction"] == "inline" and first["raw"].startswith("Use")
    assert second["answer"] == second["reference"] and second["extraction"] == "fenced"
    assert second["metrics"]["exact_match"] == 1.0 and set(second["metrics"]) == set(FAST)
    assert {r["item_id"] for r in rows} == {p.id for p in split.test}
    run_json = json.loads((workspace.dir("runs") / result.run_id / "run.json").read_text())
    assert run_json["metrics"]["exact_match"]["mean"] == em.mean

    row = Leaderboard(workspace).get(result.run_id)
    assert row["kind"] == "oracle" and row["split_version"] == split.version and row["dataset_version"] == split.dataset_hash
    assert row["metrics"]["chrf"]["low"] <= row["metrics"]["chrf"]["mean"] <= row["metrics"]["chrf"]["high"]
    assert row["latency_s"] == pytest.approx(0.01) and row["eval_tokens"] == 15 * n and row["cpu_hours"] > 0
    assert row["config"]["generation"]["max_new_tokens"] == 8 and row["code_version"]
    assert "torch" in row["environment"]["libraries"]
    assert result.recorded and json.loads(json.dumps(result.to_dict()))["scores"]["exact_match"]["mean"] == em.mean


def test_no_record_and_trial_run_ids(split, workspace):
    result = evaluate(Oracle(split), split, workspace, metrics=FAST, record=False, study="sw", trial=3, part="validation", limit=5)
    assert result.run_id == trial_run_id("sw", 3) and result.n == 5 and not result.recorded
    assert Leaderboard(workspace).count() == 0
    assert result.record.study == "sw" and result.record.trial == 3 and Leaderboard(workspace).record(result.record)
    assert Leaderboard(workspace).get(result.run_id)["split_part"] == "validation"


def test_progress_starts_at_zero_and_ends_at_the_item_count(split, workspace):
    # A CLI bar created at the first report after a whole chunk showed "64 items in 0 s, 6,710,886 item/s".
    seen = []
    evaluate(Oracle(split), split, workspace, metrics=FAST, record=False, progress=lambda done, total: seen.append((done, total)))
    n = len(split.test)
    assert seen[0] == (0, n) and seen[-1] == (n, n) and [d for d, _ in seen] == sorted(d for d, _ in seen)


def test_the_generation_limit_fits_the_training_answers():
    # A fixed 64 tokens cut ~220-character JSON answers mid-object: no structured answer parsed (#16).
    from studies.evaluation.contract import settings_for
    from studies.evaluation.tasks import MAX_ANSWER_TOKENS, answer_token_budget

    assert answer_token_budget(["ls -la"] * 100, 64) == 64  # short answers keep the default
    assert answer_token_budget(["x" * 220] * 99 + ["x" * 5000], 64) == 220 // 2 + 16  # the 99th percentile, not the outlier
    assert answer_token_budget(["x" * 9000] * 10, 64) == MAX_ANSWER_TOKENS and answer_token_budget([], 64) == 64
    split = types.SimpleNamespace(train=[types.SimpleNamespace(output='{"name": "' + "a" * 200 + '"}')] * 10)
    assert settings_for(split).max_new_tokens == 122
    assert settings_for(split, max_new_tokens=8, batch_size=None).max_new_tokens == 8  # the caller's value wins


def test_refuses_training_overlap_and_other_split_versions(split, workspace):
    leaky = Oracle(split, trained=(split.version, split.groups("train") | set(list(split.groups("test"))[:1])))
    with pytest.raises(EvaluationError, match="memorisation"):
        evaluate(leaky, split, workspace, metrics=FAST)
    other = Oracle(split, trained=("0123456789abcdef", split.groups("train")))
    with pytest.raises(EvaluationError, match="was trained on split 0123456789abcdef"):
        evaluate(other, split, workspace, metrics=FAST)
    with pytest.raises(EvaluationError, match="train part"):
        evaluate(Oracle(split), split, workspace, metrics=FAST, part="train")
    with pytest.raises(EvaluationError, match="Unknown metric"):
        evaluate(Oracle(split), split, workspace, metrics=["nope"])
    assert leaky.calls == other.calls == 0  # refused before generating anything
    clean = Oracle(split, trained=(split.version, split.groups("train")))
    assert evaluate(clean, split, workspace, metrics=FAST, record=False).n == len(split.test)


def test_extra_metrics_and_skipped_metrics_are_recorded(split, workspace, monkeypatch):
    monkeypatch.setattr(metric_registry, "_EMBEDDER", None)

    def broken(spec=None, device="cpu"):
        raise OSError("no embedder in this test")

    monkeypatch.setattr("rag.embedder.load_embedder", broken)
    result = evaluate(Oracle(split), split, workspace, metrics=["exact_match"], extra_metrics=["embedding_similarity", "rouge_l"])
    assert set(result.scores) == {"exact_match", "rouge_l"}
    assert "no embedder" in result.skipped_metrics["embedding_similarity"]
    assert "no embedder" in Leaderboard(workspace).get(result.run_id)["skipped_metrics"]["embedding_similarity"]


def test_a_system_that_drops_answers_is_refused(split, workspace):
    class Lossy(Oracle):
        def predict(self, inputs, settings):
            return super().predict(inputs, settings)[:-1]

    with pytest.raises(EvaluationError, match="must answer every input"):
        evaluate(Lossy(split), split, workspace, metrics=FAST)


def test_compare_two_runs_on_the_same_items(split, workspace):
    good = evaluate(Oracle(split, every=1, name="good"), split, workspace, metrics=FAST)
    half = evaluate(Oracle(split, every=2, name="half"), split, workspace, metrics=FAST)
    cmp = compare(workspace, good.run_id, half.run_id)
    assert cmp["exact_match"].test == "mcnemar-exact" and cmp["exact_match"].verdict == "a better"
    assert cmp["chrf"].test == "permutation"
    assert cmp["exact_match"].difference.mean == pytest.approx(good.scores["exact_match"].mean - half.scores["exact_match"].mean)
    partial = evaluate(Oracle(split), split, workspace, metrics=FAST, limit=3)
    with pytest.raises(EvaluationError, match="different items"):
        compare(workspace, good.run_id, partial.run_id)


def test_prompts_cut_at_max_prompt_tokens_are_counted_and_reported(split, workspace, caplog):
    class LongPrompts(Oracle):
        def predict(self, inputs, settings):
            out = super().predict(inputs, settings)
            for i, p in enumerate(out):
                p.truncated_prompt = i % 3 == 0
            return out

    with caplog.at_level("WARNING"):
        result = evaluate(LongPrompts(split, name="long"), split, workspace, metrics=FAST, record=False)
    rows = read_predictions(workspace, result.run_id)
    assert result.prompts_cut == sum(r["truncated_prompt"] for r in rows) > 0
    assert 0 < result.prompts_cut < len(split.test)
    assert result.record.config["prompts_cut"] == result.prompts_cut and result.to_dict()["prompts_cut"] == result.prompts_cut
    assert "max_prompt_tokens" in caplog.text and f"{result.prompts_cut} of {len(split.test)}" in caplog.text


class Labeller:
    """Answers a fixed label per input (a prompted classifier stand-in); records the task it was given."""

    kind = "base"
    name = "labeller"

    def __init__(self, answers):
        self.answers, self.task = answers, None

    def use_task(self, task):
        self.task = task

    def config(self):
        return {"base_model": "none", "method": "prompt"}

    def trained_on(self):
        return None

    def predict(self, inputs, settings):
        return [Prediction(self.answers.get(q, "I'm sorry for any confusion"), 0.01, 10, 2) for q in inputs]


def _classification_split():
    from studies.data.datasets import Pair
    from studies.data.splits import FrozenSplit

    labels = ["red", "green", "blue"]
    train = [Pair(f"t{i}", f"train item {i}", labels[i % 3]) for i in range(30)]
    test = [Pair(f"x{i}", f"test item {i}", labels[i % 3]) for i in range(9)]
    return FrozenSplit("cls0000000000000", "colours", "hash", 0, train, [], test)


def test_a_classification_split_gets_its_kind_metrics_report_and_cap(workspace):
    split = _classification_split()
    assert split.task.kind == "classification"
    answers = {p.input: (p.output if i < 6 else "Blue.") for i, p in enumerate(split.test)}
    answers[split.test[0].input] = "nonsense"
    system = Labeller(answers)
    result = evaluate(system, split, workspace, GenerationSettings(max_new_tokens=4), limit=8)
    assert system.task is split.task
    assert result.primary == "accuracy" and list(result.scores) == ["accuracy"]
    assert result.n == 8 and result.available == 9
    # items 1..5 right, item 0 no label, items 6, 7 answer blue (refs red, green): 5 of 8
    assert result.scores["accuracy"].mean == pytest.approx(5 / 8)
    assert result.report["non_label_answers"] == 1
    row = Leaderboard(workspace).get(result.run_id)
    assert row["task"] == "classification" and row["dataset_name"] == "colours" and row["n_items"] == 8
    assert "macro_f1" in row["metrics"] and row["config"]["items_available"] == 9 and row["config"]["primary_metric"] == "accuracy"
    assert Leaderboard(workspace).runs(task="classification", split_part="test")[0]["run_id"] == result.run_id
    assert Leaderboard(workspace).runs(task="command") == []
