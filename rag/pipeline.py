"""``RagPipeline``: retrieve -> grounded prompt -> batched answers from any generator ``tuning`` loads.

The generator is a ``LoadedModel``: the default SmolLM2, any local model, or one with a LoRA adapter
(``tuning.adapters.load_with_adapter``), which makes RAG + fine-tune a system of its own.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from core.errors import RagError
from core.workspace import Workspace
from rag.config import RagConfig
from rag.embedder import Encoder, as_encoder
from rag.index import RagIndex, open_index
from rag.prompt import Conversation, build_conversation
from rag.retrieve import Hit, Retriever, make_retriever

if TYPE_CHECKING:  # pragma: no cover
    from tuning.generate import GenerationSettings
    from tuning.models import LoadedModel


@dataclass
class RagAnswer:
    """One grounded answer with its evidence and costs."""

    text: str
    hits: list[Hit]
    prompt_tokens: int
    completion_tokens: int
    retrieval_s: float
    """Retrieval time per question (batch time / batch size)."""
    generation_s: float
    """Generation time per question (batch time / batch size)."""
    conversation: Conversation = field(default_factory=list)
    truncated_prompt: bool = False
    """The grounded prompt exceeded ``max_prompt_tokens`` and its start was cut."""


class RagPipeline:
    """An opened index, its embedder and retriever, and (for answers) a generator."""

    def __init__(self, index: RagIndex, encoder: Encoder, config: RagConfig | None = None, generator: "LoadedModel | None" = None) -> None:
        self.index = index
        self.encoder = encoder
        self.config = config or index.config
        self.config.validate()
        self.generator = generator
        from rag.rerank import with_reranker

        self.retriever: Retriever
        self.retriever, self.rerank_note = with_reranker(make_retriever(index, encoder, self.config), self.config)
        self.instruction: str | None = None
        """The task's grounded-prompt instruction (None: the configured command-style prompt)."""

    @classmethod
    def open(
        cls,
        ws: Workspace,
        index_name: str,
        generator: "LoadedModel | None" = None,
        config: RagConfig | None = None,
        encoder: Encoder | object | None = None,
    ) -> "RagPipeline":
        """Open ``<ws>/indexes/<index_name>`` with the embedder its manifest names (or the one given)."""
        if encoder is None:
            from rag.index import Manifest, index_dir

            folder = index_dir(ws, index_name)
            spec = None
            if (folder / "manifest.json").is_file():
                spec = Manifest.read(folder).config.get("embedder")
            encoder = as_encoder(spec, ws=ws)
        enc = as_encoder(encoder, ws=ws)
        index = open_index(ws, index_name, enc, config)
        return cls(index, enc, config or index.config, generator)

    @property
    def manifest(self) -> dict[str, object]:
        """The index manifest as a plain dict (recorded with evaluation runs)."""
        from core.config import to_dict

        return to_dict(self.index.manifest)

    def describe(self) -> dict[str, object]:
        """What a leaderboard row records about this RAG system."""
        m = self.index.manifest
        c = self.config
        return {
            "index": self.index.name, "embedder": m.embedder, "index_type": m.index_type, "corpus_hash": m.corpus.get("hash"),
            "chunk_size": m.chunking.get("chunk_size"), "chunk_overlap": m.chunking.get("chunk_overlap"),
            "retriever": self.retriever.name, "k": c.k, "prompt_style": c.prompt_style, "max_examples": c.max_examples,
            "generator": getattr(self.generator, "name", None), "reranker": c.reranker if "+rerank" in self.retriever.name else None,
            "query_prefix": c.query_prefix or getattr(self.encoder, "query_prefix", "") or None,
            "embedder_manifest": self.embedder_manifest(),
        }

    def embedder_manifest(self, with_groups: bool = False) -> dict[str, object] | None:
        """The fine-tuned embedder's manifest when this index uses one (None for a stock embedder);
        ``with_groups``: only its split version and the groups it trained on (for the evaluation contract)."""
        from rag.embedder_store import is_tuned_folder, read_manifest

        path = getattr(getattr(self.encoder, "model", None), "advisor_folder", None)
        if path is None or not is_tuned_folder(path):
            return None
        m = read_manifest(path)
        return {"split_version": m.data.get("split_version"), "groups": m.trained_groups} if with_groups else {"name": m.name, "fingerprint": m.fingerprint, "base": m.base, "data": m.data,
                "hyperparameters": m.hyperparameters, "training": m.training}

    def retrieve(self, questions: Sequence[str], k: int | None = None) -> tuple[list[list[Hit]], float]:
        """Top-k hits per question and the retrieval seconds per question."""
        if not questions:
            return [], 0.0
        began = time.perf_counter()
        hits = self.retriever.search(list(questions), k or self.config.k)
        return hits, (time.perf_counter() - began) / len(questions)

    def conversations(self, questions: Sequence[str], hits: Sequence[Sequence[Hit]]) -> list[Conversation]:
        return [build_conversation(q, h, self.config, instruction=self.instruction) for q, h in zip(questions, hits)]

    def answer(
        self,
        questions: Sequence[str],
        settings: "GenerationSettings | None" = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> list[RagAnswer]:
        """Retrieve, prompt and generate for every question (batched); order is kept."""
        if self.generator is None:
            raise RagError("This RAG pipeline has no generator: open it with generator=load_base_model(...) to answer, or use retrieve().")
        from tuning.generate import generate

        hits, retrieval_s = self.retrieve(questions)
        convs = self.conversations(questions, hits)
        gens = generate(self.generator, convs, settings, progress)
        return [
            RagAnswer(text=g.text, hits=list(h), prompt_tokens=g.prompt_tokens, completion_tokens=g.completion_tokens,
                      retrieval_s=retrieval_s, generation_s=g.seconds, conversation=c, truncated_prompt=g.truncated_prompt)
            for g, h, c in zip(gens, hits, convs)
        ]

