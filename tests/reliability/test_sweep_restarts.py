"""Sweeps after restarts, probed from outside: a relaunched worker, or a finished sweep resumed with a larger
budget, draws new settings instead of replaying earlier ones; `sweep status` calls a trial "retried" only when
a retry of it exists.
"""

from __future__ import annotations

from collections import Counter

import pytest

from tests.reliability._util import record_figure, scaled


def _config(name: str, n_trials: int, sampler: str):
    from studies.sweeps.config import SweepConfig

    return SweepConfig(name=name, objective="synthetic", n_trials=n_trials, sampler=sampler, pruner="none", heartbeat_interval=1,
                       n_startup_trials=100, base={"steps": 1, "step_seconds": 0.0}, evaluate=False)


def _settings(url: str, name: str) -> list[tuple]:
    from studies.sweeps.study import load_study

    study, _ = load_study(url, name, heartbeat=False)
    return [tuple(sorted(t.params.items())) for t in study.get_trials(deepcopy=False) if t.params]


@pytest.mark.parametrize("sampler", ["random", "tpe"])
def test_relaunched_and_resumed_workers_draw_new_settings(workspace, monkeypatch, sampler):
    from studies.sweeps.study import create_or_resume
    from studies.sweeps.worker import run_worker

    monkeypatch.setenv("ADVISOR_SWEEP_WORKER_INDEX", "0")  # every relaunch is "worker 0" again, as after a reboot
    url, name = workspace.optuna_url, f"restarts-{sampler}"
    relaunches = scaled(6)
    create_or_resume(_config(name, 2 * relaunches, sampler), url)
    for _ in range(relaunches):  # a worker killed and relaunched after every 2 trials
        run_worker(url, name, workspace, max_trials=2, poll_seconds=0.1)
    create_or_resume(_config(name, 2 * relaunches + 6, sampler), url)  # the finished sweep resumed with more trials
    run_worker(url, name, workspace, poll_seconds=0.1)
    drawn = _settings(url, name)
    repeats = len(drawn) - len(set(drawn))
    assert len(drawn) == 2 * relaunches + 6
    assert repeats == 0, f"{repeats} of {len(drawn)} trials repeated earlier settings"
    record_figure(f"restarts.{sampler}", relaunches=relaunches, resumes=1, trials=len(drawn), repeated=repeats)


def test_status_says_retried_only_for_trials_that_were(workspace):
    import optuna
    from optuna.distributions import FloatDistribution

    from studies.sweeps.status import sweep_status
    from studies.sweeps.study import create_or_resume

    url = workspace.optuna_url
    study = create_or_resume(_config("labels", 10, "random"), url)
    dist = {"x": FloatDistribution(0.0, 1.0)}
    died_retried = optuna.trial.create_trial(state=optuna.trial.TrialState.FAIL, params={"x": 0.1}, distributions=dist)
    died_alone = optuna.trial.create_trial(state=optuna.trial.TrialState.FAIL, params={"x": 0.2}, distributions=dist)
    study.add_trial(died_retried)  # number 0
    study.add_trial(died_alone)  # number 1: its retries were used up
    retry = optuna.trial.create_trial(state=optuna.trial.TrialState.COMPLETE, value=1.0, params={"x": 0.1}, distributions=dist,
                                      system_attrs={"failed_trial": 0})
    study.add_trial(retry)  # number 2 re-ran 0
    status = sweep_status(url, "labels")
    reasons = {t.number: t.reason for t in status.trials}
    assert "retried as trial 2" in reasons[0], reasons
    assert "retried" not in reasons[1].replace("not retried", ""), reasons
    assert status.retried == 1, status.retried
    outcomes = Counter("retried" if "retried as" in r else "not" for r in reasons.values())
    record_figure("restarts.status_labels", trials=len(reasons), outcomes=dict(outcomes))
