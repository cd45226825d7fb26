"""The catalogue of responsible-AI checks: results, configuration, registration, running.

Each check is registered under a name with a one-line description, a default threshold and what it
reads (the run's outputs, or the training data). Every check produces one number (``value``) and
passes when ``value <= threshold``; thresholds are overridable per call (:class:`ChecksConfig`,
``advisor checks --threshold NAME=VALUE``). A :class:`CheckResult` lists its findings (item id,
rule, snippet) so a reviewer can see why it failed. The checks themselves live next to this module
(:mod:`.sensitive`, :mod:`.dangerous`, :mod:`.output_quality`) and register on import of the package.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from core.config import Problems
from studies.evaluation.run_items import RunItem


@dataclass(frozen=True)
class Finding:
    """One thing a check flagged."""

    item_id: str
    rule: str
    snippet: str
    where: str = "output"
    """``output``, ``reference``, ``input`` (training data input) or ``data`` (training data output)."""


@dataclass
class CheckResult:
    """The outcome of one check: passes when ``value <= threshold`` (or when skipped)."""

    name: str
    passed: bool
    value: float
    threshold: float
    findings: list[Finding] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    skipped: str | None = None
    """Why the check could not run (no training data, no metric); a skipped check does not fail."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "passed": self.passed,
            "value": self.value,
            "threshold": self.threshold,
            "skipped": self.skipped,
            "details": self.details,
            "findings": [f.__dict__ for f in self.findings],
        }


@dataclass
class ChecksConfig:
    """Which checks run and with which thresholds (defaults: every check, its default threshold)."""

    thresholds: dict[str, float] = field(default_factory=dict)
    """Per-check threshold overrides, ``{check name: maximum allowed value}``."""
    only: list[str] | None = None
    """Run just these checks (None: all registered checks)."""
    skip: list[str] = field(default_factory=list)
    """Checks not to run."""
    allow: list[str] = field(default_factory=list)
    """Literal strings never flagged (e.g. your own documentation domain or test key)."""
    group_min_items: int = 5
    """group_balance ignores groups with fewer test items than this."""
    primary_metric: str | None = None
    """Metric for group_balance (None: chrf, else the first stored metric)."""

    def validate(self) -> "ChecksConfig":
        problems = Problems("checks config")
        for name in list(self.thresholds) + list(self.only or []) + list(self.skip):
            problems.check(name in CHECKS, f"unknown check {name!r}; known checks: {', '.join(CHECKS)}")
        for name, value in self.thresholds.items():
            problems.check(
                isinstance(value, (int, float)) and value >= 0, f"thresholds.{name} must be a number >= 0, but got {value!r}"
            )
        problems.check(self.group_min_items >= 1, f"group_min_items must be >= 1, but got {self.group_min_items}")
        problems.raise_if_any()
        return self

    def allows(self, snippet: str) -> bool:
        """True when the snippet contains a string the user allowed (never flagged)."""
        return any(a and a in snippet for a in self.allow)

    def threshold(self, name: str) -> float:
        return float(self.thresholds.get(name, CHECKS[name].threshold))

    def selected(self) -> list[str]:
        names = list(self.only) if self.only is not None else list(CHECKS)
        return [n for n in names if n not in self.skip]


@dataclass(frozen=True)
class CheckInputs:
    """What a check can read: the run's items (may be empty) and the training data (may be None)."""

    items: Sequence[RunItem]
    data: Sequence[Any] | None
    config: ChecksConfig
    run_id: str | None = None
    """The run judged, for checks that read what is stored beside it (``reads="run"``)."""
    workspace: Any = None


CheckFn = Callable[[CheckInputs, float], CheckResult]


@dataclass(frozen=True)
class CheckSpec:
    name: str
    doc: str
    """One line: what the check measures (its ``value``) and when it fails."""
    threshold: float
    reads: str
    """``outputs`` (needs a run's items), ``data`` (needs training data) or ``run`` (reads files beside the run)."""
    fn: CheckFn


CHECKS: dict[str, CheckSpec] = {}


def register_check(name: str, doc: str, threshold: float, reads: str) -> Callable[[CheckFn], CheckFn]:
    """Decorator: add a check to the registry."""
    if reads not in {"outputs", "data", "run"}:
        raise ValueError(f"reads must be 'outputs', 'data' or 'run', got {reads!r}")

    def wrap(fn: CheckFn) -> CheckFn:
        if name in CHECKS:
            raise ValueError(f"check {name!r} is already registered")
        CHECKS[name] = CheckSpec(name, doc, threshold, reads, fn)
        return fn

    return wrap


def snippet(text: str, start: int, end: int, width: int = 30) -> str:
    """The matched span of ``text`` with ``width`` characters of context on each side, on one line."""
    lo, hi = max(0, start - width), min(len(text), end + width)
    return ("…" if lo else "") + text[lo:hi].replace("\n", " ") + ("…" if hi < len(text) else "")


def run_checks(
    items: Sequence[RunItem] | None = None,
    data: Sequence[Any] | None = None,
    config: ChecksConfig | None = None,
    *,
    run_id: str | None = None,
    workspace: Any = None,
) -> list[CheckResult]:
    """Run the selected checks over a run's items and/or training data (Pairs, dicts with input/output)."""
    config = (config or ChecksConfig()).validate()
    inputs = CheckInputs(list(items or []), None if data is None else list(data), config, run_id, workspace)
    results = []
    for name in config.selected():
        spec = CHECKS[name]
        threshold = config.threshold(name)
        if spec.reads == "outputs" and items is None:
            results.append(CheckResult(name, True, 0.0, threshold, skipped="no run given"))
            continue
        if spec.reads == "run" and (run_id is None or workspace is None):
            results.append(CheckResult(name, True, 0.0, threshold, skipped="no workspace run given"))
            continue
        results.append(spec.fn(inputs, threshold))
    return results


def run_checks_for_run(ws: Any, run_id: str, data: Sequence[Any] | None = None, config: ChecksConfig | None = None) -> list[CheckResult]:
    """Load ``run_id``'s predictions from the workspace and run the checks (training data optional)."""
    from studies.evaluation.run_items import load_run_items

    return run_checks(load_run_items(ws, run_id), data, config, run_id=run_id, workspace=ws)


def load_training_data(path: str) -> list[Any]:
    """The pairs of a data file for the data checks (validated like every other data set)."""
    from studies.data.datasets import load_pairs

    return list(load_pairs(path).pairs)
