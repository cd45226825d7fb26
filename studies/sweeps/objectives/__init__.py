"""Sweep objectives behind a small protocol and a registry: ``lora``, ``rag`` and ``synthetic``.

An objective turns one trial's sampled parameters into a trained/evaluated system and a number.
It reports intermediate values through ``run.report(step, value, tokens)`` (which prunes), lets
``run.check_feasible(config)`` veto configurations that will not fit, and returns a
:class:`~studies.sweeps.trials.TrialOutcome` whose ``result`` becomes the trial's leaderboard row.

Register a new one with ``register_objective("name", factory)``; a sweep config may also name an
importable ``"package.module:factory"``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

from core.errors import SweepError
from studies.sweeps.trials import TrialOutcome, TrialRun


@runtime_checkable
class SweepObjective(Protocol):
    """What the worker loop needs from an objective."""

    name: str

    def default_space(self) -> dict[str, Any]:
        """The search space (YAML form) used when the sweep config gives none."""
        ...

    def run(self, run: TrialRun) -> TrialOutcome:
        """Run one trial; raise ``optuna.TrialPruned`` (via ``run.report`` / ``run.prune``) to prune."""
        ...


def check_base(objective: SweepObjective, base: dict[str, Any]) -> None:
    """Refuse a sweep's fixed settings that the objective cannot read, before any trial runs.

    Objectives may define ``check_base(base)`` (the built-ins do: names, and types where the whole
    settings live in ``base``); one without it accepts any ``base``.
    """
    check = getattr(objective, "check_base", None)
    if callable(check):
        check(base)


_REGISTRY: dict[str, Callable[[], SweepObjective]] = {}


def register_objective(name: str, factory: Callable[[], SweepObjective]) -> None:
    """Make ``factory`` available to sweeps as ``objective: name``."""
    _REGISTRY[name] = factory


def objective_names() -> list[str]:
    return sorted(_REGISTRY)


def get_objective(name: str) -> SweepObjective:
    """The registered objective ``name`` (or an importable ``module:factory``)."""
    if name in _REGISTRY:
        return _REGISTRY[name]()
    if ":" in name:
        module, _, attr = name.partition(":")
        try:
            factory = getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError) as exc:
            raise SweepError(f"Objective {name!r} cannot be imported: {exc}.") from exc
        return factory()
    raise SweepError(f"Unknown sweep objective {name!r}; known: {', '.join(objective_names())} (or module:factory).")


def _builtin(path: str) -> Callable[[], SweepObjective]:
    """A factory that imports its objective on first use (objectives import the trial types, not this registry)."""

    def factory() -> SweepObjective:
        module, _, attr = path.partition(":")
        return getattr(importlib.import_module(module), attr)()

    return factory


register_objective("synthetic", _builtin("studies.sweeps.objectives.synthetic:SyntheticObjective"))
register_objective("lora", _builtin("studies.sweeps.objectives.lora:LoraObjective"))
register_objective("rag", _builtin("studies.sweeps.objectives.rag:RagObjective"))
