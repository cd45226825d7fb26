"""Knowledge or behaviour? The oracle-context run, and RAG's errors split into retrieval and reading.

:class:`OracleContextSystem` answers like RAG over the same (leak-controlled) index, but its prompt holds
the gold document of each question (its first ``k`` chunks) instead of the retrieved ones. Beside real
retrieval and no context at all, three scores on the same items say where the gap is:

- oracle >> no context: the missing piece is *knowledge*; RAG can supply it when retrieval finds it.
- oracle ~ no context: the documents do not help the generator; the gap is *behaviour* (format, skill):
  fine-tune, or the data lacks the answer.

With the RAG run's stored context (which documents it retrieved per item), :func:`error_split` sorts
each RAG error into a *retrieval failure* (gold document not retrieved) or a *reading failure* (it was
retrieved, the answer is still wrong), and says which part to fix. :func:`gold_hits` scores retrieval hit@k of
the gold document from the same stored context (what a plan for cited answers reports). Every number comes
from stored predictions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from core.errors import EvaluationError
from core.workspace import Workspace
from studies.evaluation.stats import Score
from studies.evaluation.systems import Prediction, RagSystem, register_system
from tuning.generate import GenerationSettings

CORRECT_AT = 0.5
"""An item counts as answered correctly when its primary metric is at least this (1.0/0.0 metrics: right or wrong)."""


def gold_by_item(pairs: Sequence[Any]) -> dict[str, str]:
    """``item id -> gold document id`` for pairs that know theirs (what stored predictions are keyed by)."""
    from rag.retrieval_eval import gold_doc

    return {str(p.id): str(gold_doc(p)) for p in pairs if gold_doc(p)}


def gold_documents(pairs: Sequence[Any]) -> dict[str, str]:
    """``input -> gold document id`` for pairs that know theirs (tldr: ``meta['page']``, else the group)."""
    from rag.retrieval_eval import gold_doc

    return {p.input: str(gold_doc(p)) for p in pairs if gold_doc(p)}


class OracleContextSystem(RagSystem):
    """RAG with the gold document in the prompt instead of the retrieved chunks (an upper bound on retrieval)."""

    kind = "rag-oracle"

    def __init__(self, index: str, workspace: Workspace, gold: Mapping[str, str], **options: Any) -> None:
        super().__init__(index, workspace, **options)
        if not gold:
            raise EvaluationError("An oracle-context run needs the gold document of each question; these pairs carry none "
                                  "(tldr pairs carry their page in meta['page'] or the group).")
        self.gold = dict(gold)
        self.name = f"rag-oracle:{index}"

    def config(self) -> dict[str, Any]:
        return {**super().config(), "method": "rag-oracle", "context": "gold document (first k chunks)"}

    def hits(self, question: str, k: int) -> list[Any]:
        from rag.retrieve import Hit

        index = self.pipeline.index
        doc = self.gold.get(question)
        ids = index.doc_chunk_ids().get(doc, []) if doc else []
        chunks = [index.chunks[i] for i in ids[:k]]
        return [Hit(c.doc_id, c.id, 1.0, c.text, c.position) for c in chunks]

    def predict(self, inputs: Sequence[str], settings: GenerationSettings) -> list[Prediction]:
        from tuning.generate import generate

        pipe = self.pipeline
        hits = [self.hits(q, pipe.config.k) for q in inputs]
        missing = [q for q, h in zip(inputs, hits) if not h]
        if missing:
            raise EvaluationError(f"{len(missing)} question(s) have no gold document in index {self.index!r} "
                                  f"(first: {missing[0]!r}); the oracle run needs the index built from the pairs' own documents.")
        gens = generate(self.generator(), pipe.conversations(inputs, hits), settings)
        return [
            Prediction(g.text, g.seconds, g.prompt_tokens, g.completion_tokens, 0.0,
                       [{"doc_id": x.doc_id, "chunk_id": x.chunk_id, "score": x.score, "position": x.position} for x in h],
                       truncated_prompt=g.truncated_prompt)
            for g, h in zip(gens, hits)
        ]


@register_system("rag-oracle")
def _oracle_factory(args: list[str], workspace: Workspace, **options: Any) -> Any:
    if len(args) != 1 or not args[0]:
        raise EvaluationError("An oracle-context system is `rag-oracle:INDEX`, built with gold=... (question -> document id).")
    gold = options.pop("gold", None) or {}
    options.pop("base", None)
    options.pop("trained_on", None)
    return OracleContextSystem(args[0], workspace, gold, **options)


@dataclass(frozen=True)
class ErrorSplit:
    """Where RAG's errors come from, on the items of the compared runs, and what to fix."""

    metric: str
    items: int
    rag_correct: int
    retrieval_failures: int
    """RAG wrong and the gold document not among the retrieved ones."""
    reading_failures: int
    """RAG wrong although the gold document was retrieved."""
    oracle_fixes_retrieval: int
    """Retrieval failures that the oracle run answers correctly: a better retriever would fix them."""
    hit_rate: float
    """Share of items whose gold document was retrieved (hit@k of the RAG run's own context)."""
    scores: dict[str, float]
    """Mean primary metric of 'no context', 'retrieval' and 'oracle'."""
    fix: str
    knowledge_or_behaviour: str

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def retrieved_documents(row: Mapping[str, Any]) -> list[str]:
    """Distinct document ids of one stored prediction's context, in retrieval order."""
    out: list[str] = []
    for hit in row.get("context") or []:
        doc = str(hit.get("doc_id")) if isinstance(hit, Mapping) and hit.get("doc_id") is not None else None
        if doc is not None and doc not in out:
            out.append(doc)
    return out


@dataclass(frozen=True)
class GoldHits:
    """Retrieval hit@k of the gold document over a run's stored predictions (items whose gold document is known)."""

    k: int
    score: Score | None
    """Share of scored items whose gold document is among the first k retrieved, with its bootstrap interval (None: none scored)."""
    items: int
    """Items with a known gold document (the ones scored)."""
    without_gold: int
    retrieved: int
    """The most documents the run retrieved for one item; below ``k``, hit@k is really hit@retrieved."""

    def to_dict(self) -> dict[str, Any]:
        return {"k": self.k, "score": self.score.to_dict() if self.score else None, "items": self.items,
                "without_gold": self.without_gold, "retrieved": self.retrieved}


def gold_hits(predictions: Sequence[Mapping[str, Any]], k: int, gold: Mapping[str, str] | None = None) -> GoldHits:
    """hit@k of each item's gold document (``gold``: item id -> document, default: the item's stored group)."""
    from studies.evaluation.stats import interval

    if k < 1:
        raise EvaluationError(f"`k >= 1` must hold for hit@k, but got k={k}.")
    values, missing, retrieved = [], 0, 0
    for row in predictions:
        doc = (gold or {}).get(str(row.get("item_id"))) if gold is not None else row.get("group")
        ranking = retrieved_documents(row)
        retrieved = max(retrieved, len(ranking))
        if not doc:
            missing += 1
            continue
        values.append(1.0 if str(doc) in ranking[:k] else 0.0)
    return GoldHits(k, interval(values) if values else None, len(values), missing, retrieved)


def _by_item(predictions: Sequence[Mapping[str, Any]]) -> dict[str, Mapping[str, Any]]:
    return {str(p["item_id"]): p for p in predictions}


def error_split(rag: Sequence[Mapping[str, Any]], oracle: Sequence[Mapping[str, Any]], no_context: Sequence[Mapping[str, Any]],
                metric: str, gold: Mapping[str, str] | None = None) -> ErrorSplit:
    """Split the RAG run's errors (stored predictions of three runs on the same items); see the module docstring.

    ``gold`` maps item ids to gold documents (default: each item's stored group, the tldr page).
    """
    r, o, b = _by_item(rag), _by_item(oracle), _by_item(no_context)
    items = sorted(set(r) & set(o) & set(b))
    if not items:
        raise EvaluationError("The RAG, oracle and no-context runs share no items; evaluate them on the same split part and limit.")

    def value(run: Mapping[str, Mapping[str, Any]], item: str) -> float:
        metrics = run[item].get("metrics") or {}
        if metric not in metrics:
            raise EvaluationError(f"Metric {metric!r} is not stored for item {item}; stored: {sorted(metrics)}.")
        return float(metrics[metric])

    correct = retrieval = reading = fixed = hits = 0
    for item in items:
        doc = (gold or {}).get(item) or r[item].get("group")
        found = doc is not None and str(doc) in retrieved_documents(r[item])
        hits += found
        if value(r, item) >= CORRECT_AT:
            correct += 1
        elif found:
            reading += 1
        else:
            retrieval += 1
            fixed += value(o, item) >= CORRECT_AT
    n = len(items)
    scores = {name: sum(value(run, i) for i in items) / n for name, run in (("no context", b), ("retrieval", r), ("oracle", o))}
    if retrieval == reading == 0:
        fix = "RAG answers every item correctly: nothing to fix here."
    elif retrieval > reading:
        fix = (f"Fix the retriever first: {retrieval} of {retrieval + reading} RAG errors miss the gold document "
               f"({fixed} of them the oracle answers correctly); try hybrid retrieval, a larger k or other chunking.")
    else:
        fix = (f"Fix the generator: {reading} of {retrieval + reading} RAG errors had the gold document in the prompt; "
               "fine-tune it on the task's format (RAG + LoRA) or use a larger base model.")
    gain = scores["oracle"] - scores["no context"]
    if gain >= 0.1:
        kb = f"Knowledge: the gold document lifts {metric} by {gain:+.3f} over no context, so the gap is facts the model lacks; RAG can supply them."
    elif gain > -0.1:
        kb = (f"Behaviour: even the gold document changes {metric} by only {gain:+.3f} over no context, so documents alone do not "
              "teach the task; fine-tune, or check that the documents hold the answers (data).")
    else:
        kb = f"The gold document hurts {metric} ({gain:+.3f}): the prompt or chunking confuses the generator; fix the prompt before more data."
    return ErrorSplit(metric, n, correct, retrieval, reading, int(fixed), hits / n, scores, fix, kb)
