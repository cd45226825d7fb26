"""What a trial hands on: always a typed run record; rows stored by older versions still ingest;
parameter aliases come from one table per config."""

from __future__ import annotations

import math
import types
from pathlib import Path

import pytest

from core.errors import SweepError
from studies.results.leaderboard import Leaderboard
from studies.results.records import RunRecord, trial_run_id
from studies.sweeps.config import ATTR_RESULT, SweepConfig
from studies.sweeps.ingest import ingest_study, stored_record
from studies.sweeps.study import create_or_resume, load_study
from studies.sweeps.worker import run_worker


def _synthetic(name: str, **changes) -> SweepConfig:
    values = dict(name=name, objective="synthetic", n_trials=2, heartbeat_interval=1, n_startup_trials=2, pruner="none",
                  base={"steps": 2, "step_seconds": 0.0})
    values.update(changes)
    return SweepConfig(**values)


def test_workers_store_run_records_and_ingest_reads_them_back(workspace):
    url = workspace.optuna_url
    config = _synthetic("typed")
    create_or_resume(config, url)
    run_worker(url, config.name, workspace)
    study, _ = load_study(url, config.name, heartbeat=False)
    for trial in study.trials:
        stored = RunRecord.from_dict(trial.user_attrs[ATTR_RESULT])
        assert stored.run_id == trial_run_id("typed", trial.number) and stored.study == "typed" and stored.trial == trial.number
        assert stored.metrics["val_loss"]["mean"] == pytest.approx(trial.value)
    assert ingest_study(workspace, url, config.name).added == 2


# What workers stored before trial results were typed (a sweep resumed after the upgrade still ingests).
_EVALUATED = RunRecord(run_id="lora-20260101-000000-abcdef", kind="lora", system="lora:old-t0", split_part="validation",
                       metrics={"chrf": {"mean": 0.6, "low": 0.5, "high": 0.7, "n": 3}}).to_dict()
OLD_PAYLOADS = [
    # LoRA, evaluated: the evaluation's row, training tokens and adapter from the outcome.
    {"kind": "lora", "system": "old-t0", "config": {"model": "m", "method": "lora", "rank": 4}, "adapter_dir": "/ws/adapters/old-t0",
     "train_record": {"tokens_seen": 999, "train_loss_history": [1.0]}, "metrics": {"val_loss": 1.5, "chrf": 0.6},
     "evaluation": {"scores": {"chrf": {"mean": 0.6}}, "record": _EVALUATED}},
    # LoRA with evaluation off: plain metrics become scores without an interval.
    {"kind": "lora", "system": "old-t1", "config": {"model": "m", "method": "dora"}, "adapter_dir": "/ws/adapters/old-t1",
     "train_record": {"tokens_seen": 500}, "metrics": {"val_loss": 1.7, "flag": True}},
    # RAG, evaluated.
    {"kind": "rag", "system": "rag:idx", "config": {"k": 3}, "metrics": {"chrf": 0.6}, "evaluation": {"record": {**_EVALUATED, "kind": "rag"}}},
    # Synthetic: already a run record (under another run id: the trial's id wins).
    RunRecord(run_id="x", kind="synthetic", metrics={"val_loss": {"mean": 1.0, "low": 1.0, "high": 1.0, "n": 1}}).to_dict(),
]


def test_results_stored_before_the_upgrade_still_ingest(workspace):
    import optuna

    url = workspace.optuna_url
    study = create_or_resume(_synthetic("old"), url)
    for i, payload in enumerate(OLD_PAYLOADS):
        study.add_trial(optuna.trial.create_trial(value=float(i), user_attrs={ATTR_RESULT: payload}))
    assert ingest_study(workspace, url, "old").added == 4
    rows = {r["trial"]: r for r in Leaderboard(workspace).history("old")}
    assert [rows[i]["run_id"] for i in range(4)] == [trial_run_id("old", i) for i in range(4)]
    assert rows[0]["kind"] == "lora" and rows[0]["train_tokens"] == 999 and rows[0]["metrics"]["chrf"]["mean"] == 0.6
    assert rows[0]["artifacts"]["adapter_dir"] == "/ws/adapters/old-t0" and rows[0]["split_part"] == "validation"
    assert rows[1]["metrics"] == {"val_loss": {"mean": 1.7, "low": None, "high": None, "n": None}}
    assert rows[1]["method"] == "dora" and rows[1]["train_tokens"] == 500 and rows[1]["base_model"] == "m"
    assert rows[2]["kind"] == "rag" and rows[3]["kind"] == "synthetic"
    assert ingest_study(workspace, url, "old").added == 0
    with pytest.raises(SweepError, match="Trial 7 of sweep old stored a list"):
        stored_record("old", 7, ["not", "a", "record"])


class _DictObjective:
    """A custom objective written against the old contract (a plain dict as its result)."""

    name = "dict"

    def default_space(self):
        return {"x": [1]}

    def run(self, run):
        from studies.sweeps.trials import TrialOutcome

        return TrialOutcome(value=1.0, result={"kind": "custom", "metrics": {"score": 1.0}})


def dict_objective():
    return _DictObjective()


def test_an_objective_returning_something_else_fails_its_trial_with_the_reason(workspace):
    url = workspace.optuna_url
    config = _synthetic("dicts", objective=f"{__name__}:dict_objective", n_trials=1)
    create_or_resume(config, url)
    run_worker(url, config.name, workspace)
    study, _ = load_study(url, config.name, heartbeat=False)
    trial = study.trials[0]
    assert trial.state.name == "FAIL" and "return a studies.results.records.RunRecord" in trial.user_attrs["fail_reason"]
    assert ATTR_RESULT not in trial.user_attrs


def _lora_run(workspace, evaluate: bool = False):
    config = SweepConfig(name="s", objective="lora", evaluate=evaluate, base={"model": "m", "max_steps": 4, "eval_every": 2})
    return types.SimpleNamespace(config=config, params={"lr": 1e-3, "r": 4}, overrides={}, check_feasible=lambda c: None,
                                 study_name="s", number=2, reports=[], tokens=0, workspace=workspace)


def _fake_training(monkeypatch, best_eval_loss, n_val=4, n_val_dropped=0):
    """Stand-ins for data loading and training: what a run whose validation examples were all cut reports."""
    import studies.sweeps.objectives.lora as lora
    import tuning.train
    from tuning.batches import EncodeReport
    from tuning.record import BaseModelRef, TrainRecord, TrainResult

    seen = {}

    def train(config, train_examples, val_examples, workspace, name, on_eval=None, **_):
        seen["config"] = config
        record = TrainRecord(
            name=name, kind="adapter", config=config, data_version=None, base_model=BaseModelRef("m", None), device="cpu", precision="fp32",
            attention="eager", threads=1, torch="x", train_data=EncodeReport(examples=8), validation_data=EncodeReport(examples=n_val, dropped=n_val_dropped),
            steps=4, total_steps=4, steps_per_epoch=2, epochs_completed=2.0, tokens_seen=640, loss_tokens_seen=100, slots_seen=700,
            padding_fraction=0.1, tokens_per_s=1.0, train_seconds=1.0, wall_seconds=1.0, peak_memory_mb=1.0, trainable_params=1, total_params=2,
            final_train_loss=1.0, first_train_loss=2.0, final_eval_loss=best_eval_loss, best_eval_loss=best_eval_loss, best_step=None,
            weights_from_step=4, stopped_early=False, resumed_from=[], eval_history=[], train_loss_history=[], adapter_dir="/ws/adapters/" + name,
            finished_at="now",
        )
        return TrainResult(adapter_dir=Path("/ws/adapters") / name, record=record)

    monkeypatch.setattr(tuning.train, "train", train)
    monkeypatch.setattr(lora, "load_examples", lambda run: (["t"], ["v"], None))
    return seen


def test_a_lora_trial_without_a_validation_loss_is_a_sweep_error(monkeypatch, workspace):
    # All validation examples cut at max_length: no evaluation ran, best_eval_loss is None (this was float(None): a TypeError).
    from studies.sweeps.objectives.lora import LoraObjective

    _fake_training(monkeypatch, best_eval_loss=None, n_val=4, n_val_dropped=4)
    with pytest.raises(SweepError, match="without a validation loss .4 validation examples given, 4 dropped"):
        LoraObjective().run(_lora_run(workspace))


def test_a_lora_trial_without_evaluation_is_a_validation_row(monkeypatch, workspace):
    from studies.sweeps.objectives.lora import LoraObjective

    seen = _fake_training(monkeypatch, best_eval_loss=1.25)
    outcome = LoraObjective().run(_lora_run(workspace))
    assert seen["config"].learning_rate == 1e-3 and seen["config"].rank == 4  # aliases lr, r
    assert outcome.value == 1.25 and outcome.tokens == 640 and math.isclose(outcome.metrics["val_loss"], 1.25)
    row = outcome.result
    assert isinstance(row, RunRecord) and row.run_id == trial_run_id("s", 2) and row.kind == "lora" and row.method == "lora"
    assert row.split_part == "validation" and row.train_tokens == 640 and row.artifacts == {"adapter_dir": "/ws/adapters/s-t2"}
    assert row.metrics["val_loss"]["mean"] == 1.25 and row.config["rank"] == 4


def test_one_alias_table_per_config():
    from advisor.estimate import setup_from_config
    from rag.config import RAG_ALIASES
    from studies.sweeps.objectives.lora import train_config_for
    from studies.sweeps.objectives.rag import rag_config_for
    from tuning.config import TRAIN_ALIASES

    aliased = {"lr": 1e-3, "r": 8, "lora_alpha": 16, "batch_size": 2, "seq_len": 128, "base_model": "smollm2"}
    canonical = {TRAIN_ALIASES[k]: v for k, v in aliased.items()}
    assert train_config_for(aliased, {}) == train_config_for(canonical, {})
    assert setup_from_config(aliased) == setup_from_config(canonical) == setup_from_config(train_config_for(aliased, {}))
    assert setup_from_config(aliased).rank == 8 and setup_from_config(aliased).seq_len == 128
    rag = rag_config_for({"corpus": "pages.jsonl", "top_k": 5}, {"overlap": 16, "prompt_template": "page"})
    assert (rag.k, rag.chunk_overlap, rag.prompt_style) == (5, 16, "page") and set(RAG_ALIASES.values()) <= set(type(rag).__dataclass_fields__)


def test_sweep_data_is_typed_and_the_stored_form_still_loads():
    from core.errors import ConfigError
    from studies.sweeps.config import SweepData

    stored_before = {"name": "s", "objective": "lora", "data": {"dataset": "pairs.jsonl", "seed": 1, "train_limit": 24}}
    config = SweepConfig.from_dict(stored_before)
    assert config.data == SweepData(dataset="pairs.jsonl", seed=1, train_limit=24)
    assert SweepConfig.from_dict(config.to_dict()) == config
    assert SweepConfig(name="s", data={"split": "abc"}).data.split == "abc"  # callers that pass the mapping form
    with pytest.raises(ConfigError, match="unknown field `path`"):
        SweepConfig.from_dict({"name": "s", "data": {"path": "pairs.jsonl"}})
    with pytest.raises(ConfigError, match="train_limit >= 1"):
        SweepConfig.from_dict({"name": "s", "data": {"dataset": "p", "train_limit": 0}})


@pytest.mark.parametrize(("objective", "base", "message"), [
    ("lora", {"learning_rat": 1e-3}, "TrainConfig does not have: learning_rat"),
    ("rag", {"corpus": "pages.jsonl", "chunk_sise": 64}, "RagConfig does not have: chunk_sise"),
    ("rag", {"corpus": 3}, "`corpus` has the wrong type"),
    ("synthetic", {"steps": "many"}, "`steps` must be an integer"),
])
def test_a_base_the_objective_cannot_read_is_refused_when_the_sweep_starts(workspace, objective, base, message):
    config = SweepConfig(name="bad-base", objective=objective, base=base)
    with pytest.raises(SweepError, match=message):
        create_or_resume(config, workspace.optuna_url)
    assert create_or_resume(SweepConfig(name="good-base", objective="lora", base={"lr": 1e-3, "alpha_ratio": 2, "model": "m"}),
                            workspace.optuna_url)
