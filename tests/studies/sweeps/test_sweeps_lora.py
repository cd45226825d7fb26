"""A LoRA sweep of tiny-model trials end to end: training, pruning, evaluation, leaderboard rows."""

from __future__ import annotations

import pytest

from studies.sweeps.config import SweepConfig
from studies.sweeps.ingest import ingest_study
from studies.sweeps.status import sweep_status
from studies.sweeps.study import create_or_resume, load_study
from studies.sweeps.worker import run_worker


@pytest.fixture
def lora_sweep(workspace, tiny_model_dir, sample_pairs):
    config = SweepConfig(
        name="tiny-lora",
        objective="lora",
        n_trials=3,
        sampler="tpe",
        n_startup_trials=1,
        pruner="successive_halving",
        min_resource=2,
        reduction_factor=2,
        heartbeat_interval=2,
        space={"learning_rate": {"low": 1e-6, "high": 5e-2, "log": True}, "rank": [2, 4]},
        base={
            "model": str(tiny_model_dir),
            "max_steps": 6,
            "eval_every": 2,
            "micro_batch_size": 4,
            "max_length": 64,
            "eval_examples": 8,
            "save_every": 0,
            "warmup_ratio": 0.0,
            "lr_scheduler": "constant",
            "device": "cpu",
            "target_modules": ["q_proj", "v_proj"],
        },
        data={"dataset": str(sample_pairs), "seed": 0, "train_limit": 24, "val_limit": 8},
        eval_limit=3,
        eval_metrics=["exact_match", "token_f1"],
        generation={"max_new_tokens": 4, "batch_size": 4},
    )
    study = create_or_resume(config, workspace.optuna_url)
    # A good trial first, then a hopeless one (tiny learning rate): successive halving prunes it.
    study.enqueue_trial({"learning_rate": 5e-2, "rank": 4})
    study.enqueue_trial({"learning_rate": 1e-6, "rank": 2})
    return config


def test_tiny_lora_sweep_prunes_and_fills_the_leaderboard(workspace, lora_sweep):
    url = workspace.optuna_url
    report = run_worker(url, lora_sweep.name, workspace)
    assert report.trials == 3
    study, _ = load_study(url, lora_sweep.name, heartbeat=False)
    states = [t.state.name for t in study.trials]
    assert states[0] == "COMPLETE", study.trials[0].user_attrs
    assert states[1] == "PRUNED" and study.trials[1].user_attrs["pruned_reason"].startswith("pruner:")
    completed = [t for t in study.trials if t.state.name == "COMPLETE"]
    for t in study.trials:
        assert t.user_attrs["tokens"] > 0
        step, total = t.user_attrs["step"]  # written as it trained, not only at validation passes
        assert 1 <= step <= total
    assert completed[0].user_attrs["step"][0] == completed[0].user_attrs["step"][1]
    assert sweep_status(url, lora_sweep.name).trials[0].step == tuple(completed[0].user_attrs["step"])
    first = completed[0]
    assert first.value == pytest.approx(min(first.intermediate_values.values()))
    assert first.user_attrs["metrics"]["val_loss"] == pytest.approx(first.value)
    assert "token_f1" in first.user_attrs["metrics"]

    from studies.results.leaderboard import Leaderboard

    added = ingest_study(workspace, url, lora_sweep.name).added
    assert added == len(completed) and ingest_study(workspace, url, lora_sweep.name).added == 0
    rows = Leaderboard(workspace).history(lora_sweep.name)
    assert sorted(r["trial"] for r in rows) == [t.number for t in completed]
    assert all(r["kind"] == "lora" and r["split_part"] == "validation" and r["train_tokens"] > 0 for r in rows)


def test_infeasible_lora_config_is_not_trained(workspace, lora_sweep):
    url = workspace.optuna_url
    calls = []

    def fits(config):
        calls.append(config)
        return (config.rank <= 2, f"rank {config.rank} needs more memory than the device has")

    run_worker(url, lora_sweep.name, workspace, feasibility=fits, max_trials=1)
    study, _ = load_study(url, lora_sweep.name, heartbeat=False)
    first = study.trials[0]  # the enqueued rank-4 trial
    assert first.state.name == "PRUNED" and first.user_attrs["pruned_reason"] == "infeasible: rank 4 needs more memory than the device has"
    assert calls[0].micro_batch_size == 4 and "tokens" not in first.user_attrs
    assert not (workspace.root / "adapters" / f"{lora_sweep.name}-t0").exists()
