"""Search spaces for sweeps: a small typed description that turns into Optuna suggestions.

One entry per parameter, written the way a plan or a YAML file naturally says it::

    learning_rate: {low: 1.0e-5, high: 1.0e-3, log: true}   # float range (log scale)
    rank: [4, 8, 16, 32]                                   # categorical
    lora_dropout: {low: 0.0, high: 0.1}                    # float range
    max_steps: {low: 20, high: 60, step: 20}               # int range (both ends ints)
    target_modules: [[q_proj, v_proj], all-linear]         # categorical of lists
    max_length: 128                                        # fixed value (not searched)

Optuna's categorical choices must be scalars (None, bool, int, float, str), so a choice that is a
list (``[q_proj, v_proj]``) is stored under a label (``"q_proj+v_proj"``) and decoded back by
:func:`suggest`; the storage and optuna-dashboard show the label.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from core.config import Problems
from core.errors import ConfigError

if TYPE_CHECKING:  # pragma: no cover
    import optuna

Kind = Literal["float", "int", "categorical", "fixed"]


@dataclass(frozen=True)
class ParamSpec:
    """One searched (or fixed) parameter."""

    name: str
    """Parameter name (a TrainConfig / RagConfig field, or an objective-specific knob)."""
    kind: Kind
    """float, int, categorical or fixed."""
    low: float | None = None
    """Lower bound (float / int)."""
    high: float | None = None
    """Upper bound, inclusive (float / int)."""
    log: bool = False
    """Sample on a log scale (float / int)."""
    step: float | None = None
    """Grid step (float / int); None: continuous (float) or 1 (int)."""
    choices: tuple[Any, ...] = field(default_factory=tuple)
    """Choices (categorical), or the single value (fixed)."""

    def to_dict(self) -> dict[str, Any]:
        """The YAML form accepted by :func:`parse_space`."""
        if self.kind == "fixed":
            return self.choices[0] if self.choices else None  # type: ignore[return-value]
        if self.kind == "categorical":
            return list(self.choices)  # type: ignore[return-value]
        out: dict[str, Any] = {"low": self.low, "high": self.high}
        if self.log:
            out["log"] = True
        if self.step is not None:
            out["step"] = self.step
        return out


SearchSpace = dict[str, ParamSpec]


def _label(choice: Any) -> Any:
    """The Optuna-storable label of a categorical choice."""
    if isinstance(choice, (list, tuple)):
        return "+".join(str(c) for c in choice)
    if isinstance(choice, Mapping):
        return ",".join(f"{k}={v}" for k, v in choice.items())
    return choice


def parse_space(data: Mapping[str, Any] | None, what: str = "search space") -> SearchSpace:
    """Parse the YAML form (see the module docstring), listing every problem at once."""
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise ConfigError(f"Invalid {what}: expected a mapping of parameter: range/choices, got {type(data).__name__}.")
    problems = Problems(what)
    space: SearchSpace = {}
    for name, spec in data.items():
        if not isinstance(name, str) or not name:
            problems.add(f"parameter names must be non-empty strings, got {name!r}")
            continue
        if isinstance(spec, ParamSpec):
            space[name] = spec
        elif isinstance(spec, (list, tuple)):
            if not spec:
                problems.add(f"`{name}`: a list of choices must not be empty")
                continue
            labels = [_label(c) for c in spec]
            if len(set(map(repr, labels))) != len(labels):
                problems.add(f"`{name}`: choices must be distinct, got {list(spec)!r}")
                continue
            space[name] = ParamSpec(name, "categorical", choices=tuple(spec))
        elif isinstance(spec, Mapping) and ("low" in spec or "high" in spec):
            unknown = set(spec) - {"low", "high", "log", "step"}
            if unknown:
                problems.add(f"`{name}`: unknown keys {sorted(unknown)}; a range takes low, high, log, step")
                continue
            low, high = spec.get("low"), spec.get("high")
            log, step = bool(spec.get("log", False)), spec.get("step")
            numbers = [v for v in (low, high, step) if v is not None]
            if low is None or high is None or any(isinstance(v, bool) or not isinstance(v, (int, float)) for v in numbers):
                problems.add(f"`{name}`: a range needs numeric `low` and `high`, but got low={low!r}, high={high!r}")
                continue
            if not low <= high:
                problems.add(f"`{name}`: `low <= high` must hold, but got (low={low}, high={high})")
                continue
            if log and low <= 0:
                problems.add(f"`{name}`: a log range needs `low > 0`, but got low={low}")
                continue
            if log and step is not None:
                problems.add(f"`{name}`: `step` and `log: true` cannot be combined")
                continue
            if step is not None and step <= 0:
                problems.add(f"`{name}`: `step > 0` must hold, but got step={step}")
                continue
            kind: Kind = "int" if all(isinstance(v, int) for v in numbers) else "float"
            space[name] = ParamSpec(name, kind, low=low, high=high, log=log, step=step)
        elif isinstance(spec, Mapping) and "choices" in spec:
            choices = spec["choices"]
            if not isinstance(choices, (list, tuple)) or not choices:
                problems.add(f"`{name}`: `choices` must be a non-empty list, got {choices!r}")
                continue
            space[name] = ParamSpec(name, "categorical", choices=tuple(choices))
        else:
            space[name] = ParamSpec(name, "fixed", choices=(spec,))
    problems.raise_if_any()
    return space


def space_to_dict(space: SearchSpace) -> dict[str, Any]:
    """The YAML/JSON form of a parsed space (round-trips through :func:`parse_space`)."""
    return {name: spec.to_dict() for name, spec in space.items()}


def searched(space: SearchSpace) -> list[str]:
    """Names of the parameters that are actually searched (not fixed)."""
    return [name for name, spec in space.items() if spec.kind != "fixed"]


def suggest(trial: "optuna.Trial", space: SearchSpace) -> dict[str, Any]:
    """Ask the trial for every parameter of ``space``; categorical labels decode to their values."""
    values: dict[str, Any] = {}
    for name, spec in space.items():
        if spec.kind == "fixed":
            values[name] = spec.choices[0]
        elif spec.kind == "categorical":
            labels = [_label(c) for c in spec.choices]
            picked = trial.suggest_categorical(name, labels)
            values[name] = spec.choices[labels.index(picked)]
        elif spec.kind == "int":
            values[name] = trial.suggest_int(name, int(spec.low), int(spec.high), step=int(spec.step or 1), log=spec.log)  # type: ignore[arg-type]
        else:
            values[name] = trial.suggest_float(name, float(spec.low), float(spec.high), step=spec.step, log=spec.log)  # type: ignore[arg-type]
    return values


# Defaults: what a plan without its own search space gets.
DEFAULT_LORA_SPACE: dict[str, Any] = {
    # LoRA's working range: below 1e-4 a short trial barely moves, far above 1e-2 it diverges
    # (bench/results/sweeps.md); TPE narrows it down, the pruner stops both ends early.
    "learning_rate": {"low": 1.0e-4, "high": 1.0e-2, "log": True},
    "rank": [4, 8, 16, 32],
    "alpha_ratio": [1.0, 2.0],
    "dropout": {"low": 0.0, "high": 0.1},
    "target_modules": [["q_proj", "v_proj"], "all-linear"],
    "method": ["lora", "dora"],
}
"""LoRA defaults: learning rate, rank, alpha (as a multiple of the rank), dropout, target modules, DoRA on/off."""

DEFAULT_RAG_SPACE: dict[str, Any] = {
    "chunk_size": [64, 128, 256],
    "chunk_overlap": [0, 16],
    "top_k": [1, 3, 5],
    "index_type": ["flat", "hnsw"],
    "prompt_template": ["fewshot", "examples", "page"],
}
"""RAG defaults: chunking, top-k, index type and prompt template (the embedder is fixed unless listed)."""
