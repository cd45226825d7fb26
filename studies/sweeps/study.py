"""A sweep as an Optuna study: create or resume, load, request a stop, and where it stands against its budget."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from core.errors import ConfigError, SweepError
from core.workspace import safe_name
from studies.sweeps.config import (
    ATTR_FAILED,
    ATTR_OVERRIDES,
    ATTR_SUPERSEDED,
    ATTR_TOKENS,
    CONFIG_ATTR,
    DEADLINE_ATTR,
    STOP_ATTR,
    SweepConfig,
)
from studies.sweeps.pruners import make_pruner, make_sampler, seed_salt
from studies.sweeps.search_space import parse_space
from studies.sweeps.storage import open_storage, redact_url, retry_storage, storage_errors

if TYPE_CHECKING:  # pragma: no cover
    import optuna

    from tuning.lr_range import LrRange


def create_or_resume(config: SweepConfig, storage_url: str, lr_range: "LrRange | None" = None, priors: bool = True) -> "optuna.Study":
    """Create the study (storing ``config`` in it) or resume an existing one with the same name.

    Resuming clears a previous stop request, re-queues trials that a stop interrupted, and sets a
    new wall-time deadline; the stored search space must match (changing it mid-study would mix
    incomparable trials: start a new sweep under another name instead).
    """
    import optuna

    from studies.sweeps.objectives import check_base, get_objective

    config.validate()
    try:
        check_base(get_objective(config.objective), config.base)
    except ConfigError as exc:
        raise SweepError(f"Sweep {config.name!r}: `base` does not fit objective {config.objective!r}: {exc}") from exc
    with storage_errors(storage_url):
        storage = open_storage(storage_url)
        study = retry_storage(
            lambda: optuna.create_study(
                study_name=config.name,
                storage=storage,
                direction=config.direction,
                sampler=make_sampler(config),
                pruner=make_pruner(config),
                load_if_exists=True,
            )
        )
        stored = study.user_attrs.get(CONFIG_ATTR)
        if stored is not None:
            old = SweepConfig.from_dict(stored)
            if parse_space(old.space) != parse_space(config.space) or old.objective != config.objective or old.direction != config.direction:
                raise SweepError(
                    f"Sweep {config.name!r} already exists with another objective, direction or search space; "
                    "resume it with the same plan, or start a new sweep with --name."
                )
        study.set_user_attr(CONFIG_ATTR, config.to_dict())
        study.set_user_attr(STOP_ATTR, False)
        study.set_user_attr(DEADLINE_ATTR, time.time() + config.max_seconds if config.max_seconds else None)
        _requeue_interrupted(study)
        from studies.sweeps.priors import enqueue_priors

        if priors:  # a new LoRA study starts from what is known (priors.py); benchmarks turn it off for the cold baseline
            enqueue_priors(study, config, lr_range)
        return study


def _requeue_interrupted(study: "optuna.Study") -> None:
    """Trials cut short by a stop run again (once) when the sweep resumes."""
    import optuna

    trials = study.get_trials(deepcopy=False)
    done = {t.user_attrs.get("resumed_from") for t in trials}
    for trial in trials:
        if trial.state != optuna.trial.TrialState.FAIL or trial.number in done:
            continue
        if str(trial.user_attrs.get(ATTR_FAILED, "")).startswith("interrupted"):
            study.enqueue_trial(trial.params, user_attrs={ATTR_OVERRIDES: trial.user_attrs.get(ATTR_OVERRIDES, {}), "resumed_from": trial.number})


def study_exists(storage_url: str, name: str) -> bool:
    """Whether sweep ``name`` is already in the storage (a start would resume it, not create it)."""
    import optuna

    with storage_errors(storage_url):
        return safe_name(name) in optuna.get_all_study_names(open_storage(storage_url))


def load_study(storage_url: str, name: str, heartbeat: bool = True) -> "tuple[optuna.Study, SweepConfig]":
    """Open an existing sweep and its stored config; ``heartbeat=False`` for readers (status, ingest)."""
    import optuna

    with storage_errors(storage_url):
        storage = open_storage(storage_url)
        try:
            study = optuna.load_study(study_name=safe_name(name), storage=storage)
        except KeyError as exc:
            names = [s.study_name for s in optuna.get_all_study_summaries(storage)]
            raise SweepError(
                f"No sweep named {name!r} in {redact_url(storage_url)}; known: {', '.join(names) or 'none'}. "
                "Start one with `advisor sweep start --plan plan.yaml`."
            ) from exc
        stored = study.user_attrs.get(CONFIG_ATTR)
        if stored is None:
            raise SweepError(f"Study {name!r} was not created by `advisor sweep start` (it has no sweep config).")
        config = SweepConfig.from_dict(stored)
        if heartbeat:
            storage = open_storage(storage_url, config)
            study = optuna.load_study(study_name=name, storage=storage, sampler=make_sampler(config, worker_salt(study)),
                                      pruner=make_pruner(config))
        return study, config


def worker_salt(study: "optuna.Study") -> int:
    """What makes this worker's sampler seed its own: its launch index (or pid) *and* how many trials the study
    already has. A relaunched worker, or a finished sweep resumed with a larger budget, would otherwise replay
    the same random draws and re-run settings already tried."""
    return seed_salt() * 1_000_003 + len(study.get_trials(deepcopy=False))


def request_stop(storage_url: str, name: str) -> None:
    """Ask every worker of the sweep (on any machine) to stop after its current trial."""
    study, _ = load_study(storage_url, name, heartbeat=False)
    study.set_user_attr(STOP_ATTR, True)


@dataclass
class BudgetState:
    """Where a sweep stands against its budget."""

    finished: int
    running: int
    waiting: int
    tokens: int
    exhausted: bool
    reason: str


def counts_toward_budget(trial: "optuna.trial.FrozenTrial") -> bool:
    """Finished trials count, except those re-run under another number (killed worker, OOM, stop)."""
    from optuna.trial import TrialState

    if trial.user_attrs.get(ATTR_SUPERSEDED):
        return False
    if trial.state in (TrialState.COMPLETE, TrialState.PRUNED):
        return True
    # A FAIL without a recorded reason is a killed worker's trial, an interrupted one is re-run on
    # resume: in both cases the retry carries the budget.
    reason = str(trial.user_attrs.get(ATTR_FAILED) or "")
    return trial.state == TrialState.FAIL and bool(reason) and not reason.startswith("interrupted")


def budget_state(study: "optuna.Study", config: SweepConfig) -> BudgetState:
    from optuna.trial import TrialState

    trials = study.get_trials(deepcopy=False)
    finished = sum(1 for t in trials if counts_toward_budget(t))
    running = sum(1 for t in trials if t.state == TrialState.RUNNING)
    waiting = sum(1 for t in trials if t.state == TrialState.WAITING)
    tokens = sum(int(t.user_attrs.get(ATTR_TOKENS, 0) or 0) for t in trials)
    reason = ""
    if study.user_attrs.get(STOP_ATTR):
        reason = "stop requested"
    elif finished >= config.n_trials:
        reason = f"{finished} of {config.n_trials} trials finished"
    elif config.max_tokens is not None and tokens >= config.max_tokens:
        reason = f"token budget spent ({tokens} of {config.max_tokens})"
    else:
        deadline = study.user_attrs.get(DEADLINE_ATTR)
        if deadline is not None and time.time() >= float(deadline):
            reason = f"wall-time budget spent ({config.max_seconds:.0f} s)"
    return BudgetState(finished, running, waiting, tokens, bool(reason), reason)
