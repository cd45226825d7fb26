"""The worker loop: join a sweep, run trials until the budget is spent or a stop is asked, retry out-of-memory trials."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import threading
import time
import warnings
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from core.errors import OutOfMemoryError, SweepError
from core.workspace import Workspace
from studies.results.records import RunRecord
from studies.sweeps.config import (
    ATTR_FAILED,
    ATTR_METRICS,
    ATTR_OOM_RETRY_OF,
    ATTR_OVERRIDES,
    ATTR_PRUNED,
    ATTR_RESULT,
    ATTR_SECONDS,
    ATTR_SUPERSEDED,
    ATTR_TOKENS,
    ATTR_WORKER,
    Feasibility,
)
from studies.sweeps.search_space import parse_space
from studies.sweeps.storage import (
    STORAGE_OUTAGE_S,
    is_transient,
    redact_text,
    redact_url,
    retry_storage,
)
from studies.sweeps.study import budget_state, load_study
from studies.sweeps.trials import SweepInterrupted, TrialOutcome, TrialRun, WorkerReport

if TYPE_CHECKING:  # pragma: no cover
    import optuna


log = logging.getLogger(__name__)


class _InTrial:
    """Whether the worker's main thread is inside an objective right now (the signal handler reads it)."""

    active = False


@contextlib.contextmanager
def _sigterm_sets(event: threading.Event, in_trial: _InTrial | None = None) -> Iterator[None]:
    """SIGTERM (and SIGINT) set ``event`` instead of killing the process; a second signal kills.

    Inside an objective the handler also raises :class:`SweepInterrupted`, so a trial ends at the next
    Python step of its training loop (the end of the current optimizer step's tensor operations),
    whether or not the objective checks ``stop`` itself; the trial is then recorded as interrupted
    (FAIL, re-run on resume), never left RUNNING.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous: dict[int, Any] = {}

    def handler(signum: int, frame: Any) -> None:  # noqa: ARG001
        if event.is_set():
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)
        log.warning("signal %s: stopping the current trial at its next step", signum)
        event.set()
        if in_trial is not None and in_trial.active:
            in_trial.active = False
            raise SweepInterrupted("interrupted: the worker was asked to stop")

    for sig in (signal.SIGTERM, signal.SIGINT):
        previous[sig] = signal.signal(sig, handler)
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def _ingest(workspace: Workspace, storage_url: str, name: str) -> None:
    """Put finished trials on the leaderboard now (idempotent; short-lived connection with retries), so
    results arrive whether or not anyone watches the sweep. A failure is logged: the next trial, another
    worker or `advisor sweep status` catches up."""
    from studies.sweeps.ingest import ingest_study

    try:
        report = ingest_study(workspace, storage_url, name)
        if report.added:
            log.info("%d trial(s) of %s added to the leaderboard", report.added, name)
    except Exception as exc:  # noqa: BLE001 - never end a sweep over a leaderboard hiccup
        log.warning("could not ingest finished trials of %s yet: %s", name, exc)


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def run_worker(
    storage_url: str,
    name: str,
    workspace: Workspace,
    feasibility: Feasibility | None = None,
    stop: threading.Event | None = None,
    max_trials: int | None = None,
    poll_seconds: float | None = None,
    ingest: bool = False,
) -> WorkerReport:
    """Join sweep ``name`` and run trials until the budget is spent or a stop is requested.

    While other workers still run the last trials, this worker waits (checking heartbeats) so that
    a trial whose worker died is retried here rather than lost. With ``ingest`` (what `advisor sweep
    worker`, hence every launched worker, uses) each finished trial goes onto the workspace's leaderboard
    at once, so results arrive with nobody watching.
    """
    import optuna

    from studies.sweeps.objectives import get_objective

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study, config = load_study(storage_url, name)
    objective = get_objective(config.objective)
    space = parse_space(config.space or objective.default_space())
    stop = stop or threading.Event()
    me = worker_id()
    poll = poll_seconds if poll_seconds is not None else max(0.5, min(5.0, config.heartbeat_interval / 2))
    ran = 0
    in_trial = _InTrial()

    def one_trial(trial: "optuna.Trial") -> float:
        from studies.sweeps.search_space import suggest

        _set_attr(trial, ATTR_WORKER, me)
        start = time.monotonic()
        run = TrialRun(trial, suggest(trial, space), config, workspace, feasibility, stop)
        try:
            if stop.is_set():
                raise SweepInterrupted("interrupted: the worker was asked to stop")
            in_trial.active = True
            try:
                outcome = objective.run(run)
            finally:
                in_trial.active = False
            row = _trial_row(outcome, run, config.objective) if outcome.result is not None else None
        except optuna.TrialPruned:
            _set_attr(trial, ATTR_SECONDS, round(time.monotonic() - start, 3))
            raise
        except OutOfMemoryError as exc:
            _set_attr(trial, ATTR_SECONDS, round(time.monotonic() - start, 3))
            _handle_oom(study, trial, run, exc)
            raise AssertionError("unreachable")  # pragma: no cover
        except SweepInterrupted as exc:
            _set_attr(trial, ATTR_FAILED, str(exc))
            raise
        except Exception as exc:
            _set_attr(trial, ATTR_SECONDS, round(time.monotonic() - start, 3))
            if is_transient(exc):
                _requeue_after_outage(study, trial, run, exc)
            else:
                _set_attr(trial, ATTR_FAILED, f"{type(exc).__name__}: {exc}"[:2000])
            raise
        _set_attr(trial, ATTR_SECONDS, round(time.monotonic() - start, 3))
        _set_attr(trial, ATTR_TOKENS, int(outcome.tokens or run.tokens))
        _set_attr(trial, ATTR_METRICS, {k: float(v) for k, v in outcome.metrics.items()})
        if outcome.artifacts:
            _set_attr(trial, "artifacts", outcome.artifacts)
        if row is not None:
            _set_attr(trial, ATTR_RESULT, row)
        return float(outcome.value)

    outage_since: float | None = None
    with _sigterm_sets(stop, in_trial), warnings.catch_warnings():
        warnings.simplefilter("ignore", category=optuna.exceptions.ExperimentalWarning)
        reason = ""
        while True:
            if stop.is_set():
                reason = "stopped by signal"
                break
            if max_trials is not None and ran >= max_trials:
                reason = f"ran {ran} trial(s) as asked"
                break
            try:
                retry_storage(lambda: optuna.storages.fail_stale_trials(study))
                state = retry_storage(lambda: budget_state(study, config))
                if state.reason == "stop requested":  # queued retries wait for the resume
                    reason = state.reason
                    break
                if state.exhausted and state.waiting == 0:
                    if state.running == 0 or state.reason == "stop requested":
                        reason = state.reason
                        break
                    time.sleep(poll)  # others finish; if one dies, its retry comes back here
                    continue
                if not state.exhausted and state.waiting == 0 and state.finished + state.running >= config.n_trials:
                    time.sleep(poll)
                    continue
                study.optimize(one_trial, n_trials=1, catch=(Exception,), gc_after_trial=False)
                ran += 1
                outage_since = None
                if ingest:
                    _ingest(workspace, storage_url, name)
            except optuna.exceptions.UpdateFinishedTrialError as exc:
                # Our heartbeat was late (an overloaded machine): another worker failed the trial and
                # queued a retry. Nothing of it was recorded as complete; carry on with the next one.
                log.warning("a trial of this worker was failed by another one (missed heartbeat): %s", exc)
            except Exception as exc:
                # The storage went away (PostgreSQL restarted, network blip): wait and carry on. A trial cut
                # short stops beating; after the grace period it is failed and re-queued by the retry callback.
                if not is_transient(exc):
                    raise
                outage_since = outage_since or time.monotonic()
                if time.monotonic() - outage_since > STORAGE_OUTAGE_S:
                    raise SweepError(
                        f"The Optuna storage {redact_url(storage_url)} has been unreachable for {STORAGE_OUTAGE_S:.0f} s "
                        f"({type(exc).__name__}: {redact_text(str(exc).splitlines()[0][:200], storage_url)}). Check the database server, then rejoin "
                        f"with `advisor sweep worker --study {name} --storage URL`: finished trials are kept."
                    ) from exc
                log.warning("storage unavailable (%s); retrying", type(exc).__name__)
                time.sleep(min(5.0, max(0.5, poll)))
        if ingest and ran:
            _ingest(workspace, storage_url, name)
        log.info("worker %s exits after %d trial(s): %s", me, ran, reason)
    return WorkerReport(me, ran, reason)


def _trial_row(outcome: TrialOutcome, run: TrialRun, objective: str) -> dict[str, Any]:
    """The outcome's run record as stored in the trial (run id from study and trial number)."""
    if not isinstance(outcome.result, RunRecord):
        raise SweepError(
            f"Objective {objective!r} returned a {type(outcome.result).__name__} as its result; return a "
            "studies.results.records.RunRecord (or None for no leaderboard row)."
        )
    return outcome.result.for_trial(run.study_name, run.number).to_dict()


def _set_attr(trial: "optuna.Trial", key: str, value: Any) -> None:
    """``trial.set_user_attr`` that tolerates a trial already failed by another worker's stale check."""
    import optuna

    try:
        trial.set_user_attr(key, value)
    except optuna.exceptions.UpdateFinishedTrialError:
        log.warning("trial %s was already finished by another worker; %s not stored", trial.number, key)


def _requeue_after_outage(study: "optuna.Study", trial: "optuna.Trial", run: TrialRun, exc: BaseException) -> None:
    """A trial cut short by a storage outage (PostgreSQL restarting) is the storage's fault, not the trial's.

    It is recorded as interrupted, which keeps it out of the budget, and queued again with the same
    parameters. When the storage is still down these writes fail too: the trial then stays RUNNING,
    its heartbeat stops, and the stale-trial retry re-queues it instead (only one of the two happens).
    """
    why = f"interrupted: the Optuna storage became unreachable during the trial ({type(exc).__name__}); re-run with the same parameters"
    trial.set_user_attr(ATTR_FAILED, why)
    retry_storage(lambda: study.enqueue_trial(trial.params, user_attrs={ATTR_OVERRIDES: run.overrides, "resumed_from": trial.number}))
    _set_attr(trial, ATTR_SUPERSEDED, True)


def _handle_oom(study: "optuna.Study", trial: "optuna.Trial", run: TrialRun, exc: OutOfMemoryError) -> None:
    """Prune an out-of-memory trial with the reason; retry it once with half the micro-batch.

    The retry keeps the effective batch (micro_batch_size x grad_accumulation) by doubling the
    accumulation, and gets the same sampled parameters (it is enqueued, so the sampler is bypassed).
    """
    import optuna

    config = getattr(exc, "config", None)
    micro = int(run.overrides.get("micro_batch_size") or getattr(config, "micro_batch_size", 0) or run.params.get("micro_batch_size") or 0)
    accum = int(run.overrides.get("grad_accumulation") or getattr(config, "grad_accumulation", 0) or run.params.get("grad_accumulation") or 1)
    already = trial.user_attrs.get(ATTR_OOM_RETRY_OF) is not None
    if micro >= 2 and not already:
        overrides = {**run.overrides, "micro_batch_size": micro // 2, "grad_accumulation": accum * 2}
        study.enqueue_trial(trial.params, user_attrs={ATTR_OVERRIDES: overrides, ATTR_OOM_RETRY_OF: trial.number})
        trial.set_user_attr(ATTR_SUPERSEDED, True)
        why = f"out of memory at micro_batch_size={micro}: {exc}; retrying with micro_batch_size={micro // 2}, grad_accumulation={accum * 2}"
    else:
        why = f"out of memory at micro_batch_size={micro}: {exc}; " + ("already a retry, not retried again" if already else "cannot halve the micro-batch further")
    trial.set_user_attr(ATTR_PRUNED, why[:2000])
    raise optuna.TrialPruned(why)
