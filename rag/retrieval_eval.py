"""Retrieval metrics where the gold document is known (tldr pairs know their page), and leak checks.

Rankings are over documents: a hit list is reduced to its distinct document ids, in order.
``hit@k``: the gold document is in the first k; ``recall@k``: the share of gold documents in the
first k (equal to hit@k with one gold document); ``MRR``: mean of 1/rank of the first gold document.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

DEFAULT_KS = (1, 3, 5, 10)


def doc_ranking(hits: Iterable) -> list[str]:
    """Distinct document ids of a hit list, best first."""
    seen: list[str] = []
    for hit in hits:
        if hit.doc_id not in seen:
            seen.append(hit.doc_id)
    return seen


def item_scores(ranking: Sequence[str], gold: set[str], ks: Sequence[int] = DEFAULT_KS) -> dict[str, float]:
    """Per-question values: hit@k, recall@k, reciprocal rank."""
    out: dict[str, float] = {}
    first = next((i for i, d in enumerate(ranking) if d in gold), None)
    for k in ks:
        top = set(ranking[:k])
        out[f"hit@{k}"] = float(bool(top & gold))
        out[f"recall@{k}"] = len(top & gold) / len(gold) if gold else 0.0
    out["mrr"] = 0.0 if first is None else 1.0 / (first + 1)
    return out


def retrieval_metrics(rankings: Sequence[Sequence[str]], golds: Sequence[set[str]], ks: Sequence[int] = DEFAULT_KS) -> dict[str, float]:
    """Means of :func:`item_scores` over questions."""
    if len(rankings) != len(golds):
        raise ValueError(f"rankings and golds must have the same length, but got ({len(rankings)}, {len(golds)})")
    if not rankings:
        return {}
    total: dict[str, float] = defaultdict(float)
    for ranking, gold in zip(rankings, golds):
        for key, value in item_scores(ranking, gold, ks).items():
            total[key] += value
    return {key: value / len(rankings) for key, value in total.items()}


# --------------------------------------------------------------------------- leak detection

_WORD = re.compile(r"[a-z0-9]+")


def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


@dataclass
class Leak:
    """A test input found (near-)verbatim in a corpus chunk."""

    item: int
    """Index of the test input."""
    chunk_id: str
    doc_id: str
    containment: float
    """Share of the input's word trigrams found in the chunk (1.0: verbatim up to case and punctuation)."""


def find_leaks(inputs: Sequence[str], chunks: Sequence, threshold: float = 0.8, min_words: int = 4) -> list[Leak]:
    """Test inputs whose word trigrams appear in one chunk at ``threshold`` or more (best chunk per input).

    Inputs shorter than ``min_words`` words are skipped (too short to call a leak).
    """
    grams_of = lambda words: {tuple(words[i : i + 3]) for i in range(len(words) - 2)}  # noqa: E731
    wanted: dict[tuple[str, ...], list[int]] = defaultdict(list)
    item_grams: list[set] = []
    for i, text in enumerate(inputs):
        words = _words(text)
        grams = grams_of(words) if len(words) >= min_words else set()
        item_grams.append(grams)
        for g in grams:
            wanted[g].append(i)
    counts: list[dict[int, int]] = [defaultdict(int) for _ in inputs]
    for c, chunk in enumerate(chunks):
        for g in grams_of(_words(chunk.text)):
            for i in wanted.get(g, ()):
                counts[i][c] += 1
    leaks = []
    for i, per_chunk in enumerate(counts):
        if not per_chunk or not item_grams[i]:
            continue
        c, n = max(per_chunk.items(), key=lambda kv: kv[1])
        share = n / len(item_grams[i])
        if share >= threshold:
            leaks.append(Leak(item=i, chunk_id=chunks[c].id, doc_id=chunks[c].doc_id, containment=round(share, 3)))
    return leaks
