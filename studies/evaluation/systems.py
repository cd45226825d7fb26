"""Systems under evaluation: anything that turns questions into answers, behind one Protocol.

Kinds shipped: ``base`` (a prompted base model), ``lora`` (base + adapter), ``rag`` (retrieval
+ the base model), ``rag+lora`` (retrieval + the adapted model). A new kind is a class with the
:class:`System` attributes, registered with ``@register_system("kind")`` so that
:func:`make_system` (and ``advisor eval SPEC``) can build it from a spec string:

    base | base:MODEL | lora:ADAPTER | rag:INDEX | rag+lora:INDEX:ADAPTER

(``studies.evaluation.specs.make_system`` also knows the example-retrieval kinds.)

Models load lazily on the first :meth:`predict`, once per system object.

Training provenance: a fine-tuned system says what it trained on (:meth:`System.trained_on`:
split version and train groups) so that the evaluation can refuse test data it has seen.
:func:`record_trained_on` writes that beside an adapter (``trained_on.json``); adapters whose
provenance is unknown are refused by the evaluation until it is recorded.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from core.atomic import atomic_write_json
from core.errors import EvaluationError
from core.workspace import Workspace
from studies.data.kinds import TaskSpec
from studies.evaluation.prompts import COMMAND_SYSTEM_PROMPT, grounded_instruction, system_prompt_for
from tuning.generate import GenerationSettings

if TYPE_CHECKING:  # pragma: no cover
    from tuning.models import LoadedModel

TASK_PROMPT = "task"
"""``system_prompt`` default of prompted systems: the task kind's prompt (``studies.evaluation.prompts``), set by ``use_task``."""
TRAINED_ON = "trained_on.json"


@dataclass
class Prediction:
    """One answer of a system, with its cost."""

    raw: str
    """The text the system produced (before answer extraction)."""
    latency_s: float
    """Seconds this answer took (retrieval + generation; batch time divided by batch size)."""
    prompt_tokens: int = 0
    completion_tokens: int = 0
    retrieval_s: float = 0.0
    context: list[dict[str, Any]] | None = None
    """RAG: the retrieved hits shown to the model (doc_id, chunk_id, score, position)."""
    truncated_prompt: bool = False
    """The prompt was longer than ``max_prompt_tokens`` and its start was cut (counted by the evaluation)."""
    label_scores: dict[str, float] | None = None
    """Label scoring (classification): every label's log-likelihood; ``raw`` is the most likely label."""


@runtime_checkable
class System(Protocol):
    name: str
    """What the leaderboard calls it (e.g. ``lora:my-adapter``)."""
    kind: str
    """'base', 'rag', 'lora', 'rag+lora', ..."""

    def config(self) -> dict[str, Any]:
        """Everything that defines the system (base model, method, adapter, index, prompt)."""
        ...

    def trained_on(self) -> tuple[str, set[str]] | None:
        """``(split_version, groups it trained on)``, or None for systems that learned nothing."""
        ...

    def predict(self, inputs: Sequence[str], settings: GenerationSettings) -> list[Prediction]:
        """Answer every input, in order."""
        ...


_SYSTEMS: dict[str, Callable[..., System]] = {}


def register_system(kind: str) -> Callable[[Callable[..., System]], Callable[..., System]]:
    """Register a factory ``factory(args: list[str], workspace, **options) -> System`` for a spec prefix."""

    def wrap(factory: Callable[..., System]) -> Callable[..., System]:
        _SYSTEMS[kind] = factory
        return factory

    return wrap


def system_kinds() -> list[str]:
    return sorted(_SYSTEMS)


def make_system(spec: str, workspace: Workspace, **options: Any) -> System:
    """Build a system from ``base``, ``base:MODEL``, ``lora:ADAPTER``, ``rag:INDEX`` or ``rag+lora:INDEX:ADAPTER``."""
    kind, _, rest = (spec or "").partition(":")
    kind = kind.strip().lower()
    if kind not in _SYSTEMS:
        raise EvaluationError(
            f"Unknown system {spec!r}. Use one of: base, base:MODEL, lora:ADAPTER, rag:INDEX, rag+lora:INDEX:ADAPTER "
            f"(registered kinds: {', '.join(system_kinds())})."
        )
    args = [a for a in rest.split(":")] if rest else []
    return _SYSTEMS[kind](args, workspace, **options)


def _conversation(question: str, system_prompt: str | None) -> list[dict[str, str]]:
    messages = []
    if system_prompt:
        messages.append({"role": "system", "content": system_prompt})
    messages.append({"role": "user", "content": question})
    return messages


def _generate(loaded: "LoadedModel", inputs: Sequence[str], system_prompt: str | None, settings: GenerationSettings) -> list[Prediction]:
    from tuning.generate import generate

    prompt = system_prompt if settings.system_prompt is None else None  # settings win where set
    out = generate(loaded, [_conversation(q, prompt) for q in inputs], settings)
    return [Prediction(g.text, g.seconds, g.prompt_tokens, g.completion_tokens, truncated_prompt=g.truncated_prompt) for g in out]


def _score(loaded: "LoadedModel", conversations: Sequence[list[dict[str, str]]], labels: Sequence[str],
           settings: GenerationSettings, retrieval: Sequence[tuple[float, list[dict[str, Any]] | None]] | None = None) -> list[Prediction]:
    """Label scoring (``tuning.label_scoring``) as predictions: the answer is the most likely label."""
    from tuning.label_scoring import score_labels

    out = []
    for i, s in enumerate(score_labels(loaded, conversations, labels, settings)):
        r_s, hits = retrieval[i] if retrieval else (0.0, None)
        out.append(Prediction(s.label, s.seconds + r_s, s.prompt_tokens, 0, r_s, hits, truncated_prompt=s.truncated_prompt,
                              label_scores={k: round(v, 4) for k, v in s.scores.items()}))
    return out


def _device(device: str | None) -> str:
    if device and device != "auto":
        return device
    from tuning.device import resolve_device

    return resolve_device("auto")


# ----------------------------------------------------------------------------- training provenance


def record_trained_on(adapter_dir: str | Path, split: Any, parts: Sequence[str] = ("train",)) -> Path:
    """Write ``trained_on.json`` into an adapter folder: the split version and the groups of ``parts``."""
    groups: set[str] = set()
    for part in parts:
        groups |= set(split.groups(part))
    return atomic_write_json(
        Path(adapter_dir) / TRAINED_ON,
        {"split_version": split.version, "dataset_hash": getattr(split, "dataset_hash", None), "parts": list(parts), "groups": sorted(groups)},
    )


def read_trained_on(adapter_dir: str | Path, metadata: dict[str, Any] | None = None) -> tuple[str, set[str]] | None:
    """The provenance recorded beside an adapter (``trained_on.json``, else ``metadata.json``'s ``trained_on``)."""
    path = Path(adapter_dir) / TRAINED_ON
    data: Any = None
    if path.is_file():
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise EvaluationError(f"{path} is unreadable ({exc}); record it again with studies.evaluation.systems.record_trained_on.") from exc
    elif metadata and isinstance(metadata.get("trained_on"), dict):
        data = metadata["trained_on"]
    if not data or not data.get("split_version"):
        return None
    return str(data["split_version"]), set(data.get("groups") or [])


# ----------------------------------------------------------------------------- base model


class BaseModelSystem:
    """A base model prompted to answer (no retrieval, no training).

    Its system prompt is the task kind's (:meth:`use_task`, called by the evaluation contract) unless
    one is given; before a task is known it is the command prompt (the historical default).
    """

    kind = "base"

    def __init__(self, workspace: Workspace, model: str | None = None, *, system_prompt: str | None = TASK_PROMPT,
                 device: str | None = None, loaded: "LoadedModel | None" = None) -> None:
        self.workspace = workspace
        self.model_spec = model
        self._prompt_given = system_prompt != TASK_PROMPT
        self.system_prompt = system_prompt if self._prompt_given else COMMAND_SYSTEM_PROMPT
        self.task: TaskSpec | None = None
        self.device = device
        self.model_if_loaded = loaded
        """The model once loaded (None before the first use): read without loading by :func:`system_device`."""
        self.name = "base" if model is None else f"base:{Path(model).name}"

    @property
    def loaded(self) -> "LoadedModel":
        if self.model_if_loaded is None:
            from tuning.models import load_base_model

            self.model_if_loaded = load_base_model(self.model_spec, self.workspace, device=_device(self.device))
        return self.model_if_loaded

    def use_task(self, task: TaskSpec) -> None:
        """Prompt for ``task`` (its kind's prompt built from the data) unless a system prompt was given."""
        self.task = task
        if not self._prompt_given:
            self.system_prompt = system_prompt_for(task)

    def config(self) -> dict[str, Any]:
        return {"base_model": self.loaded.name, "method": "prompt", "system_prompt": self.system_prompt, "model_path": self.loaded.path}

    def trained_on(self) -> tuple[str, set[str]] | None:
        return None

    def predict(self, inputs: Sequence[str], settings: GenerationSettings) -> list[Prediction]:
        return _generate(self.loaded, inputs, self.system_prompt, settings)

    def score_labels(self, inputs: Sequence[str], labels: Sequence[str], settings: GenerationSettings) -> list[Prediction]:
        """Answer each input with its most likely label (constrained decoding)."""
        prompt = self.system_prompt if settings.system_prompt is None else None
        return _score(self.loaded, [_conversation(q, prompt) for q in inputs], labels, settings)


@register_system("base")
def _base_factory(args: list[str], workspace: Workspace, **options: Any) -> System:
    model = ":".join(args) if args else options.pop("model", None)
    options.pop("model", None)
    return BaseModelSystem(workspace, model, **options)


# ----------------------------------------------------------------------------- LoRA


class LoraSystem:
    """A base model with a trained adapter (LoRA/DoRA/QLoRA, or full weights), prompted as in training."""

    kind = "lora"

    def __init__(self, adapter: str | Path, workspace: Workspace, *, base: str | None = None, device: str | None = None,
                 trained_on: tuple[str, set[str]] | None = None, loaded: "LoadedModel | None" = None) -> None:
        from tuning.adapters import read_metadata, resolve_adapter_dir

        self.workspace = workspace
        self.adapter_dir = resolve_adapter_dir(adapter, workspace)
        self.metadata = read_metadata(self.adapter_dir)
        self.base = base
        self.device = device
        self.model_if_loaded = loaded
        self._trained_on = trained_on if trained_on is not None else read_trained_on(self.adapter_dir, self.metadata)
        self.name = f"lora:{self.adapter_dir.name}"

    @classmethod
    def from_adapter(cls, adapter: str | Path, workspace: Workspace, **options: Any) -> "LoraSystem":
        return cls(adapter, workspace, **options)

    @property
    def train_config(self) -> dict[str, Any]:
        return dict(self.metadata.get("config") or {})

    @property
    def system_prompt(self) -> str | None:
        """The system prompt the adapter was trained with (prompts must match training)."""
        return self.train_config.get("system_prompt")

    @property
    def loaded(self) -> "LoadedModel":
        if self.model_if_loaded is None:
            from tuning.adapters import load_with_adapter

            self.model_if_loaded = load_with_adapter(self.adapter_dir, self.workspace, base=self.base, device=_device(self.device))
        return self.model_if_loaded

    def config(self) -> dict[str, Any]:
        base = (self.metadata.get("base_model") or {}).get("name")
        return {
            "base_model": base,
            "method": self.train_config.get("method", "lora"),
            "adapter": self.adapter_dir.name,
            "adapter_dir": str(self.adapter_dir),
            "train_config": self.train_config,
            "data_version": self.metadata.get("data_version"),
            "system_prompt": self.system_prompt,
        }

    def costs(self) -> dict[str, Any]:
        """What training cost, from the adapter's run record (tokens, seconds, device)."""
        record = _train_record(self.workspace, self.adapter_dir)
        metrics = self.metadata.get("metrics") or {}
        return {
            "train_tokens": int(record.get("tokens_seen") or metrics.get("tokens_seen") or 0),
            "train_seconds": float(record.get("wall_seconds") or record.get("train_seconds") or 0.0),
            "train_device": record.get("device") or self.train_config.get("device") or "cpu",
        }

    def artifacts(self) -> dict[str, Any]:
        return {"adapter_dir": str(self.adapter_dir)}

    def trained_on(self) -> tuple[str, set[str]] | None:
        if self._trained_on is None:
            raise EvaluationError(
                f"Adapter {self.adapter_dir.name} does not record which split it was trained on, so the evaluation cannot "
                "prove the test items are unseen. Record it with `studies.evaluation.systems.record_trained_on(adapter_dir, split)` "
                "after training, or pass trained_on=(split.version, split.groups('train')) to LoraSystem."
            )
        return self._trained_on

    def predict(self, inputs: Sequence[str], settings: GenerationSettings) -> list[Prediction]:
        return _generate(self.loaded, inputs, self.system_prompt, settings)

    def score_labels(self, inputs: Sequence[str], labels: Sequence[str], settings: GenerationSettings) -> list[Prediction]:
        """Answer each input with its most likely label, prompted as in training."""
        prompt = self.system_prompt if settings.system_prompt is None else None
        return _score(self.loaded, [_conversation(q, prompt) for q in inputs], labels, settings)


def _train_record(workspace: Workspace, adapter_dir: Path) -> dict[str, Any]:
    try:
        path = workspace.path("runs", adapter_dir.name, "record.json")
        return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    except (OSError, ValueError, Exception):  # noqa: BLE001 - a missing record only loses cost figures
        return {}


@register_system("lora")
def _lora_factory(args: list[str], workspace: Workspace, **options: Any) -> System:
    if len(args) != 1 or not args[0]:
        raise EvaluationError("A LoRA system is `lora:ADAPTER` (an adapter name in the workspace or a folder).")
    model = options.pop("model", None)
    options.setdefault("base", model)  # --model names the base the adapter sits on (default: from its metadata)
    return LoraSystem(args[0], workspace, **options)


# ----------------------------------------------------------------------------- RAG


class RagSystem:
    """Retrieval over an index + a generator (the base model, or an adapted one for ``rag+lora``)."""

    kind = "rag"

    def __init__(self, index: str, workspace: Workspace, *, model: str | None = None, device: str | None = None,
                 generator: "LoadedModel | None" = None, encoder: Any = None) -> None:
        self.workspace = workspace
        self.index = index
        self.encoder = encoder
        """The query embedder (None: the one the index manifest names)."""
        self.model_spec = model
        self.device = device
        self.generator_if_loaded = generator
        """The generator once loaded (None before the first use): read without loading by :func:`system_device`."""
        self._pipeline: Any = None
        self.name = f"rag:{index}"
        self.instruction: str | None = None
        """Grounded-prompt instruction for the task kind (None: the pipeline's own, command-style prompt)."""

    def exclude_items(self, items: Sequence[Any], split: Any) -> str:
        """Leakage control (called by the evaluation contract): evaluate on an index without the items' own examples.

        Switches to the evaluation index of ``rag.retrieval_eval.leakage_control`` when needed; the
        system keeps its name. Returns what was done (recorded with the run).
        """
        from rag.retrieval_eval import leakage_control

        prepared = leakage_control(self.workspace, self.index, items, split.version, encoder=self.encoder)
        if prepared.index_name != self.index:
            self.index = prepared.index_name
            self._pipeline = None
        return prepared.note

    def use_task(self, task: TaskSpec) -> None:
        """Ground answers in the kind's form: no command instruction unless the kind is ``command``."""
        self.instruction = grounded_instruction(task)
        if self._pipeline is not None:
            self._pipeline.instruction = self.instruction

    def generator(self) -> "LoadedModel":
        if self.generator_if_loaded is None:
            from tuning.models import load_base_model

            self.generator_if_loaded = load_base_model(self.model_spec, self.workspace, device=_device(self.device))
        return self.generator_if_loaded

    @property
    def pipeline(self) -> Any:
        if self._pipeline is None:
            from rag.pipeline import RagPipeline

            extra = {"encoder": self.encoder} if self.encoder is not None else {}
            self._pipeline = RagPipeline.open(self.workspace, self.index, generator=self.generator(), **extra)
            self._pipeline.instruction = self.instruction
        return self._pipeline

    def config(self) -> dict[str, Any]:
        pipe = self.pipeline
        cfg = getattr(pipe, "config", None)
        if cfg is not None and hasattr(cfg, "__dataclass_fields__"):
            from core.config import to_dict

            cfg = to_dict(cfg)
        manifest = getattr(pipe, "manifest", None)
        if manifest is not None and not isinstance(manifest, dict):
            manifest = getattr(manifest, "__dict__", str(manifest))
        describe = getattr(pipe, "describe", None)
        described = describe() if callable(describe) else None
        tuned = isinstance(described, dict) and described.get("embedder_manifest")
        return {
            "base_model": self.generator().name,
            "method": "rag+tuned-embedder" if tuned else "rag",
            "index": self.index,
            "rag": described,
            "rag_config": cfg if isinstance(cfg, dict) else (str(cfg) if cfg is not None else None),
            "index_manifest": manifest,
            "instruction": self.instruction,
        }

    def artifacts(self) -> dict[str, Any]:
        return {"index_dir": str(self.workspace.path("indexes", self.index))}

    def trained_on(self) -> tuple[str, set[str]] | None:
        """A fine-tuned embedder learned from pairs: its split and groups (a stock embedder learned nothing)."""
        tuned = getattr(self.pipeline, "embedder_manifest", lambda **_: None)(with_groups=True)
        if not tuned or not tuned.get("split_version"):
            return None
        return str(tuned["split_version"]), set(tuned.get("groups") or [])

    def predict(self, inputs: Sequence[str], settings: GenerationSettings) -> list[Prediction]:
        answers = self.pipeline.answer(list(inputs), settings)
        out = []
        for a in answers:
            hits = [
                {k: getattr(h, k, None) for k in ("doc_id", "chunk_id", "score", "position")}
                for h in (getattr(a, "hits", None) or [])
            ]
            retrieval = float(getattr(a, "retrieval_s", 0.0) or 0.0)
            generation = float(getattr(a, "generation_s", 0.0) or 0.0)
            out.append(Prediction(a.text, retrieval + generation, int(a.prompt_tokens), int(a.completion_tokens), retrieval, hits,
                                  truncated_prompt=bool(getattr(a, "truncated_prompt", False))))
        return out


    def score_labels(self, inputs: Sequence[str], labels: Sequence[str], settings: GenerationSettings) -> list[Prediction]:
        """Retrieve, build the grounded prompt, and answer with the most likely label."""
        pipe = self.pipeline
        hits, retrieval_s = pipe.retrieve(list(inputs))
        convs = pipe.conversations(list(inputs), hits)
        context = [[{k: getattr(h, k, None) for k in ("doc_id", "chunk_id", "score", "position")} for h in item] for item in hits]
        return _score(self.generator(), convs, labels, settings, [(retrieval_s, c) for c in context])


class RagLoraSystem(RagSystem):
    """Retrieval + a fine-tuned generator: trained like ``lora``, grounded like ``rag``."""

    kind = "rag+lora"

    def __init__(self, index: str, adapter: str | Path, workspace: Workspace, *, base: str | None = None,
                 device: str | None = None, trained_on: tuple[str, set[str]] | None = None, encoder: Any = None) -> None:
        super().__init__(index, workspace, device=device, encoder=encoder)
        self.lora = LoraSystem(adapter, workspace, base=base, device=device, trained_on=trained_on)
        self.name = f"rag+lora:{index}:{self.lora.adapter_dir.name}"

    def generator(self) -> "LoadedModel":
        return self.lora.loaded

    def config(self) -> dict[str, Any]:
        cfg = super().config()
        lora = self.lora.config()
        cfg.update({"base_model": lora["base_model"], "method": f"rag+{lora['method']}", "adapter": lora["adapter"],
                    "adapter_dir": lora["adapter_dir"], "train_config": lora["train_config"]})
        return cfg

    def costs(self) -> dict[str, Any]:
        return self.lora.costs()

    def artifacts(self) -> dict[str, Any]:
        return {**super().artifacts(), **self.lora.artifacts()}

    def trained_on(self) -> tuple[str, set[str]] | None:
        return self.lora.trained_on()


@register_system("rag")
def _rag_factory(args: list[str], workspace: Workspace, **options: Any) -> System:
    if len(args) != 1 or not args[0]:
        raise EvaluationError("A RAG system is `rag:INDEX` (an index name in the workspace; `advisor rag build` makes one).")
    options.pop("base", None)
    options.pop("trained_on", None)
    return RagSystem(args[0], workspace, **options)


@register_system("rag+lora")
def _rag_lora_factory(args: list[str], workspace: Workspace, **options: Any) -> System:
    if len(args) != 2 or not all(args):
        raise EvaluationError("A RAG + LoRA system is `rag+lora:INDEX:ADAPTER`.")
    model = options.pop("model", None)
    options.setdefault("base", model)
    return RagLoraSystem(args[0], args[1], workspace, **options)


def system_device(system: Any) -> str:
    """The device a system's model sits on, without loading anything ('cpu' when unknown)."""
    for holder in (system, getattr(system, "lora", None)):
        loaded = getattr(holder, "model_if_loaded", None) or getattr(holder, "generator_if_loaded", None)
        if loaded is not None:
            try:
                return str(next(loaded.model.parameters()).device)
            except (AttributeError, StopIteration, TypeError):
                return str((getattr(loaded, "info", {}) or {}).get("device", "cpu"))
    return str(getattr(system, "device", None) or "cpu")
