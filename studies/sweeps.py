"""Optuna sweeps: typed config, storage, the worker loop, budgets, OOM retries and leaderboard ingest.

How the pieces fit (see docs/sweeps.md):

* A sweep is an Optuna study in an RDB storage: embedded SQLite in the workspace by default
  (``ws.optuna_url``), PostgreSQL for many machines. Its :class:`SweepConfig` is stored in the
  study's user attributes, so a worker on another machine needs only ``--study`` and ``--storage``.
* Workers (:func:`run_worker`, one process each, see ``studies/workers.py``) loop: check the stop
  flag and the budget, fail stale trials (heartbeats), run one trial through Optuna (which beats
  the heartbeat while the trial runs), repeat. A worker that is SIGKILLed stops beating; another
  worker marks its trial FAIL and Optuna's retry callback re-queues the same parameters.
* A trial's results (metrics, the evaluation run record, tokens spent, why it was pruned or
  failed) travel as trial user attributes in the Optuna storage. Workers never open the DuckDB
  leaderboard; :func:`ingest_study` copies completed trials into it idempotently, keyed by
  (study, trial), from whichever process reads (the driver, ``advisor sweep status``, the app).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import math
import os
import signal
import socket
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from core.config import Problems, from_dict, to_dict
from core.errors import ConfigError, OutOfMemoryError, SweepError
from core.workspace import Workspace, safe_name
from studies.search_space import parse_space

if TYPE_CHECKING:  # pragma: no cover
    import optuna

log = logging.getLogger(__name__)

CONFIG_ATTR = "sweep_config"
STOP_ATTR = "stop_requested"
DEADLINE_ATTR = "deadline"
# Trial user attributes written by the worker (the contract read by ingest, status and the app).
ATTR_TOKENS = "tokens"
ATTR_METRICS = "metrics"
ATTR_RESULT = "result"  # the payload studies.leaderboard.record_from_trial turns into the row
ATTR_PRUNED = "pruned_reason"
ATTR_FAILED = "fail_reason"
ATTR_OVERRIDES = "overrides"
ATTR_OOM_RETRY_OF = "oom_retry_of"
ATTR_SUPERSEDED = "superseded"
ATTR_WORKER = "worker"
ATTR_SECONDS = "seconds"

Feasibility = Callable[[Any], "tuple[bool, str]"]
"""``fits(config) -> (ok, reason)``: the estimator's verdict on a trial's concrete config."""


@dataclass
class SweepConfig:
    """What a sweep searches, how, and for how long (stored in the study, so every worker sees it)."""

    name: str
    """Study name (also the folder ``<ws>/sweeps/<name>/``)."""
    objective: str = "lora"
    """Registered objective: lora, rag, synthetic (a cheap stand-in for checking storage and workers)."""
    space: dict[str, Any] = field(default_factory=dict)
    """Search space in the YAML form of ``studies.search_space`` (empty: the objective's default)."""
    base: dict[str, Any] = field(default_factory=dict)
    """Fixed settings for every trial (e.g. TrainConfig fields such as model, max_steps, eval_every)."""
    data: dict[str, Any] = field(default_factory=dict)
    """Where the examples come from: {split: VERSION} (frozen split in the workspace) or {dataset: PATH, seed: 0}."""
    metric: str = "val_loss"
    """Name of the objective value (shown in status and the dashboard)."""
    direction: Literal["minimize", "maximize"] = "minimize"
    """Whether lower or higher objective values are better."""
    sampler: Literal["tpe", "random"] = "tpe"
    """TPE (default) or plain random search."""
    pruner: Literal["hyperband", "successive_halving", "median", "none"] = "successive_halving"
    """Multi-fidelity pruner fed by the validation loss reported during training (successive halving:
    the fewest tokens per trial, see bench/results/sweeps.md; hyperband hedges against an early rung
    that ranks trials badly, at the cost of more tokens)."""
    n_trials: int = 20
    """Budget: finished trials (complete, pruned, or failed for a recorded reason)."""
    max_tokens: int | None = None
    """Budget: training tokens over all trials (None: no limit)."""
    max_seconds: float | None = None
    """Budget: wall time from `sweep start` (None: no limit); running trials finish."""
    seed: int = 0
    """Sampler seed."""
    n_startup_trials: int = 4
    """TPE: random trials before the model kicks in."""
    startup_to_first_rung: bool = True
    """TPE with a multi-fidelity pruner: the random start-up trials stop at the first rung, where their
    values still rank the later trials and teach TPE (exploration at a fraction of the tokens)."""
    min_resource: int | None = None
    """Pruner: the first rung in reported steps (None: the first report's step)."""
    max_resource: int | None = None
    """Pruner: the longest trial in reported steps (None: learned from finished trials)."""
    reduction_factor: int = 3
    """Pruner: keep 1/reduction_factor of the trials at each rung."""
    heartbeat_interval: int = 30
    """Seconds between a running trial's heartbeats."""
    grace_period: int | None = None
    """Seconds without a heartbeat before a trial counts as dead (None: 2 x heartbeat_interval)."""
    max_retry: int = 1
    """How many times a trial whose worker died is re-run with the same parameters."""
    evaluate: bool = True
    """Evaluate each completed trial through the shared evaluation contract (a leaderboard row)."""
    eval_limit: int | None = 64
    """Validation items per trial evaluation (None: all)."""
    eval_metrics: list[str] | None = None
    """Metrics of the trial evaluation (None: the evaluation contract's defaults)."""
    generation: dict[str, Any] = field(default_factory=dict)
    """GenerationSettings fields for the trial evaluation (e.g. max_new_tokens); default: the contract's."""
    device: str | None = None
    """Device for the estimator's feasibility check (catalogue name such as a100-80, or "local": this GPU); None: no check."""

    def validate(self) -> None:
        p = Problems("SweepConfig")
        try:
            safe_name(self.name)
        except Exception as exc:  # noqa: BLE001 - reported with the others
            p.add(f"`name`: {exc}")
        p.check(self.n_trials >= 1, f"`n_trials >= 1` must hold, but got n_trials={self.n_trials}")
        p.check(self.max_tokens is None or self.max_tokens > 0, f"`max_tokens > 0` must hold when set, but got {self.max_tokens}")
        p.check(self.max_seconds is None or self.max_seconds > 0, f"`max_seconds > 0` must hold when set, but got {self.max_seconds}")
        p.check(self.n_startup_trials >= 0, f"`n_startup_trials >= 0` must hold, but got {self.n_startup_trials}")
        p.check(self.reduction_factor >= 2, f"`reduction_factor >= 2` must hold, but got {self.reduction_factor}")
        p.check(self.min_resource is None or self.min_resource >= 1, f"`min_resource >= 1` must hold when set, but got {self.min_resource}")
        p.check(
            self.min_resource is None or self.max_resource is None or self.min_resource <= self.max_resource,
            f"`min_resource <= max_resource` must hold, but got (min_resource={self.min_resource}, max_resource={self.max_resource})",
        )
        p.check(self.heartbeat_interval >= 1, f"`heartbeat_interval >= 1` must hold, but got {self.heartbeat_interval}")
        p.check(
            self.grace_period is None or self.grace_period > self.heartbeat_interval,
            f"`grace_period > heartbeat_interval` must hold, but got (grace_period={self.grace_period}, heartbeat_interval={self.heartbeat_interval})",
        )
        p.check(self.max_retry >= 0, f"`max_retry >= 0` must hold, but got {self.max_retry}")
        p.check(self.eval_limit is None or self.eval_limit >= 1, f"`eval_limit >= 1` must hold when set, but got {self.eval_limit}")
        try:
            parse_space(self.space, what="`space`")
        except ConfigError as exc:
            p.items.extend(line.strip()[2:] for line in str(exc).splitlines()[1:])
        p.raise_if_any()

    @property
    def grace(self) -> int:
        return self.grace_period or 2 * self.heartbeat_interval

    def to_dict(self) -> dict[str, Any]:
        return to_dict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "SweepConfig":
        return from_dict(cls, dict(data))


# --------------------------------------------------------------------------------------- storage

def _engine_kwargs(url: str) -> dict[str, Any]:
    if url.startswith("sqlite"):
        # Wait for the lock instead of failing ("database is locked") when workers write together.
        return {"connect_args": {"timeout": 60}}
    return {"pool_pre_ping": True}


def _prepare_sqlite(url: str) -> None:
    """Create the folder and switch the file to WAL (readers never block the writer)."""
    import sqlite3
    from pathlib import Path

    path = url.split("sqlite:///", 1)[-1]
    if not path or path == ":memory:":
        return
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(sqlite3.Error):
        conn = sqlite3.connect(path, timeout=60)
        try:
            conn.execute("PRAGMA journal_mode=WAL")
        finally:
            conn.close()


def open_storage(url: str, config: SweepConfig | None = None) -> "optuna.storages.RDBStorage":
    """An Optuna RDB storage at ``url``; with ``config``, heartbeats and stale-trial retries are on.

    SQLite (``sqlite:///path``) is the embedded default; ``postgresql://user:pw@host/db`` (psycopg 3)
    serves many machines. Anything else (journal files, in-memory) is refused: only the RDB storage
    has heartbeats, and without them a killed worker's trial would stay RUNNING for ever.
    """
    import optuna

    if not (url.startswith("sqlite:///") or url.startswith("postgresql") or url.startswith("mysql")):
        raise SweepError(
            f"Storage {url!r} is not supported: use sqlite:///PATH (one machine, the default) or "
            "postgresql://USER:PASSWORD@HOST:PORT/DB (many machines). Only Optuna's RDB storage detects killed workers."
        )
    if url.startswith("sqlite"):
        _prepare_sqlite(url)
    kwargs: dict[str, Any] = {}
    if config is not None:
        # optuna >= 4.9 names it RetryHeartbeatStaleTrialCallback (RetryFailedTrialCallback before).
        retry_cls = getattr(optuna.storages, "RetryHeartbeatStaleTrialCallback", None)
        key = "heartbeat_stale_trial_callback"
        if retry_cls is None:
            retry_cls, key = optuna.storages.RetryFailedTrialCallback, "failed_trial_callback"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            callback = retry_cls(max_retry=config.max_retry)
        kwargs = {"heartbeat_interval": config.heartbeat_interval, "grace_period": config.grace, key: callback}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return _retry(lambda: optuna.storages.RDBStorage(url, engine_kwargs=_engine_kwargs(url), **kwargs))
    except ImportError as exc:
        raise SweepError(f"Cannot open {url}: {exc}. For PostgreSQL install psycopg: pip install 'psycopg[binary]'.") from exc
    except Exception as exc:  # sqlalchemy.exc.OperationalError and friends
        raise SweepError(f"Cannot open the Optuna storage {_redact(url)}: {exc}. Is the server running and the URL right?") from exc


def _redact(url: str) -> str:
    """The URL with its password hidden (for messages and status output)."""
    import re

    return re.sub(r"(://[^:/@]+):[^@]*@", r"\1:***@", url)


def _retry(fn: Callable[[], Any], attempts: int = 5, delay: float = 0.5) -> Any:
    """Call ``fn``, retrying briefly on "database is locked"-style operational errors."""
    for attempt in range(attempts):
        try:
            return fn()
        except Exception as exc:  # noqa: BLE001
            text = str(exc).lower()
            if attempt == attempts - 1 or not ("locked" in text or "busy" in text or "could not serialize" in text):
                raise
            time.sleep(delay * (attempt + 1))
    return None  # pragma: no cover


STORAGE_OUTAGE_S = float(os.environ.get("ADVISOR_STORAGE_OUTAGE_S", "300"))
"""How long a worker keeps retrying while the Optuna storage is unreachable (e.g. PostgreSQL restarting)."""
_TRANSIENT = ("locked", "busy", "could not serialize", "connection", "server closed", "terminating", "could not connect",
              "the database system is", "timeout", "timed out", "ssl syscall", "broken pipe", "eof detected")


def _is_transient(exc: BaseException) -> bool:
    """True when ``exc`` (or an exception it was raised from or during) is a storage outage worth waiting out."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        names = {cls.__name__ for cls in type(current).__mro__}
        if names & {"OperationalError", "InterfaceError", "DisconnectionError", "StorageInternalError"}:
            return True
        if names & {"DatabaseError", "SQLAlchemyError", "Error"} and any(word in str(current).lower() for word in _TRANSIENT):
            return True
        current = current.__cause__ or current.__context__
    return False


def _seed_salt() -> int:
    """Workers must not share a sampler seed (they would draw the same points): local workers get
    their launch index from ``$ADVISOR_SWEEP_WORKER_INDEX``, others their process id."""
    index = os.environ.get("ADVISOR_SWEEP_WORKER_INDEX")
    return int(index) if index and index.isdigit() else os.getpid()


def make_sampler(config: SweepConfig, salt: int = 0) -> "optuna.samplers.BaseSampler":
    import optuna

    seed = config.seed + 7919 * salt
    if config.sampler == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # constant_liar: parallel workers do not all pick the same point while trials run.
        return optuna.samplers.TPESampler(seed=seed, n_startup_trials=config.n_startup_trials, constant_liar=True, multivariate=True)


def make_pruner(config: SweepConfig) -> "optuna.pruners.BasePruner":
    import optuna

    if config.pruner == "none":
        return optuna.pruners.NopPruner()
    if config.pruner == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=config.n_startup_trials, n_warmup_steps=config.min_resource or 0)
    if config.pruner == "successive_halving":
        pruner: optuna.pruners.BasePruner = optuna.pruners.SuccessiveHalvingPruner(
            min_resource=config.min_resource or "auto", reduction_factor=config.reduction_factor
        )
    else:
        pruner = optuna.pruners.HyperbandPruner(
            min_resource=config.min_resource or 1, max_resource=config.max_resource or "auto", reduction_factor=config.reduction_factor
        )
    n_startup = config.n_startup_trials if startup_stops_at_first_rung(config) else 0
    return _startup_to_first_rung_class()(pruner, n_startup, config.min_resource or 1)


def startup_stops_at_first_rung(config: SweepConfig) -> bool:
    """Whether TPE's start-up trials stop at the first rung (``SweepConfig.startup_to_first_rung``).

    Only when trials remain after the start-up for TPE to use what they taught it: a sweep of no
    more trials than the start-up is all random search, and cutting every trial short would leave
    it with nothing complete.
    """
    return (config.startup_to_first_rung and config.sampler == "tpe" and config.n_startup_trials > 0
            and config.n_trials > config.n_startup_trials)


@functools.cache
def _startup_to_first_rung_class() -> type:
    """The pruner wrapper, defined on first use (optuna is imported lazily)."""
    import optuna

    class StartupToFirstRung(optuna.pruners.BasePruner):
        """Stop TPE's random start-up trials at the first rung (``SweepConfig.startup_to_first_rung``),
        and never prune a trial before one trial has completed, so a sweep always has a result.

        The wrapped pruner still sees them first, so their first-rung values are the pool the later
        trials are ranked against, and TPE learns from them as pruned trials. Without this, successive
        halving promotes each start-up trial that beats the few before it, and every such promotion
        costs a whole trial. Enqueued trials (a user's pick, an OOM or resume retry) are not exploration:
        they are left to the wrapped pruner.
        """

        def __init__(self, inner: optuna.pruners.BasePruner, n_startup: int, first_rung: int) -> None:
            self._inner, self._n, self._first = inner, int(n_startup), int(first_rung)

        def prune(self, study: "optuna.Study", trial: "optuna.trial.FrozenTrial") -> bool:
            from optuna.trial import TrialState

            verdict = self._inner.prune(study, trial)  # records the trial's value at the rung either way
            if "fixed_params" in trial.system_attrs:
                return verdict
            if self._n and trial.number < self._n:
                step = trial.last_step
                return verdict or (step is not None and step >= self._first)
            # Until one trial has completed, the model's trials run to the end: a sweep always has a result.
            if verdict and not study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
                return False
            return verdict

    return StartupToFirstRung


def create_or_resume(config: SweepConfig, storage_url: str) -> "optuna.Study":
    """Create the study (storing ``config`` in it) or resume an existing one with the same name.

    Resuming clears a previous stop request, re-queues trials that a stop interrupted, and sets a
    new wall-time deadline; the stored search space must match (changing it mid-study would mix
    incomparable trials: start a new sweep under another name instead).
    """
    import optuna

    config.validate()
    storage = open_storage(storage_url)
    study = _retry(
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


def load_study(storage_url: str, name: str, heartbeat: bool = True) -> "tuple[optuna.Study, SweepConfig]":
    """Open an existing sweep and its stored config; ``heartbeat=False`` for readers (status, ingest)."""
    import optuna

    storage = open_storage(storage_url)
    try:
        study = optuna.load_study(study_name=safe_name(name), storage=storage)
    except KeyError as exc:
        names = [s.study_name for s in optuna.get_all_study_summaries(storage)]
        raise SweepError(
            f"No sweep named {name!r} in {_redact(storage_url)}; known: {', '.join(names) or 'none'}. "
            "Start one with `advisor sweep start --plan plan.yaml`."
        ) from exc
    stored = study.user_attrs.get(CONFIG_ATTR)
    if stored is None:
        raise SweepError(f"Study {name!r} was not created by `advisor sweep start` (it has no sweep config).")
    config = SweepConfig.from_dict(stored)
    if heartbeat:
        storage = open_storage(storage_url, config)
        study = optuna.load_study(study_name=name, storage=storage, sampler=make_sampler(config, _seed_salt()), pruner=make_pruner(config))
    return study, config


def request_stop(storage_url: str, name: str) -> None:
    """Ask every worker of the sweep (on any machine) to stop after its current trial."""
    study, _ = load_study(storage_url, name, heartbeat=False)
    study.set_user_attr(STOP_ATTR, True)


# ----------------------------------------------------------------------------------------- budget

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


# ----------------------------------------------------------------------------------------- worker

class SweepInterrupted(Exception):
    """Raised inside a trial when the worker was asked to stop (SIGTERM or `advisor sweep stop`)."""


class TrialRun:
    """What an objective gets for one trial: its parameters, where to report, and the sweep."""

    def __init__(self, trial: "optuna.Trial", params: dict[str, Any], config: SweepConfig, workspace: Workspace,
                 feasibility: Feasibility | None, stop: threading.Event) -> None:
        self.trial = trial
        self.params = params
        self.config = config
        self.workspace = workspace
        self.feasibility = feasibility
        self.overrides: dict[str, Any] = dict(trial.user_attrs.get(ATTR_OVERRIDES) or {})
        self._stop = stop
        self.tokens = 0
        self.reports: list[tuple[int, float]] = []

    @property
    def number(self) -> int:
        return self.trial.number

    @property
    def study_name(self) -> str:
        return self.trial.study.study_name

    def check_feasible(self, concrete: Any) -> None:
        """Prune (with the estimator's reason) a configuration that will not fit the device."""
        if self.feasibility is None:
            return
        ok, reason = self.feasibility(concrete)
        if not ok:
            self.prune(f"infeasible: {reason}")

    def prune(self, reason: str) -> None:
        import optuna

        self.trial.set_user_attr(ATTR_PRUNED, reason)
        raise optuna.TrialPruned(reason)

    def report(self, step: int, value: float, tokens: int | None = None, final: bool = False) -> None:
        """Record an intermediate value (validation loss) at ``step``; prunes when the pruner says so.

        Use it as (or inside) the training loop's ``on_eval`` callback: the exception it raises
        stops training. ``final``: the trial's last evaluation, recorded but never pruned (its tokens
        are already spent; pruning it then would only throw the finished trial away).
        """
        if tokens is not None:
            self.tokens = int(tokens)
            self.trial.set_user_attr(ATTR_TOKENS, self.tokens)
        if self._stop.is_set():
            raise SweepInterrupted("interrupted: the worker was asked to stop")
        if value is None or not math.isfinite(value):
            self.prune(f"diverged: validation loss {value} at step {step}")
        self.reports.append((int(step), float(value)))
        self.trial.report(float(value), int(step))
        if not final and self.trial.should_prune():
            c = self.config
            if startup_stops_at_first_rung(c) and self.trial.number < c.n_startup_trials:
                self.prune(f"pruner: start-up trial, explored up to the first rung ({c.metric} {value:.4g} at step {step})")
            self.prune(f"pruner: {self.config.metric} {value:.4g} at step {step} was not among the best at this rung")

    def stopping(self) -> bool:
        return self._stop.is_set()


@dataclass
class TrialOutcome:
    """What an objective returns for a completed trial."""

    value: float
    """The objective value (e.g. best validation loss)."""
    tokens: int = 0
    """Training tokens the trial consumed."""
    metrics: dict[str, float] = field(default_factory=dict)
    """Scalar metrics shown in status and copied to the leaderboard row."""
    result: dict[str, Any] | None = None
    """The trial's leaderboard payload (a ``RunRecord`` / ``EvalResult`` dict or a plain outcome, see
    ``studies.leaderboard.record_from_trial``), stored in the trial and ingested later."""
    artifacts: dict[str, str] = field(default_factory=dict)
    """Paths of what the trial made (adapter folder, index name ...)."""


@dataclass
class WorkerReport:
    """What one worker did before it exited."""

    worker: str
    trials: int
    reason: str


@contextlib.contextmanager
def _sigterm_sets(event: threading.Event) -> Iterator[None]:
    """SIGTERM (and SIGINT) set ``event`` instead of killing the process; a second signal kills."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous: dict[int, Any] = {}

    def handler(signum: int, frame: Any) -> None:  # noqa: ARG001
        if event.is_set():
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)
        log.warning("signal %s: stopping after the current evaluation step", signum)
        event.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        previous[sig] = signal.signal(sig, handler)
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


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
) -> WorkerReport:
    """Join sweep ``name`` and run trials until the budget is spent or a stop is requested.

    While other workers still run the last trials, this worker waits (checking heartbeats) so that
    a trial whose worker died is retried here rather than lost.
    """
    import optuna
    from optuna.trial import TrialState

    from studies.objectives import get_objective

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study, config = load_study(storage_url, name)
    objective = get_objective(config.objective)
    space = parse_space(config.space or objective.default_space())
    stop = stop or threading.Event()
    me = worker_id()
    poll = poll_seconds if poll_seconds is not None else max(0.5, min(5.0, config.heartbeat_interval / 2))
    ran = 0

    def one_trial(trial: "optuna.Trial") -> float:
        from studies.search_space import suggest

        _set_attr(trial, ATTR_WORKER, me)
        start = time.monotonic()
        run = TrialRun(trial, suggest(trial, space), config, workspace, feasibility, stop)
        try:
            outcome = objective.run(run)
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
            _set_attr(trial, ATTR_FAILED, f"{type(exc).__name__}: {exc}"[:2000])
            _set_attr(trial, ATTR_SECONDS, round(time.monotonic() - start, 3))
            raise
        _set_attr(trial, ATTR_SECONDS, round(time.monotonic() - start, 3))
        _set_attr(trial, ATTR_TOKENS, int(outcome.tokens or run.tokens))
        _set_attr(trial, ATTR_METRICS, {k: float(v) for k, v in outcome.metrics.items()})
        if outcome.artifacts:
            _set_attr(trial, "artifacts", outcome.artifacts)
        if outcome.result is not None:
            _set_attr(trial, ATTR_RESULT, outcome.result)
        return float(outcome.value)

    outage_since: float | None = None
    with _sigterm_sets(stop), warnings.catch_warnings():
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
                _retry(lambda: optuna.storages.fail_stale_trials(study))
                state = _retry(lambda: budget_state(study, config))
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
            except optuna.exceptions.UpdateFinishedTrialError as exc:
                # Our heartbeat was late (an overloaded machine): another worker failed the trial and
                # queued a retry. Nothing of it was recorded as complete; carry on with the next one.
                log.warning("a trial of this worker was failed by another one (missed heartbeat): %s", exc)
            except Exception as exc:
                # The storage went away (PostgreSQL restarted, network blip): wait and carry on. A trial cut
                # short stops beating; after the grace period it is failed and re-queued by the retry callback.
                if not _is_transient(exc):
                    raise
                outage_since = outage_since or time.monotonic()
                if time.monotonic() - outage_since > STORAGE_OUTAGE_S:
                    raise SweepError(
                        f"The Optuna storage {_redact(storage_url)} has been unreachable for {STORAGE_OUTAGE_S:.0f} s "
                        f"({type(exc).__name__}: {str(exc).splitlines()[0][:200]}). Check the database server, then rejoin "
                        f"with `advisor sweep worker --study {name} --storage URL`: finished trials are kept."
                    ) from exc
                log.warning("storage unavailable (%s); retrying", type(exc).__name__)
                time.sleep(min(5.0, max(0.5, poll)))
        log.info("worker %s exits after %d trial(s): %s", me, ran, reason)
    return WorkerReport(me, ran, reason)


def _set_attr(trial: "optuna.Trial", key: str, value: Any) -> None:
    """``trial.set_user_attr`` that tolerates a trial already failed by another worker's stale check."""
    import optuna

    try:
        trial.set_user_attr(key, value)
    except optuna.exceptions.UpdateFinishedTrialError:
        log.warning("trial %s was already finished by another worker; %s not stored", trial.number, key)


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


# ------------------------------------------------------------------------------------------ ingest

@dataclass
class IngestReport:
    """What :func:`ingest_study` did."""

    added: int
    """Rows new on the leaderboard."""
    completed: int
    """Completed trials carrying a result (each has exactly one row after ingest)."""
    without_result: int
    """Completed trials with no result to ingest (evaluation off)."""


def trial_records(storage_url: str, study: str) -> tuple[list[Any], int]:
    """The leaderboard records of the COMPLETE trials of ``study`` and how many had none.

    Only COMPLETE trials count: a worker killed after writing its result but before Optuna marked
    the trial complete leaves a FAIL trial whose retry will produce the row, so ingesting it would
    double the configuration.
    """
    from optuna.trial import TrialState

    from studies.leaderboard import record_from_trial

    loaded, _config = load_study(storage_url, study, heartbeat=False)
    records, without = [], 0
    for trial in loaded.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        data = trial.user_attrs.get(ATTR_RESULT)
        if not data:
            without += 1
            continue
        records.append(record_from_trial(study, trial.number, dict(data)))
    return records, without


def ingest_study(ws: Workspace, storage_url: str, study: str) -> IngestReport:
    """Copy the completed trials of ``study`` into the workspace's DuckDB leaderboard, once each.

    Idempotent (run ids come from (study, trial); ``Leaderboard.ingest`` skips known ids), so the
    driver, ``advisor sweep status`` and the app may all call it, at any time, concurrently. The
    leaderboard opens a short-lived connection and retries while another process holds the file.
    """
    from studies.leaderboard import Leaderboard

    records, without = trial_records(storage_url, study)
    added = Leaderboard(ws).ingest(records) if records else 0
    return IngestReport(added=added, completed=len(records), without_result=without)
