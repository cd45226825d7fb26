"""Example retrieval: a RAG arm for every data set, corpus or not.

The nearest training pairs (the hybrid retriever over the *train* part of the evaluated split) are
the context: as few-shot chat turns before the question (``rag-examples``, ``rag-examples+lora``),
or, with no model at all, their majority answer (``rag-examples:vote``; for a classification this is
the label vote of the neighbours, a strong baseline a fine-tune must beat).

Leakage-free and group-aware by construction and by check: the index holds only training pairs
(a frozen split never puts a group in two parts), and every hit whose pair shares the evaluated
item's id, group or input text is dropped before the examples are chosen.

    rag-examples | rag-examples:vote | rag-examples+lora:ADAPTER
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from core.errors import EvaluationError
from core.workspace import Workspace
from studies.data.kinds import TaskSpec
from studies.evaluation.prompts import system_prompt_for
from studies.evaluation.systems import LoraSystem, Prediction, _device, _score, register_system
from tuning.generate import GenerationSettings

K = 4
"""Examples shown (or voting) per question."""


def _key(text: str) -> str:
    return " ".join((text or "").split()).casefold()


def examples_index_name(split_version: str) -> str:
    return f"examples-{split_version[:12]}"


class ExampleRagSystem:
    """Few-shot answers from the nearest training pairs (or their vote); see the module docstring."""

    kind = "rag-examples"

    def __init__(self, workspace: Workspace, *, model: str | None = None, device: str | None = None, encoder: Any = None,
                 k: int = K, vote: bool = False, generator: Any = None) -> None:
        if k < 1:
            raise EvaluationError(f"`k >= 1` must hold for example retrieval, but got {k}.")
        self.workspace = workspace
        self.model_spec = model
        self.device = device
        self.encoder = encoder
        self.k = k
        self.vote = vote
        self._generator = generator
        self._pipeline: Any = None
        self.task: TaskSpec | None = None
        self.pool: dict[str, Any] = {}
        """Training pairs by id: what the index holds."""
        self.blocked: dict[str, set[str]] = {}
        """Normalised input -> group keys (and ids) of the evaluated items with that input: never retrieved for it."""
        self.index_name: str | None = None
        self.name = "rag-examples:vote" if vote else "rag-examples"

    # -- contract hooks -----------------------------------------------------------------------
    def exclude_items(self, items: Sequence[Any], split: Any) -> str:
        """Build (or reuse) the examples index over ``split``'s train part; block every evaluated item's group."""
        from rag.config import RagConfig
        from rag.corpus import Corpus, Document
        from rag.embedder import as_encoder
        from rag.index import build_index

        train = list(split.train)
        if not train:
            raise EvaluationError(f"Split {split.version} has no training pairs to retrieve examples from.")
        self.pool = {p.id: p for p in train}
        self.blocked = {}
        for item in items:
            self.blocked.setdefault(_key(item.input), set()).update({item.group_key, f"id:{item.id}"})
        self.index_name = examples_index_name(split.version)
        corpus = Corpus([Document(id=p.id, text=p.input) for p in train], source=f"split {split.version} (train part)", kind="examples")
        self.encoder = as_encoder(self.encoder)
        build_index(self.workspace, self.index_name, corpus, self.encoder, RagConfig(chunk_size=256, k=self.k))
        self._pipeline = None
        return (f"examples retrieved from the {len(train)} training pairs of split {split.version} only; hits sharing an "
                "evaluated item's id, group or input are dropped")

    def use_task(self, task: TaskSpec) -> None:
        self.task = task

    # -- retrieval ------------------------------------------------------------------------------
    @property
    def pipeline(self) -> Any:
        if self.index_name is None:
            raise EvaluationError("Example retrieval needs a split: evaluate it through the contract (`advisor eval rag-examples ...`).")
        if self._pipeline is None:
            from rag.pipeline import RagPipeline

            self._pipeline = RagPipeline.open(self.workspace, self.index_name, encoder=self.encoder)
        return self._pipeline

    def neighbours(self, inputs: Sequence[str]) -> tuple[list[list[Any]], float]:
        """The k nearest allowed training pairs of each input (nearest first) and retrieval seconds per input."""
        hits, seconds = self.pipeline.retrieve(list(inputs), k=self.k * 4 + 8)
        out = []
        for question, found in zip(inputs, hits):
            blocked = self.blocked.get(_key(question), set())
            chosen: list[Any] = []
            for hit in found:
                pair = self.pool.get(hit.doc_id)
                if pair is None or pair in chosen:
                    continue
                if pair.group_key in blocked or f"id:{pair.id}" in blocked or _key(pair.input) == _key(question):
                    continue
                chosen.append(pair)
                if len(chosen) == self.k:
                    break
            out.append(chosen)
        return out, seconds

    def conversation(self, question: str, examples: Sequence[Any], system_prompt: str | None) -> list[dict[str, str]]:
        conv = [{"role": "system", "content": system_prompt}] if system_prompt else []
        for pair in reversed(examples):  # most relevant last, next to the question
            conv += [{"role": "user", "content": pair.input}, {"role": "assistant", "content": pair.output}]
        return conv + [{"role": "user", "content": question}]

    # -- the System protocol --------------------------------------------------------------------
    def generator(self) -> Any:
        if self._generator is None:
            from tuning.models import load_base_model

            self._generator = load_base_model(self.model_spec, self.workspace, device=_device(self.device))
        return self._generator

    @property
    def system_prompt(self) -> str | None:
        return system_prompt_for(self.task) if self.task is not None else None

    def config(self) -> dict[str, Any]:
        return {
            "base_model": None if self.vote else getattr(self.generator(), "name", None),
            "method": "rag-examples-vote" if self.vote else "rag-examples",
            "index": self.index_name,
            "k": self.k,
            "examples_from": "train",
            "system_prompt": None if self.vote else self.system_prompt,
        }

    def trained_on(self) -> tuple[str, set[str]] | None:
        return None

    def _context(self, examples: list[Any]) -> list[dict[str, Any]]:
        return [{"doc_id": p.id, "chunk_id": None, "score": None, "position": i} for i, p in enumerate(examples)]

    def predict(self, inputs: Sequence[str], settings: GenerationSettings) -> list[Prediction]:
        neighbours, retrieval_s = self.neighbours(inputs)
        if self.vote:
            return [Prediction(_vote(ex), retrieval_s, 0, 0, retrieval_s, self._context(ex)) for ex in neighbours]
        from tuning.generate import generate

        prompt = self.system_prompt if settings.system_prompt is None else None
        convs = [self.conversation(q, ex, prompt) for q, ex in zip(inputs, neighbours)]
        gens = generate(self.generator(), convs, settings)
        return [Prediction(g.text, g.seconds + retrieval_s, g.prompt_tokens, g.completion_tokens, retrieval_s, self._context(ex),
                           truncated_prompt=g.truncated_prompt) for g, ex in zip(gens, neighbours)]

    def score_labels(self, inputs: Sequence[str], labels: Sequence[str], settings: GenerationSettings) -> list[Prediction]:
        """Classification: the vote of the neighbours (``:vote``), else the most likely label after the few-shot turns."""
        if self.vote:
            return self.predict(inputs, settings)
        neighbours, retrieval_s = self.neighbours(inputs)
        prompt = self.system_prompt if settings.system_prompt is None else None
        convs = [self.conversation(q, ex, prompt) for q, ex in zip(inputs, neighbours)]
        return _score(self.generator(), convs, labels, settings, [(retrieval_s, self._context(ex)) for ex in neighbours])


def _vote(examples: Sequence[Any]) -> str:
    """The most common output among the neighbours; ties go to the nearest neighbour's output."""
    if not examples:
        return ""
    counts = Counter(p.output for p in examples)
    top = max(counts.values())
    return next(p.output for p in examples if counts[p.output] == top)


class ExampleRagLoraSystem(ExampleRagSystem):
    """Nearest training pairs as few-shot turns for the fine-tuned model (prompted as in its training)."""

    kind = "rag-examples+lora"

    def __init__(self, adapter: str, workspace: Workspace, *, base: str | None = None, device: str | None = None,
                 encoder: Any = None, k: int = K, trained_on: tuple[str, set[str]] | None = None) -> None:
        super().__init__(workspace, device=device, encoder=encoder, k=k)
        self.lora = LoraSystem(adapter, workspace, base=base, device=device, trained_on=trained_on)
        self.name = f"rag-examples+lora:{self.lora.adapter_dir.name}"

    def generator(self) -> Any:
        return self.lora.loaded

    @property
    def system_prompt(self) -> str | None:
        return self.lora.system_prompt if self.lora.system_prompt is not None else super().system_prompt

    def config(self) -> dict[str, Any]:
        cfg = super().config()
        lora = self.lora.config()
        cfg.update({"base_model": lora["base_model"], "method": f"rag-examples+{lora['method']}", "adapter": lora["adapter"],
                    "adapter_dir": lora["adapter_dir"], "train_config": lora["train_config"]})
        return cfg

    def costs(self) -> dict[str, Any]:
        return self.lora.costs()

    def artifacts(self) -> dict[str, Any]:
        return self.lora.artifacts()

    def trained_on(self) -> tuple[str, set[str]] | None:
        return self.lora.trained_on()


@register_system("rag-examples")
def _examples_factory(args: list[str], workspace: Workspace, **options: Any) -> Any:
    if args not in ([], ["vote"]):
        raise EvaluationError("Example retrieval is `rag-examples` (few-shot from the nearest training pairs) or `rag-examples:vote`.")
    options.pop("base", None)
    options.pop("trained_on", None)
    return ExampleRagSystem(workspace, vote=args == ["vote"], **options)


@register_system("rag-examples+lora")
def _examples_lora_factory(args: list[str], workspace: Workspace, **options: Any) -> Any:
    if len(args) != 1 or not args[0]:
        raise EvaluationError("Example retrieval with a fine-tuned model is `rag-examples+lora:ADAPTER`.")
    model = options.pop("model", None)
    options.setdefault("base", model)
    return ExampleRagLoraSystem(args[0], workspace, **options)

