"""Stop ends a real (tiny-model) training trial at its next step: the trial is FAIL (interrupted), never left
RUNNING, the worker exits, and a finished sweep cannot be started again as if it ran."""

from __future__ import annotations

import time

import pytest

from core.errors import SweepError
from studies.sweeps.config import SweepConfig
from studies.sweeps.study import load_study
from tests.waiting import wait_for


def test_stop_ends_a_training_trial_within_its_next_step(workspace, tiny_model_dir, sample_pairs):
    from advisor.sweep_launch import start_sweep, stop_sweep
    from studies.sweeps.processes import local_workers, signal_workers, wait_for_exit

    config = SweepConfig(
        name="tiny-stop", objective="lora", n_trials=2, pruner="none", heartbeat_interval=2, evaluate=False,
        space={"rank": [2]},
        base={"model": str(tiny_model_dir), "max_steps": 5000, "eval_every": 0, "micro_batch_size": 2,
              "max_length": 64, "save_every": 0, "warmup_ratio": 0.0, "lr_scheduler": "constant", "device": "cpu",
              "target_modules": ["q_proj", "v_proj"]},
        data={"dataset": str(sample_pairs), "seed": 0, "train_limit": 16, "val_limit": 4},
    )
    start_sweep(workspace, config, workers=1)
    url = workspace.optuna_url
    try:
        study, _ = load_study(url, config.name, heartbeat=False)
        wait_for(lambda: [t for t in study.get_trials(deepcopy=False) if t.state.name == "RUNNING"], 120,
              "a training trial to start")
        time.sleep(8)  # loaded and training, well inside its 5000 steps (the tiny model takes milliseconds per step)
        stopped = time.monotonic()
        stop_sweep(workspace, config.name)
        trial = wait_for(lambda: next((t for t in study.get_trials(deepcopy=False) if t.state.name != "RUNNING"), None),
                      30, "the trial to end after Stop")
        took = time.monotonic() - stopped
        assert trial.state.name in ("FAIL", "PRUNED"), trial.state
        assert str(trial.user_attrs.get("fail_reason", "")).startswith("interrupted"), trial.user_attrs
        assert wait_for_exit(workspace, config.name, 30), "the worker exits after the stop"
        assert not [t for t in study.get_trials(deepcopy=False) if t.state.name == "RUNNING"]
        print(f"stop took {took:.2f} s")
        assert took < 20, f"stop took {took:.1f} s"
    finally:
        signal_workers(workspace, config.name, 9)
        wait_for_exit(workspace, config.name, 10)
    assert not local_workers(workspace, config.name, alive_only=True)


def test_a_finished_sweep_is_not_started_again(workspace):
    from advisor.sweep_launch import demo_sweep_config, start_sweep
    from studies.sweeps.processes import local_workers
    from studies.sweeps.study import create_or_resume
    from studies.sweeps.worker import run_worker

    config = demo_sweep_config("done-demo", trials=2)
    config = type(config).from_dict({**config.to_dict(), "base": {"steps": 2, "step_seconds": 0.0}})
    create_or_resume(config, workspace.optuna_url)
    run_worker(workspace.optuna_url, config.name, workspace)
    with pytest.raises(SweepError, match="is finished"):
        start_sweep(workspace, config, workers=1)
    assert not local_workers(workspace, config.name)


def test_workers_put_finished_trials_on_the_leaderboard_with_nobody_watching(workspace):
    from advisor.sweep_launch import demo_sweep_config
    from studies.results.leaderboard import Leaderboard
    from studies.sweeps.study import create_or_resume
    from studies.sweeps.worker import run_worker

    config = demo_sweep_config("ingested", trials=3)
    config = type(config).from_dict({**config.to_dict(), "base": {"steps": 2, "step_seconds": 0.0}, "pruner": "none"})
    create_or_resume(config, workspace.optuna_url)
    run_worker(workspace.optuna_url, config.name, workspace, ingest=True)
    study, _ = load_study(workspace.optuna_url, config.name, heartbeat=False)
    completed = sorted(t.number for t in study.trials if t.state.name == "COMPLETE")
    assert completed
    assert sorted(r["trial"] for r in Leaderboard(workspace).history(config.name)) == completed


def test_the_sweep_record_holds_no_absolute_storage_path(workspace):
    import json

    from advisor.sweep_launch import demo_sweep_config, start_sweep, storage_for
    from studies.sweeps.processes import signal_workers, wait_for_exit

    config = demo_sweep_config("portable", trials=1)
    start_sweep(workspace, config, workers=1)
    try:
        recorded = json.loads((workspace.root / "sweeps" / "portable" / "sweep.json").read_text())["storage"]
        assert str(workspace.root) not in recorded
        assert storage_for(workspace, "portable", None) == workspace.optuna_url
    finally:
        signal_workers(workspace, "portable", 9)
        wait_for_exit(workspace, "portable", 10)
