"""The experiment plan: made from answers, round-tripped through YAML, refused when it cannot fit."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from advisor.plan import Plan, load_plan, make_plan, plan_from_dict
from core.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]

ANSWERS = {
    "use_case": "turn requests into shell commands",
    "change": ["knowledge", "task_skill"],
    "knowledge_change_rate": "weekly",
    "citations_required": False,
    "knowledge_base_size": "medium",
    "labelled_pairs": "1k_10k",
    "labelling_capacity": "some",
    "output_format": "strict",
    "metric": "automatic",
    "prompting_result": "partial",
    "error_cost": "high",
    "privacy": "on_prem",
    "gpus": "consumer",
    "training_budget": "small",
    "team_experience": "some",
    "model_size": "8B",
}


def test_plan_round_trip(tmp_path, sample_pairs, sample_pages):
    plan = make_plan(ANSWERS, dataset=str(sample_pairs), corpus=str(sample_pages), name="cmds")
    assert plan.recommendation == "rag+fine-tune" and plan.method == "lora"
    assert plan.models[0] == "smollm2" and plan.models[-1] == "8B"  # small first
    assert plan.device == "rtx4090"
    assert plan.data.dataset == str(sample_pairs) and plan.data.split_seed == 0 and plan.data.corpus == str(sample_pages)
    assert plan.rag.enabled and plan.lora.enabled
    for key in ("learning_rate", "rank", "alpha_ratio", "dropout", "target_modules", "dora", "max_steps", "micro_batch_size", "grad_accumulation"):
        assert key in plan.lora.space, key
    assert plan.lora.base["max_length"] >= 128
    assert plan.budget.trials >= 1 and plan.budget.max_wall_minutes
    assert plan.primary_metric == "chrf" and "command_program" in plan.metrics and "exact_match" in plan.metrics
    assert plan.acceptance["chrf"] == 0.7 and plan.acceptance["exact_match"] == 0.35  # costly errors: a higher bar
    assert plan.human_review is True and plan.thresholds == plan.acceptance
    path = plan.save(tmp_path / "plan.yaml")
    text = path.read_text()
    assert text.startswith("# Experiment plan") and "advisor sweep start --plan" in text.splitlines()[1]
    loaded = load_plan(path)
    assert loaded == plan
    assert isinstance(loaded, Plan)


def test_plan_gives_a_valid_sweep_config(sample_pairs):
    from studies.sweeps.config import SweepConfig, SweepData

    plan = make_plan(ANSWERS, dataset=str(sample_pairs))
    lora = SweepConfig.from_dict(plan.sweep_config("lora"))
    assert lora.objective == "lora" and lora.data == SweepData(dataset=str(sample_pairs), seed=0)
    assert lora.base["model"] is None and lora.n_trials == plan.budget.trials and lora.device == "rtx4090"
    rag = SweepConfig.from_dict(plan.sweep_config("rag"))
    assert rag.objective == "rag" and "chunk_size" in rag.space
    no_data = make_plan(ANSWERS)
    with pytest.raises(ConfigError, match="no data set"):
        no_data.sweep_config()


def test_sweep_trial_configs_from_the_plan_are_train_configs(sample_pairs):
    from studies.sweeps.objectives.lora import train_config_for

    plan = make_plan(ANSWERS, dataset=str(sample_pairs))
    cfg = plan.sweep_config()
    params = {"learning_rate": 1e-4, "rank": 8, "alpha_ratio": 2.0, "dropout": 0.05, "target_modules": "all-linear",
              "dora": True, "max_steps": 200, "micro_batch_size": 4, "grad_accumulation": 2}
    train = train_config_for(cfg["base"], params)
    assert train.method == "dora" and train.alpha == 16.0


def test_qlora_plan_for_a_big_model_on_a_small_card():
    answers = dict(ANSWERS, model_size="13B", gpu_model="rtx4090", change=["task_skill"])
    for key in ("knowledge_change_rate", "citations_required", "knowledge_base_size"):
        answers.pop(key)
    plan = make_plan(answers)
    assert plan.method == "qlora" and plan.lora.space["qlora"] == [True]
    assert plan.models == ["smollm2", "13B"]


def test_plan_refused_when_nothing_fits():
    answers = dict(ANSWERS, model_size="70B", gpus="datacentre", gpu_model="t4")
    with pytest.raises(ConfigError) as info:
        make_plan(answers)
    text = str(info.value)
    assert "Plan refused" in text and "70B" in text and "does not fit" in text


def test_edited_plan_that_no_longer_fits_is_refused_on_load(tmp_path, sample_pairs):
    plan = make_plan(ANSWERS, dataset=str(sample_pairs))
    data = plan.to_dict()
    data["models"] = ["smollm2", "70B"]
    data["device"] = "t4"
    data["lora"]["space"].pop("qlora", None)
    path = tmp_path / "plan.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError, match="Plan refused: .*70B"):
        load_plan(path)


def test_plan_validation_lists_problems():
    with pytest.raises(ConfigError) as info:
        plan_from_dict({"name": "x", "device": "abacus", "models": [], "budget": {"trials": 0}, "metrics": ["chrf"],
                        "primary_metric": "bleu", "lora": {"space": {"rank": []}}, "colour": "red"})
    text = str(info.value)
    assert "unknown field `colour`" in text
    with pytest.raises(ConfigError) as info:
        plan_from_dict({"name": "x", "device": "abacus", "models": [], "budget": {"trials": 0}, "metrics": ["chrf"],
                        "primary_metric": "bleu", "lora": {"space": {"rank": []}}})
    text = str(info.value)
    for fragment in ("Unknown device", "`models` must name", "`budget.trials >= 1`", "`primary_metric`", "`rank`"):
        assert fragment in text, fragment


def _shipped_yaml() -> list[Path]:
    found = [p for p in (ROOT / "advisor").rglob("*.yaml") if p.name != "questionnaire.yaml"]
    found += list((ROOT / "data" / "sample").glob("*.yaml"))
    found += list((ROOT / "tuning" / "recipes").glob("*.yaml"))
    return sorted(found)


@pytest.mark.parametrize("path", _shipped_yaml(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_shipped_recipe_plan_and_answers_file_loads(path, monkeypatch):
    monkeypatch.chdir(ROOT)  # shipped plans name data paths relative to the repository root
    text = path.read_text(encoding="utf-8")
    assert text.startswith("#"), f"{path} should start with a comment showing how to run it"
    data = yaml.safe_load(text)
    if path.parent.name == "recipes":
        from tuning.config import TrainConfig

        TrainConfig.load(path)
    elif "answers" in path.stem:
        from advisor.questions import load_answers

        load_answers(path)
    else:
        plan = load_plan(path)
        assert "advisor sweep start --plan" in text.splitlines()[1]
        if plan.data.dataset:
            assert (ROOT / plan.data.dataset).exists()
    assert data is not None


def test_shipped_files_include_the_example_plan_and_sample_answers():
    names = {p.name for p in _shipped_yaml()}
    assert "example_plan.yaml" in names and "answers.yaml" in names


def test_nothing_to_plan_without_pairs_or_knowledge():
    answers = dict(ANSWERS, change=["task_skill"], labelled_pairs="none", metric="none")
    for key in ("knowledge_change_rate", "citations_required", "knowledge_base_size"):
        answers.pop(key)
    with pytest.raises(ConfigError, match="Nothing to plan yet"):
        make_plan(answers)


def test_the_sweep_command_reads_the_plan(tmp_path, sample_pairs, sample_pages):
    from advisor.sweep_launch import sweep_config_from_file

    plan = make_plan(ANSWERS, dataset=str(sample_pairs), corpus=str(sample_pages), name="cmds")
    path = plan.save(tmp_path / "plan.yaml")
    lora = sweep_config_from_file(str(path))
    assert lora.objective == "lora" and lora.space == plan.lora.space and lora.n_trials == plan.budget.trials
    rag = sweep_config_from_file(str(path), objective="rag")
    assert rag.objective == "rag" and rag.space == plan.rag.space
