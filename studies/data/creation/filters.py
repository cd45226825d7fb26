"""Filters for generated candidates, each counted: what a reviewer should never have to see.

In order (a candidate is charged to the first filter that drops it, so the counts add up):

1. ``length``: question or answer too short or too long;
2. ``unsafe``: secrets, personal data, or dangerous commands (the responsible-AI checks' scanners);
3. ``duplicate``: the same question (normalised) as an earlier candidate;
4. ``ungrounded``: too few of the answer's words appear in its source span;
5. ``near_duplicate``: embedding cosine similarity to a kept question above the threshold;
6. ``unroutable``: retrieval over the whole corpus does not bring the source document into the
   top ``route_k`` for the question (unanswerable from the corpus, or ambiguous between documents).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from core.errors import ConfigError
from studies.data.creation.candidates import Candidate

FILTERS = ("length", "unsafe", "duplicate", "ungrounded", "near_duplicate", "unroutable")
_WORD = re.compile(r"\w+", re.U)
_STOP = frozenset("a an the of to in on for and or is are be by with as at it this that from".split())


@dataclass
class FilterConfig:
    """Thresholds of the candidate filters (shown in the generation report)."""

    min_question_chars: int = 10
    """Shorter questions are dropped."""
    max_question_chars: int = 300
    """Longer questions are dropped."""
    min_answer_chars: int = 2
    """Shorter answers are dropped."""
    max_answer_chars: int = 1500
    """Longer answers are dropped."""
    grounding: float = 0.8
    """Share of the answer's content words that must appear in the source span."""
    near_duplicate: float = 0.92
    """Cosine similarity of question embeddings above which a later candidate is a near-duplicate."""
    route_k: int = 5
    """The source document must be among the top ``route_k`` documents retrieved for the question."""

    def validate(self) -> None:
        problems = []
        if not 0.0 <= self.grounding <= 1.0:
            problems.append(f"`grounding` must be within [0, 1], but got {self.grounding}")
        if not 0.0 < self.near_duplicate <= 1.0:
            problems.append(f"`near_duplicate` must be within (0, 1], but got {self.near_duplicate}")
        if self.route_k < 1:
            problems.append(f"`route_k >= 1` must hold, but got {self.route_k}")
        if self.min_question_chars > self.max_question_chars or self.min_answer_chars > self.max_answer_chars:
            problems.append("minimum lengths must not exceed maximum lengths")
        if problems:
            raise ConfigError("FilterConfig: " + "; ".join(problems) + ".")


@dataclass
class Rejected:
    """A dropped candidate and the filter that dropped it (kept in the workspace for inspection)."""

    candidate: Candidate
    filter: str
    reason: str


@dataclass
class FilterReport:
    """What the filters kept and dropped, with a count per filter."""

    kept: list[Candidate] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    config: FilterConfig = field(default_factory=FilterConfig)

    @property
    def counts(self) -> dict[str, int]:
        counts = {name: 0 for name in FILTERS}
        for r in self.rejected:
            counts[r.filter] = counts.get(r.filter, 0) + 1
        return counts

    def summary(self) -> dict[str, Any]:
        total = len(self.kept) + len(self.rejected)
        return {"candidates": total, "kept": len(self.kept), "dropped": self.counts,
                "shares": {k: (v / total if total else 0.0) for k, v in self.counts.items()},
                "thresholds": {"grounding": self.config.grounding, "near_duplicate": self.config.near_duplicate,
                               "route_k": self.config.route_k}}


def content_words(text: str) -> list[str]:
    return [w for w in _WORD.findall(text.lower()) if w not in _STOP]


def grounding(answer: str, source: str) -> float:
    """Share of the answer's content words found in ``source`` (1.0 for an answer copied from it)."""
    words = content_words(answer)
    if not words:
        return 0.0
    present = set(content_words(source))
    return sum(1 for w in words if w in present) / len(words)


def normalise_question(text: str) -> str:
    return " ".join(_WORD.findall(text.lower()))


def _unsafe(candidate: Candidate) -> str | None:
    from studies.governance.checks import (
        find_dangerous,
        find_personal_data,
        find_secrets,
    )

    for scanner, what in ((find_secrets, "secret"), (find_personal_data, "personal data"), (find_dangerous, "dangerous command")):
        for text in (candidate.question, candidate.answer):
            found = scanner(text)
            if found:
                return f"{what}: {found[0][0]}"
    return None


def _unit(vectors: Any) -> np.ndarray:
    array = np.asarray(vectors, dtype="float32")
    norms = np.linalg.norm(array, axis=1, keepdims=True)
    return array / np.where(norms == 0, 1.0, norms)


def filter_candidates(
    candidates: Sequence[Candidate],
    documents: Mapping[str, str],
    encoder: Any,
    config: FilterConfig | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> FilterReport:
    """Run every filter over ``candidates``; ``documents`` maps a doc id to its text (the whole corpus).

    ``encoder`` is anything with ``embed(texts) -> array`` (the RAG embedder): it scores near-duplicates
    and routes questions back to documents.
    """
    config = config or FilterConfig()
    config.validate()
    report = FilterReport(config=config)
    survivors: list[Candidate] = []
    seen: set[str] = set()
    for c in candidates:
        q, a = c.question.strip(), c.answer.strip()
        if not (config.min_question_chars <= len(q) <= config.max_question_chars):
            report.rejected.append(Rejected(c, "length", f"question of {len(q)} characters"))
        elif not (config.min_answer_chars <= len(a) <= config.max_answer_chars):
            report.rejected.append(Rejected(c, "length", f"answer of {len(a)} characters"))
        elif (why := _unsafe(c)) is not None:
            report.rejected.append(Rejected(c, "unsafe", why))
        elif (key := normalise_question(q)) in seen:
            report.rejected.append(Rejected(c, "duplicate", "the same question as an earlier candidate"))
        else:
            source = documents.get(c.doc_id, "")[c.span[0]:c.span[1]] or documents.get(c.doc_id, "")
            score = grounding(a, source)
            if score < config.grounding:
                report.rejected.append(Rejected(c, "ungrounded", f"{score:.0%} of the answer's words are in its source span "
                                                                  f"(threshold {config.grounding:.0%})"))
            else:
                seen.add(key)
                survivors.append(c)
    if not survivors:
        return report
    if progress:
        progress("embedding questions", 0, len(survivors))
    questions = _unit(encoder.embed([c.question for c in survivors]))
    # near-duplicates: greedy in generation order, against kept questions only
    kept_idx: list[int] = []
    for i, c in enumerate(survivors):
        if kept_idx:
            sims = questions[kept_idx] @ questions[i]
            j = int(np.argmax(sims))
            if float(sims[j]) >= config.near_duplicate:
                other = survivors[kept_idx[j]]
                report.rejected.append(Rejected(c, "near_duplicate", f"cosine {float(sims[j]):.3f} to {other.id} "
                                                                      f"({other.question[:60]!r}; threshold {config.near_duplicate})"))
                continue
        kept_idx.append(i)
    # routability: the question must bring its source document back from the whole corpus
    doc_ids = list(documents)
    if progress:
        progress("embedding documents", 0, len(doc_ids))
    doc_vectors = _unit(encoder.embed([documents[d][:4000] for d in doc_ids]))
    lexical = _lexical_scores([survivors[i].question for i in kept_idx], [documents[d] for d in doc_ids])
    position = {d: n for n, d in enumerate(doc_ids)}
    for row, i in enumerate(kept_idx):
        c = survivors[i]
        dense = doc_vectors @ questions[i]
        score = _z(dense) + _z(lexical[row])
        k = min(config.route_k, len(doc_ids))
        top = np.argpartition(-score, k - 1)[:k]
        if position.get(c.doc_id, -1) not in set(int(t) for t in top):
            rank = int((score > score[position[c.doc_id]]).sum()) + 1 if c.doc_id in position else None
            report.rejected.append(Rejected(c, "unroutable", f"its document ranks {rank} of {len(doc_ids)} for the question "
                                                              f"(needs top {config.route_k})"))
        else:
            report.kept.append(c)
    return report


def _z(values: np.ndarray) -> np.ndarray:
    std = float(values.std())
    return (values - float(values.mean())) / std if std > 0 else values * 0.0


def _lexical_scores(queries: Sequence[str], docs: Sequence[str]) -> np.ndarray:
    """BM25 scores (queries x documents) with bm25s, the product's lexical retriever."""
    import bm25s

    model = bm25s.BM25()
    model.index(bm25s.tokenize(list(docs), stopwords="en", return_ids=False, show_progress=False), show_progress=False)
    out = np.zeros((len(queries), len(docs)), dtype="float32")
    for row, tokens in enumerate(bm25s.tokenize(list(queries), stopwords="en", return_ids=False, show_progress=False)):
        if tokens:
            ids, scores = model.retrieve([tokens], k=len(docs), show_progress=False, n_threads=1)
            out[row, np.asarray(ids[0], dtype=int)] = np.asarray(scores[0], dtype="float32")
    return out
