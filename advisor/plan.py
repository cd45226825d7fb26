"""The experiment plan: what to try, in what order, on which data, for how much, and what counts as good.

``make_plan(answers, dataset=None, corpus=None)`` turns questionnaire answers (and optionally a
pairs file and a corpus) into a typed :class:`Plan`; ``plan.to_yaml()`` writes it with a header
showing the command that runs it; ``load_plan(path)`` reads it back, validated. A plan whose
models cannot be trained on the stated GPU even in its cheapest configuration is refused with
the estimator's reason; the sweep marks the individual trials that would not fit as infeasible.

The LoRA and RAG search spaces use the YAML form of ``studies.sweeps.search_space`` and the field names
of ``TrainConfig`` / ``RagConfig``; :meth:`Plan.sweep_config` gives the sweep its config.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from core.config import Problems, dump_yaml, from_dict, load_config, to_dict
from core.errors import ConfigError

RUN_COMMAND = "advisor sweep start --plan plan.yaml"
DEFAULT_LADDER = ["smollm2"]
"""The first rung of every model ladder: SmolLM2-135M-Instruct, shipped offline."""


@dataclass
class DataPlan:
    """The data set, its frozen split and the RAG corpus."""

    dataset: str | None = None
    """Pairs file (JSONL/CSV) to fine-tune and evaluate on; None: give one before running."""
    split_seed: int = 0
    """Seed of the frozen train/validation/test split."""
    split_version: str | None = None
    """A frozen split already saved in the workspace (wins over dataset + seed)."""
    corpus: str | None = None
    """Folder or JSONL of documents for RAG; None: RAG is planned but needs a corpus."""
    task: str | None = None
    """Task kind: classification, structured, command, short_answer or text (None: inferred from the data set)."""
    task_evidence: str | None = None
    """Why that kind (what `advisor data check` found in the outputs); informative only."""
    labels: list[str] = field(default_factory=list)
    """Classification label set (empty: the distinct training outputs)."""
    system_prompt: str | None = None
    """System prompt for prompted systems (None: built for the task kind from the data)."""


@dataclass
class RagPlan:
    """RAG configurations to try."""

    enabled: bool = True
    """Build and sweep a RAG baseline."""
    space: dict[str, Any] = field(default_factory=dict)
    """Search space over RagConfig fields (chunk_size, chunk_overlap, top_k, embedder, ...)."""
    trials: int = 8
    """RAG configurations to evaluate."""
    gold_hit_k: int | None = None
    """Report retrieval hit@k of each test item's gold document per document-RAG system (cited answers; None: not reported)."""
    tune_embedder: bool = False
    """Also fine-tune the embedder on the train pairs (`advisor rag tune-embedder`) and add it to `space.embedder`:
    retrieval that learns the team's vocabulary while the facts stay in the documents (a system of its own)."""


@dataclass
class LoraPlan:
    """The LoRA search space and its fixed settings."""

    enabled: bool = True
    """Run a LoRA sweep."""
    space: dict[str, Any] = field(default_factory=dict)
    """Search space over TrainConfig fields plus helpers alpha_ratio, dora, qlora (studies.sweeps.search_space form)."""
    base: dict[str, Any] = field(default_factory=dict)
    """Fixed TrainConfig settings for every trial (eval_every, gradient_checkpointing, ...)."""


@dataclass
class Budget:
    """How much the sweep may spend."""

    trials: int = 20
    """Finished LoRA trials."""
    max_tokens: int | None = None
    """Training tokens over all trials (None: no limit)."""
    max_wall_minutes: float | None = None
    """Wall time from `sweep start` (None: no limit)."""
    workers: int = 1
    """Parallel workers (one per GPU on a GPU machine)."""


@dataclass
class Plan:
    """An experiment plan the sweep command runs as is."""

    name: str = "plan"
    """Plan and sweep name."""
    recommendation: str = "rag+fine-tune"
    """The questionnaire's recommendation this plan tests."""
    method: Literal["lora", "dora", "qlora", "full"] = "lora"
    """Fine-tuning method chosen from model size and GPU."""
    device: str = "cpu"
    """Catalogue device every model on the ladder must fit (rtx4090, a100-80, cpu, ...)."""
    devices: int = 1
    """Devices of that kind available."""
    data: DataPlan = field(default_factory=DataPlan)
    """Data set, split and corpus."""
    models: list[str] = field(default_factory=lambda: list(DEFAULT_LADDER))
    """Base-model ladder, small first: 'smollm2', then sizes (8B) or local model folders."""
    rag: RagPlan = field(default_factory=RagPlan)
    """RAG configurations to try."""
    lora: LoraPlan = field(default_factory=LoraPlan)
    """LoRA search space."""
    budget: Budget = field(default_factory=Budget)
    """Trials, tokens and time the sweep may spend."""
    metrics: list[str] = field(default_factory=lambda: ["exact_match", "token_f1", "chrf"])
    """Metrics computed for every system (studies.evaluation.metrics names)."""
    primary_metric: str = "exact_match"
    """The metric systems are ranked by."""
    latency_budget_s: float | None = None
    """p95 seconds one answer may take (from the questionnaire's latency_budget); the report measures every system against it."""
    acceptance: dict[str, float] = field(default_factory=dict)
    """Acceptance thresholds for the promotion gate: metric -> minimum (prefix max: for maxima)."""
    human_review: bool = True
    """The gate requires blind human review before acceptance."""
    checks: list[str] = field(default_factory=lambda: [
        "secrets_in_outputs", "personal_data_in_outputs", "secrets_in_data", "personal_data_in_data",
        "dangerous_commands", "refusals_and_empty", "group_balance",
    ])
    """Responsible-AI checks run before acceptance (studies.governance.checks names)."""
    answers: dict[str, Any] = field(default_factory=dict)
    """The questionnaire answers the plan came from (for the decision record)."""
    notes: list[str] = field(default_factory=list)
    """Why the plan looks the way it does (estimates included)."""
    estimates: dict[str, Any] = field(default_factory=dict)
    """The training estimate for the first rung on the real data set (all estimates)."""
    compute: dict[str, Any] = field(default_factory=dict)
    """Without a GPU: the smallest model on this CPU vs a rented card, and which to choose."""
    calibration: dict[str, Any] = field(default_factory=dict)
    """A calibration run of the first rung here: estimated and measured side by side (empty: not run)."""

    @property
    def thresholds(self) -> dict[str, float]:
        """The acceptance thresholds (the gate reads ``plan.thresholds``)."""
        return dict(self.acceptance)

    def validate(self) -> None:
        p = Problems("Plan")
        from advisor.catalogue import get_device
        from advisor.estimate import resolve_model

        p.check(bool(self.name.strip()), "`name` must not be empty")
        p.check(self.devices >= 1, f"`devices >= 1` must hold, but got devices={self.devices}")
        p.check(len(self.models) >= 1, "`models` must name at least one base model (e.g. [smollm2])")
        p.check(self.budget.trials >= 1, f"`budget.trials >= 1` must hold, but got {self.budget.trials}")
        p.check(self.budget.max_tokens is None or self.budget.max_tokens > 0, f"`budget.max_tokens > 0` must hold when set, but got {self.budget.max_tokens}")
        p.check(self.budget.max_wall_minutes is None or self.budget.max_wall_minutes > 0, f"`budget.max_wall_minutes > 0` must hold when set, but got {self.budget.max_wall_minutes}")
        p.check(self.budget.workers >= 1, f"`budget.workers >= 1` must hold, but got {self.budget.workers}")
        p.check(self.rag.trials >= 1, f"`rag.trials >= 1` must hold, but got {self.rag.trials}")
        p.check(self.rag.gold_hit_k is None or self.rag.gold_hit_k >= 1, f"`rag.gold_hit_k >= 1` must hold when set, but got {self.rag.gold_hit_k}")
        p.check(self.latency_budget_s is None or self.latency_budget_s > 0,
                f"`latency_budget_s > 0` must hold when set, but got {self.latency_budget_s}")
        p.check(self.primary_metric in self.metrics, f"`primary_metric` {self.primary_metric!r} must be one of `metrics` {self.metrics}")
        kinds = ("classification", "structured", "command", "short_answer", "text")
        p.check(self.data.task is None or self.data.task in kinds, f"`data.task` must be one of {', '.join(kinds)}, but got {self.data.task!r}")
        p.check(self.rag.enabled or self.lora.enabled, "a plan must enable RAG, LoRA or both")
        for key, value in self.acceptance.items():
            name = key.split(":", 1)[1] if key.startswith(("min:", "max:")) else key
            p.check(name in self.metrics or key.startswith("max:"), f"`acceptance.{key}` names a metric not in `metrics` {self.metrics}")
            p.check(isinstance(value, (int, float)) and not isinstance(value, bool), f"`acceptance.{key}` must be a number, got {value!r}")
        try:
            get_device(self.device)
        except ConfigError as exc:
            p.add(f"`device`: {exc}")
        for model in self.models:
            try:
                resolve_model(model)
            except ConfigError as exc:
                p.add(f"`models`: {exc}")
        for what, space in (("lora.space", self.lora.space), ("rag.space", self.rag.space)):
            try:
                from studies.sweeps.search_space import parse_space

                parse_space(space, what=f"`{what}`")
            except ConfigError as exc:
                p.items.extend(line.strip()[2:] for line in str(exc).splitlines()[1:])
        p.raise_if_any()
        if self.lora.enabled:
            refusal = self.feasibility()
            if refusal:
                raise ConfigError(f"Plan refused: {refusal}")

    # ------------------------------------------------------------------ feasibility
    def cheapest_config(self, model: str) -> dict[str, Any]:
        """The least memory-hungry LoRA trial of the space for ``model``."""
        return _extreme_config(self.lora, model, cheapest=True)

    def costliest_config(self, model: str) -> dict[str, Any]:
        """The most memory-hungry LoRA trial of the space for ``model``."""
        return _extreme_config(self.lora, model, cheapest=False)

    def feasibility(self) -> str | None:
        """None when every model on the ladder can train on the device; else the reason it cannot."""
        from advisor.estimate import fits

        problems = []
        for model in self.models:
            ok, reason = fits(self.cheapest_config(model), self.device)
            if not ok:
                problems.append(f"model {model!r} even in the cheapest configuration of the search space {reason}")
        return "; ".join(problems) or None

    def feasibility_notes(self) -> list[str]:
        """What the estimator says about each rung (cheapest and costliest trial)."""
        from advisor.estimate import fits

        notes = []
        for model in self.models:
            ok, reason = fits(self.costliest_config(model), self.device)
            notes.append(f"{model}: largest trial {reason}" + ("" if ok else " (those trials will be marked infeasible by the sweep)"))
        return notes

    # ------------------------------------------------------------------ sweep
    def sweep_config(self, objective: Literal["lora", "rag"] = "lora", name: str | None = None, model: str | None = None) -> dict[str, Any]:
        """The sweep config (``studies.sweeps.config.SweepConfig`` fields) for one objective and ladder rung."""
        if self.data.split_version:
            data: dict[str, Any] = {"split": self.data.split_version}
        elif self.data.dataset:
            data = {"dataset": self.data.dataset, "seed": self.data.split_seed}
        else:
            raise ConfigError(
                f"Plan {self.name!r} has no data set: set `data.dataset` (a pairs file) or `data.split_version`, "
                "or re-create it with `advisor plan --answers FILE --data PAIRS.jsonl`."
            )
        rung = model or self.models[0]
        base: dict[str, Any]
        if objective == "lora":
            base = dict(self.lora.base)
            base["model"] = None if rung in ("smollm2", "default") else rung
            space = dict(self.lora.space)
            trials = self.budget.trials
        else:
            base = {"corpus": self.data.corpus} if self.data.corpus else {}
            space = dict(self.rag.space)
            trials = self.rag.trials
        return {
            "name": name or (self.name if objective == "lora" else f"{self.name}-rag"),
            "objective": objective,
            "space": space,
            "base": base,
            "data": data,
            "n_trials": trials,
            "max_tokens": self.budget.max_tokens,
            "max_seconds": self.budget.max_wall_minutes * 60 if self.budget.max_wall_minutes else None,
            "device": self.device,
            "eval_metrics": list(self.metrics),
        }

    # ------------------------------------------------------------------ io
    def to_dict(self) -> dict[str, Any]:
        return to_dict(self)

    def to_yaml(self, filename: str = "plan.yaml") -> str:
        what = f"{self.recommendation} ({self.method})" if "fine-tune" in self.recommendation else self.recommendation
        header = (
            f"Experiment plan {self.name!r}: {what} on {self.devices} x {self.device}.\n"
            f"Run it with:  {RUN_COMMAND.replace('plan.yaml', filename)}\n"
            "Edit freely; `advisor sweep start` validates it again (and refuses plans that do not fit the device)."
        )
        return dump_yaml(self, header=header)

    def save(self, path: str | os.PathLike[str]) -> Path:
        from core.atomic import atomic_write_text

        out = Path(path)
        atomic_write_text(out, self.to_yaml(str(path)))
        return out


def load_plan(path: str | os.PathLike[str]) -> Plan:
    """Read and validate a plan file (refused with the reason when it does not fit its device)."""
    return load_config(Plan, path)


def plan_from_dict(data: dict[str, Any]) -> Plan:
    return from_dict(Plan, data)


def _choices(space: dict[str, Any], key: str, default: Any) -> list[Any]:
    spec = space.get(key, default)
    if isinstance(spec, list):
        return spec
    if isinstance(spec, dict) and "low" in spec:
        return [spec["low"], spec["high"]]
    return [spec]


def _extreme_config(lora: LoraPlan, model: str, cheapest: bool) -> dict[str, Any]:
    space, base = lora.space, lora.base
    pick = min if cheapest else max
    methods = set()
    if True in _choices(space, "qlora", [False]):
        methods.add("qlora")
    if False in _choices(space, "qlora", [False]) or "qlora" not in space:
        methods.add(str(base.get("method", "lora")))
    for m in _choices(space, "method", []):
        methods.add(str(m))
    order = ["qlora", "lora", "dora", "full"]
    method = (min if cheapest else max)(methods or {"lora"}, key=order.index)
    targets = _choices(space, "target_modules", [base.get("target_modules", "all-linear")])
    if cheapest:
        target = min(targets, key=lambda t: 7 if t == "all-linear" else len(t) if isinstance(t, list) else 1)
    else:
        target = "all-linear" if "all-linear" in targets else max(targets, key=lambda t: len(t) if isinstance(t, list) else 1)
    ckpt = _choices(space, "gradient_checkpointing", [base.get("gradient_checkpointing", False)])
    return {
        "model": model,
        "method": method,
        "rank": pick(_choices(space, "rank", [base.get("rank", 16)])),
        "target_modules": target,
        "micro_batch_size": pick(_choices(space, "micro_batch_size", [base.get("micro_batch_size", 8)])),
        "max_length": pick(_choices(space, "max_length", [base.get("max_length", 256)])),
        "gradient_checkpointing": (True in ckpt) if cheapest else (False not in ckpt and True in ckpt),
    }


# --------------------------------------------------------------------------- make_plan
def make_plan(answers: dict[str, Any], dataset: str | None = None, corpus: str | None = None, name: str = "plan",
              calibration: Any = None) -> Plan:
    """A plan from questionnaire answers (raw or validated), an optional pairs file and corpus.

    ``calibration``: a :class:`advisor.estimate.calibrate.Calibration` of the first rung run here;
    its measured figures are recorded beside the estimates and replace the estimated CPU speed.
    """
    from advisor import rules as R
    from advisor.method import compute_options, pairs_bucket as bucket_of, read_data_stats
    from advisor.questions import validate_answers
    from advisor.recommend import recommend, target_device, target_model_size

    resolved = validate_answers(answers)
    from advisor.plan_task import choose_task, gold_hit_k, latency_budget, plan_metrics, read_data_facts

    stats = read_data_stats(dataset) if dataset else None
    rec = recommend(resolved, validate=False, data=stats)
    device, count = target_device(resolved)
    tie = f" (a tie with {', '.join(o for o in rec.tied if o != rec.recommendation)})" if rec.is_tie else ""
    notes = [f"Recommendation: {rec.recommendation}{tie} (confidence {rec.confidence:.0%}, margin {rec.margin:g} points)."]
    pairs_bucket = bucket_of(stats.pairs) if stats else resolved.get("labelled_pairs", "100_1k")
    if pairs_bucket == "unsure":
        pairs_bucket = "100_1k"
    if stats:
        notes.append(f"Data set {dataset}: {stats.pairs:,} pairs, mean ~{stats.mean_tokens:.0f} tokens, 99th percentile ~{stats.p99_tokens:.0f} tokens "
                     "(estimates use these, not the questionnaire's bucket).")
    max_length = 256
    if stats and stats.pairs:
        max_length = int(min(4096, max(128, 2 ** math.ceil(math.log2(stats.p99_tokens + 32)))))

    method = rec.method.name if rec.method else ("qlora" if device in ("t4",) else "lora")
    target = target_model_size(resolved)
    models = list(DEFAULT_LADDER)
    if device == "cpu":
        notes.append("No GPU and no budget to rent one: the ladder stays at SmolLM2 on this machine's CPU.")
    elif target and target.lower() not in ("smollm2", "135m"):
        models.append(target)

    # LoRA space: ranges that suit the data size; QLoRA only where the GPU needs it.
    from studies.sweeps.search_space import DEFAULT_LORA_SPACE

    steps = {"none": (20, 60, 20), "lt_100": (20, 60, 20), "100_1k": (50, 300, 50), "1k_10k": (200, 1000, 200), "gt_10k": (500, 3000, 500)}[pairs_bucket]
    cpu = device == "cpu"
    if cpu:
        # A shared CPU trains SmolLM2 at a few hundred tokens/s: short trials, one micro-batch size.
        steps = (20, 80, 20)
    small_data = pairs_bucket in ("none", "lt_100", "100_1k")
    space: dict[str, Any] = {
        "learning_rate": dict(DEFAULT_LORA_SPACE["learning_rate"]),  # LoRA's working range, 1e-4 .. 1e-2
        "rank": [4, 8, 16] if small_data else [8, 16, 32],
        "alpha_ratio": [1.0, 2.0],
        "dropout": {"low": 0.0, "high": 0.1},
        "target_modules": [["q_proj", "v_proj"], "all-linear"],
        "dora": [False, True],
        "max_steps": {"low": steps[0], "high": steps[1], "step": steps[2]},
        "micro_batch_size": [4] if cpu else [4, 8],
        "grad_accumulation": [1] if cpu else [1, 2],
    }
    if method == "qlora":
        space["qlora"] = [True]
    base = {"max_length": max_length, "eval_every": max(10, steps[0] // 2), "gradient_checkpointing": device != "cpu", "seed": 0}
    if method == "full":
        base["method"] = "full"
        space.pop("dora")
        space.pop("rank")
        space.pop("alpha_ratio")
        space.pop("target_modules")

    rag_enabled = rec.recommendation in (R.RAG, R.BOTH) or R.condition_holds(resolved, "change", {"contains": "knowledge"}) or bool(corpus)
    rag_space = {"chunk_size": [128, 256, 512], "chunk_overlap": [0, 32], "top_k": [2, 4, 8], "embedder": ["all-MiniLM-L6-v2"]}
    if resolved.get("context_budget") == "small":
        rag_space["top_k"] = [1, 2, 3]
        rag_space["chunk_size"] = [64, 128, 256]
    lora_enabled = rec.recommendation in (R.FINE_TUNE, R.BOTH, R.PROMPTING) or pairs_bucket not in ("none",)

    if not (rag_enabled or lora_enabled):
        raise ConfigError(
            "Nothing to plan yet: there are no labelled pairs to fine-tune on and no knowledge base to retrieve from. "
            "Collect 100-200 reviewed input -> output pairs first (they are also your test set), then run `advisor plan` again."
        )
    facts = read_data_facts(dataset) if dataset else None
    task = choose_task(resolved, facts)
    notes.extend(task.notes)
    metrics, primary, acceptance, commands = plan_metrics(task.kind, resolved)
    budget_s, budget_note = latency_budget(resolved)
    hit_k, hit_note = gold_hit_k(resolved, facts, rag_enabled, list(rag_space["top_k"]))
    notes.extend(n for n in (budget_note, hit_note) if n)
    wall = {"none": 60, "small": 240, "medium": 1440, "large": 4320}[resolved.get("training_budget", "small")]
    plan = Plan(
        name=name,
        recommendation=rec.recommendation,
        method=method,  # type: ignore[arg-type]
        device=device,
        devices=count,
        data=DataPlan(dataset=str(dataset) if dataset else None, split_seed=0, corpus=str(corpus) if corpus else None,
                      task=task.kind, task_evidence=task.evidence, labels=task.labels),
        models=models,
        rag=RagPlan(enabled=rag_enabled, space=rag_space, trials=8, gold_hit_k=hit_k,
                    tune_embedder=rag_enabled and pairs_bucket not in ("none",)),
        lora=LoraPlan(enabled=lora_enabled, space=space, base=base),
        budget=Budget(
            trials=6 if cpu else 12 if small_data else 24,
            max_tokens=None,
            max_wall_minutes=float(wall),
            workers=1 if cpu else count,
        ),
        metrics=metrics,
        primary_metric=primary,
        latency_budget_s=budget_s,
        acceptance=acceptance,
        human_review=resolved.get("error_cost") in ("medium", "high") or resolved.get("metric") == "human_rubric",
        answers=resolved,
        notes=notes,
    )
    if not commands:
        plan.checks = [c for c in plan.checks if c != "dangerous_commands"]  # a shell-command check only where answers are commands
    if rec.recommendation in (R.NOT_READY, R.PROMPTING):
        plan.notes.append(f"The advice is {rec.recommendation}: this plan measures the options, but do the next steps of `advisor decide` first.")
    if rec.method:
        plan.notes.append(f"Method {rec.method.name}: {rec.method.why}.")
    if not dataset:
        plan.notes.append("No data set given: set data.dataset (a pairs file) before running the sweep.")
    if rag_enabled and not corpus:
        plan.notes.append("No corpus given: set data.corpus (documents folder or JSONL) before building the RAG baseline.")
    if rec.estimates.get("training"):
        plan.estimates = {"training": rec.estimates["training"]}
    if resolved.get("gpus") in ("none", "unsure"):
        measured = calibration.measured_tokens_per_second if calibration is not None and calibration.device == "cpu" else None
        options, advice = compute_options(resolved, stats, measured)
        plan.compute = {"options": [o.to_dict() for o in options], "advice": advice}
        where = "a rented card" if device != "cpu" else "this machine's CPU"
        plan.notes.append(f"No GPU of your own: this plan runs on {where}. {advice}")
    if calibration is not None:
        plan.calibration = calibration.to_dict() | {"summary": calibration.summary()}
        plan.notes.append(f"Calibration: {calibration.summary()}.")
    if plan.rag.tune_embedder:
        plan.notes.append(
            "RAG with a fine-tuned embedder is planned as a system of its own: build the index, then "
            "`advisor rag tune-embedder --data DATASET --index INDEX --name tuned` (train pages only; validation and test "
            "documents are never trained on) and add `tuned` to rag.space.embedder."
        )
    refusal = plan.feasibility() if plan.lora.enabled else None
    if refusal:
        raise ConfigError(
            f"Plan refused: {refusal}. Choose a smaller model (answer model_size), a larger GPU (gpu_model), or QLoRA."
        )
    plan.notes.extend(plan.feasibility_notes())
    plan.validate()
    return plan
