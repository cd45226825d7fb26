"""A sweep's typed config and the names of the trial attributes workers write (the contract of ingest, status and the app)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from core.config import Problems, from_dict, to_dict
from core.errors import ConfigError
from core.workspace import safe_name
from studies.sweeps.search_space import parse_space

log = logging.getLogger(__name__)


CONFIG_ATTR = "sweep_config"


STOP_ATTR = "stop_requested"


DEADLINE_ATTR = "deadline"


ATTR_TOKENS = "tokens"


ATTR_STEP = "step"  # [step, total_steps] of a running trial, written as it trains (the app shows it)


ATTR_METRICS = "metrics"


ATTR_RESULT = "result"  # the trial's RunRecord.to_dict() (studies.sweeps.ingest turns it into the row)


ATTR_PRUNED = "pruned_reason"


ATTR_FAILED = "fail_reason"


ATTR_OVERRIDES = "overrides"


ATTR_OOM_RETRY_OF = "oom_retry_of"


ATTR_SUPERSEDED = "superseded"


ATTR_WORKER = "worker"


ATTR_SECONDS = "seconds"


MAX_TRIALS = 100_000
"""Largest trial budget: a sweep is a search, not an endless loop (a mistyped budget is refused)."""


MAX_SECONDS = 366 * 24 * 3600.0
"""Longest wall-time budget (a year)."""


Feasibility = Callable[[Any], "tuple[bool, str]"]


"""``fits(config) -> (ok, reason)``: the estimator's verdict on a trial's concrete config."""


@dataclass
class SweepData:
    """Where a sweep's examples come from (the ``data:`` block of a sweep config)."""

    split: str | None = None
    """A frozen split version saved in the workspace (``advisor data split``)."""
    dataset: str | None = None
    """A pairs file, split with ``seed`` when the first trial runs (the split is saved in the workspace)."""
    seed: int = 0
    """Seed of the split made from ``dataset``."""
    train_limit: int | None = None
    """At most this many training examples per trial (None: all)."""
    val_limit: int | None = None
    """At most this many validation examples per trial (None: all)."""
    corpus: str | None = None
    """RAG sweeps: the corpus (tldr pages.jsonl, JSONL documents or a folder); ``base.corpus`` works too."""

    def validate(self) -> None:
        p = Problems("SweepConfig.data")
        p.check(self.train_limit is None or self.train_limit >= 1, f"`train_limit >= 1` must hold when set, but got {self.train_limit}")
        p.check(self.val_limit is None or self.val_limit >= 1, f"`val_limit >= 1` must hold when set, but got {self.val_limit}")
        p.raise_if_any()


@dataclass
class SweepConfig:
    """What a sweep searches, how, and for how long (stored in the study, so every worker sees it)."""

    name: str
    """Study name (also the folder ``<ws>/sweeps/<name>/``)."""
    objective: str = "lora"
    """Registered objective: lora, rag, synthetic (a cheap stand-in for checking storage and workers)."""
    space: dict[str, Any] = field(default_factory=dict)
    """Search space in the YAML form of ``studies.sweeps.search_space`` (empty: the objective's default)."""
    base: dict[str, Any] = field(default_factory=dict)
    """Fixed settings for every trial, in the objective's own terms: lora: TrainConfig fields (model,
    max_steps, eval_every, ...); rag: RagConfig fields plus corpus and model; synthetic: steps,
    step_seconds, tokens_per_step, oom_above_batch. Each objective reads it into its typed config and
    checks the names when the sweep starts (``SweepObjective.check_base``)."""
    data: SweepData = field(default_factory=SweepData)
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
    lr_range_steps: int = 0
    """LoRA: steps of a learning-rate range test on the sweep's data before a new study's first trial; its
    suggestion sets the seeded trials' learning rates (``tuning/lr_range.py``). 0: none (the published scaling)."""
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

    def __post_init__(self) -> None:
        if isinstance(self.data, Mapping):  # the YAML / stored form, or a caller's dict
            self.data = from_dict(SweepData, dict(self.data), what="SweepConfig.data")

    def validate(self) -> None:
        p = Problems("SweepConfig")
        try:
            safe_name(self.name)
        except Exception as exc:  # noqa: BLE001 - reported with the others
            p.add(f"`name`: {exc}")
        p.check(self.n_trials >= 1, f"`n_trials >= 1` must hold, but got n_trials={self.n_trials}")
        p.check(self.n_trials <= MAX_TRIALS, f"`n_trials <= {MAX_TRIALS}` must hold, but got n_trials={str(self.n_trials)[:40]}")
        p.check(self.max_tokens is None or 0 < self.max_tokens <= 10**15, f"`0 < max_tokens <= 10**15` must hold when set, but got {str(self.max_tokens)[:40]}")
        p.check(self.max_seconds is None or 0 < self.max_seconds <= MAX_SECONDS,
                f"`0 < max_seconds <= {MAX_SECONDS:.0f}` must hold when set, but got {self.max_seconds}")
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
        p.check(self.lr_range_steps == 0 or 4 <= self.lr_range_steps <= 1000,
                f"`lr_range_steps` must be 0 (no range test) or 4 to 1000, but got {self.lr_range_steps}")
        p.check(self.lr_range_steps == 0 or self.objective == "lora",
                f"`lr_range_steps` applies to LoRA sweeps only, but the objective is {self.objective!r}: remove it")
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
