"""Serving cost at the team's volume, from measured latency and tokens and an editable price table.

A self-hosted system is billed for the machine time its answers take: one request costs its mean
measured latency times the device's price per hour (:mod:`studies.evaluation.prices`, overridable by a
JSON price table). A hosted API baseline is billed per token instead, from the measured prompt and
completion tokens at the prices the user gives. Per month assumes 30 days at ``requests_per_day``.

The break-even between RAG and fine-tuning: RAG trains nothing but answers with longer prompts
(slower, dearer per request); fine-tuning pays its training once. Fine-tuning pays back after
``training cost / (RAG cost per request - fine-tune cost per request)`` requests, when RAG is the
dearer per request; otherwise never.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.config import Problems
from core.errors import ConfigError
from studies.evaluation import prices

DAYS_PER_MONTH = 30
HOURS_PER_MONTH = 24 * DAYS_PER_MONTH


@dataclass
class PriceTable:
    """Device prices (USD per hour) and hosted-API prices (USD per million tokens), editable as JSON.

    The JSON file looks like ``{"per_hour": {"cpu": 0.1, "nvidia-l4": 0.7}, "api": {"gpt-x": {"input": 0.15, "output": 0.6}}}``;
    devices it does not name keep the built-in prices.
    """

    per_hour: dict[str, float] = field(default_factory=lambda: dict(prices.PRICE_PER_HOUR))
    api: dict[str, dict[str, float]] = field(default_factory=dict)
    """Hosted model name -> ``{"input": USD per 1M prompt tokens, "output": USD per 1M completion tokens}``."""
    source: str = "built-in"

    def validate(self) -> "PriceTable":
        problems = Problems("price table")
        for name, value in self.per_hour.items():
            problems.check(isinstance(value, (int, float)) and value >= 0, f"per_hour.{name} must be a number >= 0, but got {value!r}")
        for name, entry in self.api.items():
            ok = isinstance(entry, dict) and all(isinstance(entry.get(k), (int, float)) and entry[k] >= 0 for k in ("input", "output"))
            problems.check(ok, f"api.{name} must be {{'input': USD per 1M tokens >= 0, 'output': ...}}, but got {entry!r}")
        problems.raise_if_any()
        return self

    def hourly(self, device: str | None) -> float:
        """USD per hour of ``device``, from this table (unknown GPUs use its 'gpu' price)."""
        name = (device or "cpu").lower().replace(" ", "-")
        if name in self.per_hour:
            return float(self.per_hour[name])
        if name.startswith("cpu"):
            return float(self.per_hour.get("cpu", prices.PRICE_PER_HOUR["cpu"]))
        for key in sorted(self.per_hour, key=len, reverse=True):
            if key.startswith("nvidia-") and key.split("-", 1)[1] in name:
                return float(self.per_hour[key])
        return float(self.per_hour.get("gpu", prices.PRICE_PER_HOUR["gpu"]))


def load_price_table(path: str | Path | None) -> PriceTable:
    """The built-in table, overridden by the JSON file at ``path`` when given (see :class:`PriceTable`)."""
    table = PriceTable()
    if path is None:
        return table
    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"Price table {p} is unreadable ({exc}); it must be JSON like "
                          '{"per_hour": {"cpu": 0.1}, "api": {"NAME": {"input": 0.15, "output": 0.6}}}.') from exc
    if not isinstance(data, dict) or set(data) - {"per_hour", "api"}:
        raise ConfigError(f"Price table {p} may only hold the keys 'per_hour' and 'api', got {sorted(data) if isinstance(data, dict) else type(data).__name__}.")
    table.per_hour.update({str(k).lower(): v for k, v in (data.get("per_hour") or {}).items()})
    table.api.update(data.get("api") or {})
    table.source = str(p)
    return table.validate()


@dataclass(frozen=True)
class ServingProfile:
    """What one system measured per request on the test split, and what building it cost."""

    name: str
    kind: str
    latency_s: float
    """Mean seconds per request."""
    latency_p95_s: float
    prompt_tokens: float
    """Mean prompt tokens per request."""
    completion_tokens: float
    device: str = "cpu"
    build_usd: float = 0.0
    """One-off cost to build (training); 0 for systems that train nothing."""
    api_model: str | None = None
    """Set for a hosted baseline billed per token (a name in the price table's ``api``)."""


@dataclass(frozen=True)
class ServingCost:
    """One system's cost at a volume, and its latency against the budget."""

    name: str
    kind: str
    per_request_usd: float
    per_1k_usd: float
    per_month_usd: float
    build_usd: float
    machines: int
    """Machines busy enough to keep up with the volume (self-hosted; 0 for an API)."""
    always_on_month_usd: float
    """Those machines kept on all month: the bill when they cannot scale to zero."""
    latency_p95_s: float
    latency_budget_s: float | None
    within_budget: bool | None
    basis: str
    """How the per-request cost was computed, in words."""

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def serving_cost(profile: ServingProfile, requests_per_day: float, table: PriceTable | None = None,
                 latency_budget_s: float | None = None) -> ServingCost:
    """Cost of ``profile`` at ``requests_per_day`` (see the module docstring)."""
    if requests_per_day < 0 or not math.isfinite(requests_per_day):
        raise ConfigError(f"requests_per_day must be a finite number >= 0, but got {requests_per_day!r}.")
    table = table or PriceTable()
    if profile.api_model is not None:
        if profile.api_model not in table.api:
            raise ConfigError(f"No API price for {profile.api_model!r} in the price table ({table.source}); add "
                              f'"api": {{"{profile.api_model}": {{"input": USD_PER_1M, "output": USD_PER_1M}}}}.')
        p = table.api[profile.api_model]
        per_request = (profile.prompt_tokens * p["input"] + profile.completion_tokens * p["output"]) / 1e6
        machines, always_on = 0, 0.0
        basis = f"{profile.prompt_tokens:.0f} prompt + {profile.completion_tokens:.0f} completion tokens at ${p['input']:g}/${p['output']:g} per 1M"
    else:
        hourly = table.hourly(profile.device)
        per_request = profile.latency_s * hourly / 3600.0
        busy = requests_per_day * profile.latency_s / 86400.0
        machines = max(1, math.ceil(busy)) if requests_per_day > 0 else 0
        always_on = machines * HOURS_PER_MONTH * hourly
        basis = f"{profile.latency_s:.3g} s per request on {profile.device} at ${hourly:g}/h"
    within = None if latency_budget_s is None else profile.latency_p95_s <= latency_budget_s
    return ServingCost(
        name=profile.name, kind=profile.kind, per_request_usd=per_request, per_1k_usd=1000 * per_request,
        per_month_usd=per_request * requests_per_day * DAYS_PER_MONTH, build_usd=profile.build_usd, machines=machines,
        always_on_month_usd=always_on, latency_p95_s=profile.latency_p95_s, latency_budget_s=latency_budget_s,
        within_budget=within, basis=basis,
    )


@dataclass(frozen=True)
class BreakEven:
    """When fine-tuning's training cost is paid back by cheaper requests than RAG's."""

    rag: str
    fine_tune: str
    training_usd: float
    saving_per_request_usd: float
    """RAG's cost per request minus the fine-tune's (<= 0: fine-tuning never pays back)."""
    requests: float | None
    """Requests until break-even (None: never)."""
    days: float | None
    """At the stated volume (None: never, or no volume)."""
    sentence: str


def usd(x: float) -> str:
    """Dollars readable at any size: $0.0020, $1.25, $1,234.50."""
    return f"${x:.4f}" if abs(x) < 0.01 else f"${x:,.2f}"


def break_even(rag: ServingCost, fine_tune: ServingCost, requests_per_day: float) -> BreakEven:
    """Requests (and days at ``requests_per_day``) until ``fine_tune``'s build cost is repaid against ``rag``."""
    saving = rag.per_request_usd - fine_tune.per_request_usd
    training = fine_tune.build_usd - rag.build_usd
    if training <= 0:
        return BreakEven(rag.name, fine_tune.name, training, saving, 0.0, 0.0,
                         f"{fine_tune.name} cost no more to build than {rag.name}: nothing to pay back.")
    if saving <= 0:
        return BreakEven(rag.name, fine_tune.name, training, saving, None, None,
                         f"{fine_tune.name} is not cheaper per request than {rag.name}, so its {usd(training)} of training never pays back.")
    requests = training / saving
    days = requests / requests_per_day if requests_per_day > 0 else None
    if days is None:
        when = ""
    elif days < 1:
        when = f", within the first day at {requests_per_day:,.0f} requests/day"
    else:
        when = f", about {days:,.0f} day{'' if round(days) == 1 else 's'} at {requests_per_day:,.0f} requests/day"
    return BreakEven(rag.name, fine_tune.name, training, saving, requests, days,
                     f"{fine_tune.name}'s {usd(training)} of training pays back against {rag.name}'s longer prompts after "
                     f"{requests:,.0f} requests{when}.")
