"""What a LoRA sweep knows before its first trial: enqueued seed trials from the plan and published defaults.

Issue #7 measured pruned TPE starting cold: on a 12-trial budget it spent most trials finding the
learning rate. Practitioners do not start cold, so neither does a sweep. A new LoRA study gets, as its
first trials (Optuna ``enqueue_trial``; the sampler takes over after them):

1. the plan's recommended configuration: its fixed ``base`` settings with, for each searched
   parameter, the published choice (rank 16, alpha = 2 x rank, all linear layers, no dropout, LoRA)
   and the learning rate scaled to the model size (:func:`lr_for_model`);
2. published good defaults, each projected into the sweep's space (nearest choice, clipped range):
   - LoRA (Hu et al. 2021): rank 8 on q/v projections, alpha 16;
   - QLoRA (Dettmers et al. 2023): rank 64, alpha 16, every linear layer, dropout 0.1 (<= 13B) / 0.05;
   - the learning rate at 1/3 and 3x the size-scaled one (the bracket a practitioner tries next);
3. with a learning-rate range test (:func:`learn_lr_range`, ``tuning.lr_range``): its suggestion
   replaces the size-scaled rate in every seed, and the bracket is [best/30, best].

Learning rate by model size: QLoRA used 2e-4 for 7B/13B and 1e-4 for 33B/65B, which a
``2e-4 * sqrt(7e9 / params)`` law fits (it gives 0.92e-4 at 33B); for SmolLM2-135M it gives 1.4e-3,
the rate the training benchmarks use. Clipped to [2e-5, 2e-3].
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from studies.sweeps.search_space import ParamSpec, SearchSpace, _label, parse_space

if TYPE_CHECKING:  # pragma: no cover
    import optuna

    from core.workspace import Workspace
    from studies.sweeps.config import SweepConfig
    from tuning.lr_range import LrRange

log = logging.getLogger(__name__)

DEFAULT_MODEL_PARAMS = 134.5e6
"""SmolLM2-135M-Instruct, the default base."""
SEED_ATTR = "prior"
"""Trial user attribute naming where a seed trial came from."""


@dataclass
class SeedTrial:
    """One enqueued first trial: parameters in the sweep's space and where they came from."""

    source: str
    params: dict[str, Any] = field(default_factory=dict)


def lr_for_model(params: float) -> float:
    """A LoRA learning rate for a model of ``params`` parameters (see the module docstring)."""
    return float(min(2e-3, max(2e-5, 2e-4 * math.sqrt(7e9 / max(params, 1e6)))))


def model_params(spec: str | None) -> float:
    """Parameter count of a base-model spec: the default, a size ('8B'), or a local folder's config.json."""
    if spec in (None, "", "smollm2", "default"):
        return DEFAULT_MODEL_PARAMS
    text = str(spec).strip()
    units = {"k": 1e3, "m": 1e6, "b": 1e9, "t": 1e12}
    if text[-1:].lower() in units:
        try:
            return float(text[:-1]) * units[text[-1].lower()]
        except ValueError:
            pass
    config = Path(text) / "config.json"
    if config.is_file():
        try:
            c = json.loads(config.read_text(encoding="utf-8"))
            h, layers, inter = int(c["hidden_size"]), int(c["num_hidden_layers"]), int(c.get("intermediate_size", 4 * c["hidden_size"]))
            heads = int(c.get("num_attention_heads", 1))
            kv = int(c.get("num_key_value_heads", heads)) * (h // max(heads, 1))
            return float(int(c.get("vocab_size", 0)) * h + layers * (h * (2 * h + 2 * kv) + 3 * h * inter))
        except (ValueError, KeyError, TypeError):
            pass
    log.info("Unknown size of base model %r; assuming the default's for the learning-rate prior", spec)
    return DEFAULT_MODEL_PARAMS


def published_seeds(params: float, lr: float | None = None) -> list[SeedTrial]:
    """The recommended configuration and published defaults, in TrainConfig terms (before projection)."""
    lr = lr or lr_for_model(params)
    large = params > 20e9
    recommended = {"learning_rate": lr, "rank": 16, "alpha_ratio": 2.0, "target_modules": "all-linear", "dropout": 0.0,
                   "method": "lora", "dora": False, "qlora": False}
    return [
        SeedTrial("plan: recommended (rank 16, alpha 2x, all-linear, size-scaled learning rate)", recommended),
        SeedTrial("published: LoRA (Hu et al. 2021), rank 8 on q/v, alpha 16",
                  {**recommended, "rank": 8, "alpha_ratio": 2.0, "target_modules": ["q_proj", "v_proj"]}),
        SeedTrial("published: QLoRA (Dettmers et al. 2023), rank 64, alpha 16, all-linear",
                  {**recommended, "rank": 64, "alpha_ratio": 0.25, "dropout": 0.05 if large else 0.1}),
        SeedTrial("learning-rate bracket: 1/3 of the recommended", {**recommended, "learning_rate": lr / 3}),
        SeedTrial("learning-rate bracket: 3x the recommended", {**recommended, "learning_rate": lr * 3}),
    ]


def project(values: dict[str, Any], space: SearchSpace) -> dict[str, Any]:
    """``values`` as Optuna parameters of ``space``: nearest categorical choice (stored label), range clipped.

    Parameters the space does not search are left out (the sweep's ``base`` decides them).
    """
    out: dict[str, Any] = {}
    for name, spec in space.items():
        if spec.kind == "fixed" or name not in values:
            continue
        value = values[name]
        if spec.kind == "categorical":
            out[name] = _label(_nearest(value, spec))
        else:
            low, high = float(spec.low), float(spec.high)  # type: ignore[arg-type]
            v = min(max(float(value), low), high)
            if spec.kind == "int":
                v = int(round(v))
            elif spec.step:
                v = low + round((v - low) / spec.step) * spec.step
            out[name] = v
    return out


def _nearest(value: Any, spec: ParamSpec) -> Any:
    choices = list(spec.choices)
    for c in choices:
        if _label(c) == _label(value):
            return c
    numeric = [c for c in choices if isinstance(c, (int, float)) and not isinstance(c, bool)]
    if isinstance(value, (int, float)) and not isinstance(value, bool) and numeric:
        # ranks and ratios act multiplicatively: nearest on a log scale
        return min(numeric, key=lambda c: abs(math.log(max(c, 1e-12)) - math.log(max(value, 1e-12))))
    if isinstance(value, (list, tuple)) or value == "all-linear":
        return min(choices, key=lambda c: 0 if _label(c) == _label(value) else 1 if isinstance(c, type(value)) else 2)
    return choices[0]


def seed_trials(config: "SweepConfig", lr_range: "LrRange | None" = None) -> list[SeedTrial]:
    """The distinct seed trials of a LoRA sweep (projected into its space, first source kept)."""
    space = parse_space(config.space)
    params = model_params(config.base.get("model") or config.base.get("base_model"))
    lr = lr_range.suggested if lr_range is not None and lr_range.suggested else None
    seeds = published_seeds(params, lr)
    if lr_range is not None and lr_range.useful:
        low, high = lr_range.useful
        seeds[3] = SeedTrial("learning-rate range test: bottom of the useful range", {**seeds[0].params, "learning_rate": low})
        seeds[4] = SeedTrial("learning-rate range test: a third of the rate of the lowest loss", {**seeds[0].params, "learning_rate": high / 3})
    out: list[SeedTrial] = []
    seen: set[str] = set()
    for seed in seeds:
        projected = project(seed.params, space)
        key = json.dumps(projected, sort_keys=True, default=str)
        if projected and key not in seen:
            seen.add(key)
            out.append(SeedTrial(seed.source, projected))
    return out[: max(1, config.n_trials // 2)] if getattr(config, "n_trials", None) else out


def enqueue_priors(study: "optuna.Study", config: "SweepConfig", lr_range: "LrRange | None" = None) -> list[SeedTrial]:
    """Enqueue the seed trials of a new LoRA study (other objectives: nothing). Returns what was enqueued."""
    if config.objective != "lora" or study.trials:
        return []
    seeds = seed_trials(config, lr_range)
    for seed in seeds:
        study.enqueue_trial(seed.params, user_attrs={SEED_ATTR: seed.source})
    if lr_range is not None:
        study.set_user_attr("lr_range_test", lr_range.to_dict())
    return seeds


def learn_lr_range(config: "SweepConfig", workspace: "Workspace", steps: int = 24) -> "LrRange":
    """Run a learning-rate range test on the sweep's data and base settings (its recommended seed's adapter)."""
    from studies.sweeps.objectives.lora import train_config_for
    from tuning.lr_range import lr_range_test

    train = _train_examples(config, workspace)
    seed = published_seeds(model_params(config.base.get("model")))[0]
    params = {k: v for k, v in seed.params.items() if k not in ("dora", "qlora")}
    train_config = train_config_for(config.base, params)
    return lr_range_test(train_config, train, workspace, steps=steps)


def _train_examples(config: "SweepConfig", workspace: "Workspace") -> list[Any]:
    from core.errors import SweepError
    from studies.data.splits import load_split, make_split

    data = config.data
    if data.split:
        split = load_split(workspace, data.split)
    elif data.dataset:
        from studies.data.datasets import load_pairs

        split = make_split(load_pairs(data.dataset), seed=data.seed)
    else:
        raise SweepError("The sweep has no data for a learning-rate range test: set data.split or data.dataset.")
    return list(split.train)[: data.train_limit]
