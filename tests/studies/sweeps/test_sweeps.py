"""Sweeps with the synthetic objective: budget, pruning, feasibility, OOM retry, stop, ingest, CLI."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from core.errors import ConfigError, SweepError
from studies.sweeps.search_space import parse_space, space_to_dict, suggest
from studies.sweeps.config import SweepConfig, SweepData
from studies.sweeps.ingest import ingest_study
from studies.sweeps.study import budget_state, create_or_resume, load_study, request_stop
from studies.sweeps.worker import run_worker

ROOT = Path(__file__).resolve().parents[3]


def _config(name: str = "syn", **changes) -> SweepConfig:
    values = dict(
        name=name,
        objective="synthetic",
        n_trials=6,
        heartbeat_interval=1,
        n_startup_trials=2,
        min_resource=1,
        max_resource=6,
        base={"steps": 6, "step_seconds": 0.0},
    )
    values.update(changes)
    return SweepConfig(**values)


def _states(url: str, name: str) -> dict[str, int]:
    study, _ = load_study(url, name, heartbeat=False)
    out: dict[str, int] = {}
    for t in study.get_trials(deepcopy=False):
        out[t.state.name] = out.get(t.state.name, 0) + 1
    return out


def test_search_space_parses_suggests_and_round_trips():
    import optuna

    space = parse_space(
        {
            "learning_rate": {"low": 1e-5, "high": 1e-3, "log": True},
            "rank": [4, 8, 16],
            "target_modules": [["q_proj", "v_proj"], "all-linear"],
            "steps": {"low": 10, "high": 30, "step": 10},
            "max_length": 128,
        }
    )
    assert space["steps"].kind == "int" and space["learning_rate"].kind == "float" and space["max_length"].kind == "fixed"
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    trial = study.ask()
    values = suggest(trial, space)
    assert values["target_modules"] in (["q_proj", "v_proj"], "all-linear")
    assert values["max_length"] == 128 and values["steps"] in (10, 20, 30)
    assert parse_space(space_to_dict(space)) == space


def test_search_space_lists_every_problem():
    with pytest.raises(ConfigError) as err:
        parse_space({"a": {"low": 3, "high": 1}, "b": {"low": 0, "high": 1, "log": True}, "c": []})
    text = str(err.value)
    assert "low <= high" in text and "log range" in text and "must not be empty" in text


def test_sweep_config_validation_names_the_rule():
    with pytest.raises(ConfigError) as err:
        SweepConfig.from_dict({"name": "../x", "n_trials": 0, "heartbeat_interval": 5, "grace_period": 3})
    text = str(err.value)
    assert "n_trials >= 1" in text and "grace_period > heartbeat_interval" in text and "`name`" in text


def test_sweep_runs_prunes_and_ingests_once(workspace):
    url = workspace.optuna_url
    config = _config()
    create_or_resume(config, url)
    report = run_worker(url, config.name, workspace)
    assert report.trials == config.n_trials
    states = _states(url, config.name)
    assert states.get("PRUNED", 0) >= 1 and states.get("COMPLETE", 0) >= 1
    study, _ = load_study(url, config.name, heartbeat=False)
    pruned = [t for t in study.trials if t.state.name == "PRUNED"]
    assert all(t.user_attrs["pruned_reason"].startswith("pruner:") for t in pruned)
    assert all(t.user_attrs["tokens"] > 0 for t in study.trials)

    first = ingest_study(workspace, url, config.name)
    again = ingest_study(workspace, url, config.name)
    assert first.added == states["COMPLETE"] and again.added == 0
    from studies.results.leaderboard import Leaderboard

    rows = Leaderboard(workspace).history(config.name)
    assert len(rows) == states["COMPLETE"] and sorted(r["trial"] for r in rows) == sorted(
        t.number for t in study.trials if t.state.name == "COMPLETE"
    )


def test_the_last_evaluation_is_recorded_but_never_pruned():
    # A trial at its last validation pass has spent its tokens: pruning it then (its step can be a
    # rung, e.g. 6 steps with rungs at 2 and 6) would only throw the finished trial away.
    import optuna

    from studies.sweeps.trials import TrialRun

    class AlwaysPrune:
        number, user_attrs = 0, {}

        def __init__(self):
            self.reported = []

        def set_user_attr(self, key, value):
            self.user_attrs = {**self.user_attrs, key: value}

        def report(self, value, step):
            self.reported.append((step, value))

        def should_prune(self):
            return True

    trial = AlwaysPrune()
    run = TrialRun(trial, {}, _config(), workspace=None, feasibility=None, stop=threading.Event())
    with pytest.raises(optuna.TrialPruned):
        run.report(2, 0.9, tokens=10)
    run.report(6, 0.5, tokens=30, final=True)
    assert trial.reported == [(2, 0.9), (6, 0.5)] and run.reports == [(2, 0.9), (6, 0.5)] and run.tokens == 30


def test_a_running_trial_records_its_step_and_tokens_between_validation_passes(monkeypatch):
    # #23 item 8: a LoRA trial showed tokens 0 for 12 minutes because tokens came only with validation passes.
    import studies.sweeps.trials as trials_module
    from studies.sweeps.trials import SweepInterrupted, TrialRun

    class Recording:
        number, user_attrs = 0, {}

        def set_user_attr(self, key, value):
            self.user_attrs = {**self.user_attrs, key: value}

    clock = [100.0]
    monkeypatch.setattr(trials_module.time, "monotonic", lambda: clock[0])
    trial, stop = Recording(), threading.Event()
    run = TrialRun(trial, {}, _config(), workspace=None, feasibility=None, stop=stop)
    run.progress(1, 10, 64)
    assert trial.user_attrs == {"tokens": 64, "step": [1, 10]}
    run.progress(2, 10, 128)  # within PROGRESS_EVERY_S: not written (the storage is not hit every step)
    assert trial.user_attrs["step"] == [1, 10]
    clock[0] += run.PROGRESS_EVERY_S
    run.progress(3, 10, 192)
    assert trial.user_attrs == {"tokens": 192, "step": [3, 10]} and run.tokens == 192
    run.progress(10, 10, 640)  # the last step is always written
    assert trial.user_attrs["step"] == [10, 10]
    stop.set()
    with pytest.raises(SweepInterrupted):
        run.progress(11, 12, 700)


def test_tpe_start_up_trials_stop_at_the_first_rung(workspace):
    # The random start-up trials are cheap exploration: pruned at the first rung (step 1 here), where
    # their values still rank the later trials. Without the option successive halving runs the first
    # trial to the end (it is the best of one).
    url = workspace.optuna_url
    for name, cheap in (("cheap", True), ("full", False)):
        config = _config(name, n_trials=3, n_startup_trials=2, startup_to_first_rung=cheap)
        create_or_resume(config, url)
        run_worker(url, name, workspace)
        study, _ = load_study(url, name, heartbeat=False)
        first = study.trials[0]
        if cheap:
            assert [t.state.name for t in study.trials[:2]] == ["PRUNED", "PRUNED"]
            assert all(max(t.intermediate_values) == 1 for t in study.trials[:2])
        else:
            assert first.state.name == "COMPLETE" and max(first.intermediate_values) == 6


def test_a_sweep_no_longer_than_the_start_up_still_completes_a_trial(workspace):
    # Three trials and four start-up trials (the demo's sweep): all random search, so none is cut at
    # the first rung for TPE's sake, and the first trial runs to the end: the sweep has a result.
    from optuna.trial import TrialState

    url = workspace.optuna_url
    config = _config("short", n_trials=3, n_startup_trials=4, startup_to_first_rung=True)
    create_or_resume(config, url)
    run_worker(url, "short", workspace)
    study, _ = load_study(url, "short", heartbeat=False)
    assert len(study.trials) == 3
    assert study.trials[0].state == TrialState.COMPLETE and max(study.trials[0].intermediate_values) == 6


def test_budget_in_tokens_stops_the_sweep(workspace):
    url = workspace.optuna_url
    config = _config("tok", n_trials=50, max_tokens=9000, pruner="none")
    create_or_resume(config, url)
    run_worker(url, config.name, workspace)
    study, _ = load_study(url, config.name, heartbeat=False)
    state = budget_state(study, config)
    assert state.exhausted and "token budget" in state.reason
    assert len(study.trials) == 2  # 6000 tokens each: the second crosses 9000


def test_infeasible_configs_are_pruned_with_the_reason(workspace):
    url = workspace.optuna_url
    config = _config("feas", n_trials=4, pruner="none")
    create_or_resume(config, url)

    def fits(cfg):
        return (cfg["x"] < 0.5, f"needs too much memory for x={cfg['x']:.2f}")

    run_worker(url, config.name, workspace, feasibility=fits)
    study, _ = load_study(url, config.name, heartbeat=False)
    for t in study.trials:
        if t.params["x"] >= 0.5:
            assert t.state.name == "PRUNED" and t.user_attrs["pruned_reason"].startswith("infeasible: needs too much memory")
            assert "tokens" not in t.user_attrs
        else:
            assert t.state.name == "COMPLETE"


def test_out_of_memory_prunes_and_retries_once_with_half_the_micro_batch(workspace):
    url = workspace.optuna_url
    # micro_batch 8 OOMs (limit 4): pruned, retried at 4 x 2 accumulation, which fits.
    config = _config("oom", n_trials=1, pruner="none", space={"x": {"low": 0.0, "high": 1.0}, "micro_batch_size": [8]},
                     base={"steps": 3, "step_seconds": 0.0, "oom_above_batch": 4})
    create_or_resume(config, url)
    run_worker(url, config.name, workspace)
    study, _ = load_study(url, config.name, heartbeat=False)
    first, retry = study.trials
    assert first.state.name == "PRUNED" and "out of memory at micro_batch_size=8" in first.user_attrs["pruned_reason"]
    assert "retrying with micro_batch_size=4, grad_accumulation=2" in first.user_attrs["pruned_reason"]
    assert retry.state.name == "COMPLETE" and retry.params == first.params
    assert retry.user_attrs["overrides"] == {"micro_batch_size": 4, "grad_accumulation": 2}
    assert retry.user_attrs["oom_retry_of"] == first.number


def test_out_of_memory_twice_is_not_retried_again(workspace):
    url = workspace.optuna_url
    config = _config("oom2", n_trials=1, pruner="none", space={"x": {"low": 0.0, "high": 1.0}, "micro_batch_size": [8]},
                     base={"steps": 3, "step_seconds": 0.0, "oom_above_batch": 1})
    create_or_resume(config, url)
    run_worker(url, config.name, workspace, max_trials=5)
    study, _ = load_study(url, config.name, heartbeat=False)
    assert [t.state.name for t in study.trials[:2]] == ["PRUNED", "PRUNED"]
    assert "already a retry" in study.trials[1].user_attrs["pruned_reason"]


class _OutageOnce:
    """The synthetic objective, but the first trial loses its storage connection half way (as a PostgreSQL restart does)."""

    calls = 0

    def __init__(self):
        from studies.sweeps.objectives.synthetic import SyntheticObjective

        self._inner = SyntheticObjective()
        self.default_space, self.check_base = self._inner.default_space, self._inner.check_base

    def run(self, run):
        type(self).calls += 1
        if type(self).calls == 1:
            import sqlalchemy.exc

            raise sqlalchemy.exc.OperationalError("INSERT", {}, Exception("server closed the connection unexpectedly"))
        return self._inner.run(run)


def test_a_trial_cut_by_a_storage_outage_is_rerun_with_its_parameters_and_not_counted(workspace):
    from studies.sweeps.objectives import register_objective

    register_objective("outage-once", _OutageOnce)
    url = workspace.optuna_url
    config = _config("outage", objective="outage-once", n_trials=3, pruner="none", base={"steps": 2, "step_seconds": 0.0})
    create_or_resume(config, url)
    report = run_worker(url, config.name, workspace, max_trials=10)
    study, _ = load_study(url, config.name, heartbeat=False)
    cut = study.trials[0]
    assert cut.state.name == "FAIL" and cut.user_attrs["fail_reason"].startswith("interrupted: the Optuna storage")
    assert cut.user_attrs["superseded"] is True
    rerun = study.trials[1]
    assert rerun.params == cut.params and rerun.user_attrs["resumed_from"] == cut.number
    assert [t.state.name for t in study.trials[1:]] == ["COMPLETE"] * 3 and report.reason == "3 of 3 trials finished"
    create_or_resume(config, url)  # a resume does not queue it a second time
    study, _ = load_study(url, config.name, heartbeat=False)
    assert not any(t.state.name == "WAITING" for t in study.trials)


def test_stop_request_ends_workers_between_trials(workspace):
    url = workspace.optuna_url
    config = _config("stop", n_trials=100, pruner="none", base={"steps": 4, "step_seconds": 0.05})
    create_or_resume(config, url)
    result = {}
    thread = threading.Thread(target=lambda: result.update(r=run_worker(url, config.name, workspace)))
    thread.start()
    time.sleep(1.0)
    request_stop(url, config.name)
    thread.join(timeout=30)
    assert not thread.is_alive()
    assert result["r"].reason == "stop requested" and result["r"].trials < 100
    # Resuming clears the stop flag.
    create_or_resume(config, url)
    study, _ = load_study(url, config.name, heartbeat=False)
    assert study.user_attrs["stop_requested"] is False


def test_stop_event_interrupts_the_running_trial_and_resume_requeues_it(workspace):
    url = workspace.optuna_url
    config = _config("intr", n_trials=3, pruner="none", base={"steps": 50, "step_seconds": 0.05})
    create_or_resume(config, url)
    stop = threading.Event()

    def stop_mid_trial():  # once the first trial has reported, as SIGTERM would
        study, _ = load_study(url, config.name, heartbeat=False)
        deadline = time.time() + 120
        while time.time() < deadline and not any(t.intermediate_values for t in study.get_trials(deepcopy=False)):
            time.sleep(0.05)
        stop.set()

    threading.Thread(target=stop_mid_trial, daemon=True).start()
    report = run_worker(url, config.name, workspace, stop=stop)
    assert report.reason == "stopped by signal"
    study, _ = load_study(url, config.name, heartbeat=False)
    interrupted = study.trials[0]
    assert interrupted.state.name == "FAIL" and interrupted.user_attrs["fail_reason"].startswith("interrupted")
    create_or_resume(config, url)
    study, _ = load_study(url, config.name, heartbeat=False)
    queued = study.trials[-1]
    assert queued.state.name == "WAITING" and queued.system_attrs["fixed_params"] == interrupted.params
    assert queued.user_attrs["resumed_from"] == interrupted.number
    create_or_resume(config, url)  # a second resume does not queue it again
    study, _ = load_study(url, config.name, heartbeat=False)
    assert sum(t.state.name == "WAITING" for t in study.trials) == 1


def test_resume_with_another_space_is_refused(workspace):
    url = workspace.optuna_url
    create_or_resume(_config("same"), url)
    with pytest.raises(SweepError, match="already exists"):
        create_or_resume(_config("same", space={"x": {"low": 0.0, "high": 2.0}}), url)


def test_unsupported_storage_is_refused_with_a_hint(workspace):
    from studies.sweeps.storage import open_storage

    with pytest.raises(SweepError, match="postgresql://"):
        open_storage("journal.log")


def _cli(ws, *args, timeout=120):
    return subprocess.run(
        [sys.executable, "-m", "advisor", "--workspace", str(ws.root), "sweep", *args],
        cwd=ROOT, capture_output=True, text=True, timeout=timeout,
    )


def test_cli_start_detach_twice_does_not_duplicate_workers_then_status_and_stop(workspace, tmp_path):
    plan = tmp_path / "sweep.yaml"
    plan.write_text(
        "objective: synthetic\nn_trials: 200\nheartbeat_interval: 1\npruner: none\nbase: {steps: 5, step_seconds: 0.1}\n"
    )
    first = _cli(workspace, "start", "--plan", str(plan), "--name", "bg", "--workers", "2", "--detach", "--format", "json")
    assert first.returncode == 0, first.stderr
    pids = sorted(w["pid"] for w in json.loads(first.stdout)["workers"])
    second = _cli(workspace, "start", "--plan", str(plan), "--name", "bg", "--workers", "2", "--detach", "--format", "json")
    assert second.returncode == 0, second.stderr
    assert sorted(w["pid"] for w in json.loads(second.stdout)["workers"]) == pids
    try:
        deadline = time.time() + 180
        while time.time() < deadline:
            status = _cli(workspace, "status", "bg", "--format", "json")
            assert status.returncode == 0, status.stderr
            data = json.loads(status.stdout)
            if data["done"] >= 1:
                break
            time.sleep(0.5)
        assert data["done"] >= 1 and data["leaderboard"]["rows"] >= 1
        assert {"done", "running", "pruned", "failed", "best_value", "eta_s"} <= set(data)
        assert sum(w["alive"] for w in data["workers"]) == 2
    finally:
        stopped = _cli(workspace, "stop", "bg", "--wait", "30")
    assert stopped.returncode == 0, stopped.stderr
    from studies.sweeps.processes import local_workers

    assert not local_workers(workspace, "bg", alive_only=True)
    text = _cli(workspace, "status", "bg")
    assert "stop requested" in text.stdout


def test_cli_range_test_on_a_sweep_that_is_not_lora_is_refused_before_anything_starts(workspace, tmp_path):
    plan = tmp_path / "sweep.yaml"
    plan.write_text("objective: synthetic\nn_trials: 2\nbase: {steps: 2, step_seconds: 0.0}\n")
    out = _cli(workspace, "start", "--plan", str(plan), "--name", "rt", "--lr-range-test", "16")
    assert out.returncode == 2 and "LoRA sweeps only" in out.stderr, out.stderr
    from studies.sweeps.study import study_exists

    assert not study_exists(workspace.optuna_url, "rt")


def test_cli_errors_are_actionable(workspace, tmp_path):
    out = _cli(workspace, "status", "nope")
    assert out.returncode == 2 and "No sweep named 'nope'" in out.stderr and "advisor sweep start" in out.stderr


def test_workers_are_pinned_one_per_gpu_and_not_duplicated(workspace, tmp_path):
    import signal

    from studies.sweeps.processes import launch_workers, local_workers, signal_workers, wait_for_exit

    code = "import os, sys, time; open(sys.argv[1], 'w').write(os.environ['CUDA_VISIBLE_DEVICES']); time.sleep(60)"
    argv = lambda i: [sys.executable, "-c", code, str(tmp_path / f"gpu-{i}"), "sweep", "pinned"]  # noqa: E731
    first = launch_workers(workspace, "pinned", 2, argv, gpus=["0", "1"])
    try:
        again = launch_workers(workspace, "pinned", 2, argv, gpus=["0", "1"])
        assert [w.pid for w in again] == [w.pid for w in first]
        deadline = time.time() + 30
        while time.time() < deadline and not all((tmp_path / f"gpu-{i}").exists() for i in range(2)):
            time.sleep(0.1)
        assert [(tmp_path / f"gpu-{i}").read_text() for i in range(2)] == ["0", "1"]
        assert [w.gpu for w in first] == ["0", "1"] and len(local_workers(workspace, "pinned", alive_only=True)) == 2
    finally:
        signal_workers(workspace, "pinned", signal.SIGKILL)
    assert wait_for_exit(workspace, "pinned", 10)
    # A dead worker is replaced by the next start.
    replaced = launch_workers(workspace, "pinned", 1, argv)
    assert replaced[0].pid not in {w.pid for w in first}
    signal_workers(workspace, "pinned", signal.SIGKILL)


def test_plan_becomes_a_sweep_config(tmp_path, sample_pairs):
    from advisor.sweep_launch import sweep_config_from_file
    from advisor.plan import Budget, DataPlan, LoraPlan, Plan
    from core.config import dump_yaml

    plan = Plan(
        name="demo",
        device="a100-80",
        data=DataPlan(dataset=str(sample_pairs)),
        lora=LoraPlan(space={"learning_rate": {"low": 1e-4, "high": 1e-2, "log": True}, "rank": [4, 8],
                             "max_steps": {"low": 20, "high": 60, "step": 20}}, base={"eval_every": 10}),
        budget=Budget(trials=7, max_tokens=100000, max_wall_minutes=30),
    )
    path = tmp_path / "plan.yaml"
    path.write_text(dump_yaml(plan))
    config = sweep_config_from_file(str(path))
    assert config.name == "demo-lora" and config.objective == "lora" and config.n_trials == 7
    assert config.max_tokens == 100000 and config.max_seconds == 1800 and config.device == "a100-80"
    assert config.min_resource == 10 and config.max_resource == 60
    assert config.data == SweepData(dataset=str(sample_pairs), seed=0) and config.base["model"] == "smollm2"
    assert config.eval_metrics == list(plan.metrics)


def test_cli_worker_applies_the_estimator_to_the_plan_device(workspace, tmp_path, sample_pairs):
    # SmolLM2 with 64 x 4096-token micro-batches does not fit a T4: pruned before any model loads.
    config = SweepConfig(
        name="t4", objective="lora", n_trials=1, device="t4",
        space={"learning_rate": [1e-3]},
        base={"model": "smollm2", "micro_batch_size": 64, "max_length": 4096},
        data={"dataset": str(sample_pairs)},
    )
    create_or_resume(config, workspace.optuna_url)
    out = _cli(workspace, "worker", "--study", "t4")
    assert out.returncode == 0, out.stderr
    study, _ = load_study(workspace.optuna_url, "t4", heartbeat=False)
    reason = study.trials[0].user_attrs["pruned_reason"]
    assert study.trials[0].state.name == "PRUNED" and reason.startswith("infeasible: does not fit") and "T4" in reason
