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


# --------------------------------------------------------------------------- evaluation index and report

@dataclass
class PreparedEval:
    """The index to evaluate on, and what leakage control did."""

    index_name: str
    removed: int
    """Test examples removed from their pages."""
    note: str


def gold_doc(pair) -> str | None:
    """The document that answers a pair: tldr pairs carry their page (``meta['page']``, else ``group``)."""
    meta = getattr(pair, "meta", None) or {}
    return meta.get("page") or getattr(pair, "group", None)


def prepare_eval_index(ws, name: str, test_pairs: Sequence, split_version: str, encoder=None, progress=None) -> PreparedEval:
    """An index fit for evaluating on ``test_pairs``.

    If the index's corpus is the tldr pages the pairs come from, build (or reuse) ``<name>-eval-<split>``
    from the same source and config with each test pair's own (intent, command) example removed from
    its page. Otherwise the index is used as it is (the leak report says what overlaps).
    """
    from pathlib import Path

    from core.config import from_dict
    from rag.config import RagConfig
    from rag.corpus import load_corpus
    from rag.embedder import as_encoder
    from rag.index import LEGACY_DEFAULTS, Manifest, build_index, index_dir

    manifest = Manifest.read(index_dir(ws, name))
    source = manifest.corpus.get("source") or ""
    pages = {gold_doc(p) for p in test_pairs} - {None}
    if manifest.corpus.get("kind") != "tldr" or not pages:
        return PreparedEval(name, 0, "corpus is not tldr pages with known gold pages: index used as built; see the leak report")
    if not Path(source).is_file():
        from core.errors import RagError

        raise RagError(
            f"Index {name!r} was built from {source}, which is gone; leakage control needs it to remove the test examples. "
            "Rebuild the index from the pages file, or restore it."
        )
    drop: dict[str, set[tuple[str, str]]] = {}
    for p in test_pairs:
        page = gold_doc(p)
        if page:
            drop.setdefault(page, set()).add((p.input, p.output))
    corpus = load_corpus(source, drop=drop)
    before = load_corpus(source)
    removed = sum(len(a.text) != len(b.text) for a, b in zip(sorted(before.documents, key=lambda d: d.id), sorted(corpus.documents, key=lambda d: d.id)))
    config = from_dict(RagConfig, {**LEGACY_DEFAULTS, **manifest.config}) if manifest.config else RagConfig()
    enc = as_encoder(encoder if encoder is not None else config.embedder, ws=ws)
    eval_name = f"{name}{eval_index_suffix(split_version)}"
    build_index(ws, eval_name, corpus, enc, config, progress=progress)
    n_examples = sum(len(v) for v in drop.values())
    return PreparedEval(eval_name, n_examples,
                        f"{n_examples} test examples removed from {removed} pages (each test pair's own example; pages keep their title and description)")


def own_examples_in_index(ws, index_name: str, pairs: Sequence) -> list[int]:
    """Positions of the ``pairs`` whose own example (``- <input>:`` then `` `<output>` `` in their gold page) is still in the index."""
    from rag.index import read_chunks

    text: dict[str, list[str]] = defaultdict(list)
    for chunk in read_chunks(ws, index_name):
        text[chunk.doc_id].append(chunk.text)
    joined = {doc: "\n".join(parts) for doc, parts in text.items()}
    out = []
    for i, pair in enumerate(pairs):
        page = gold_doc(pair)
        if page in joined and f"- {pair.input}:" in joined[page]:
            # the example itself (its intent line, then its command), not another example that shares the intent
            own = re.escape(f"- {pair.input}:") + r"\s*" + re.escape(f"`{pair.output}`")
            if re.search(own, joined[page]):
                out.append(i)
    return out


def eval_index_suffix(split_version: str) -> str:
    return f"-eval-{split_version[:12]}"


def leakage_control(ws, name: str, pairs: Sequence, split_version: str, encoder=None, progress=None) -> PreparedEval:
    """The one leakage policy of every RAG evaluation: no evaluated pair may find its own example in the index.

    Checked on the content: when no pair's own example is in index ``name`` (an index built without
    them, such as a sweep's or an earlier evaluation index), it is used as it is; otherwise the
    evaluation index of :func:`prepare_eval_index` is built (or reused) from the root index, so the
    same items always give the same index whichever path asked. Corpora that are not tldr pages
    with known gold pages are used as built (a knowledge corpus is where the answers belong).
    """
    from rag.index import CHUNKS_FILE, index_dir

    if not (index_dir(ws, name) / CHUNKS_FILE).is_file():
        return PreparedEval(name, 0, f"index {name!r} not found in the workspace: nothing to check")  # opening it will say so
    leaked = own_examples_in_index(ws, name, pairs)
    if not leaked:
        return PreparedEval(name, 0, f"no evaluated item's own example is in index {name!r}: used as it is")
    root = name
    suffix = eval_index_suffix(split_version)
    if name.endswith(suffix) and index_dir(ws, name[: -len(suffix)]).is_dir():
        root = name[: -len(suffix)]
    return prepare_eval_index(ws, root, pairs, split_version, encoder=encoder, progress=progress)


def _leak_note(corpus_kind: str | None) -> str:
    """How to read the leak counts: pairs derived from the corpus (tldr) leak through their own page; a knowledge corpus
    is where answers belong."""
    if corpus_kind == "tldr":
        return ("the pairs are derived from these pages: an answer found verbatim in its own page is a leak (the evaluation "
                "index removes each test pair's own example); inputs found in other pages are usually generic intents")
    return ("a knowledge corpus: answers found in their own document are what retrieval is for, not a leak; only test "
            "inputs copied verbatim into the corpus would flatter retrieval")


def retrieval_report(ws, index_name: str, test_pairs: Sequence, encoder=None, ks: Sequence[int] = DEFAULT_KS) -> dict[str, object]:
    """hit@k / recall@k / MRR against the gold pages, retrieval latency, and the leak report."""
    import dataclasses
    import time

    from rag.pipeline import RagPipeline

    pipe = RagPipeline.open(ws, index_name, encoder=encoder)
    pipe.config = dataclasses.replace(pipe.config, max_chunks_per_doc=1)
    from rag.retrieve import make_retriever

    from rag.rerank import with_reranker

    pipe.retriever, _note = with_reranker(make_retriever(pipe.index, pipe.encoder, pipe.config), pipe.config)
    doc_ids = {c.doc_id for c in pipe.index.chunks}
    scored = [(p, gold_doc(p)) for p in test_pairs]
    scored = [(p, g) for p, g in scored if g in doc_ids]
    out: dict[str, object] = {"retriever": pipe.config.retriever, "questions_with_gold": len(scored)}
    if scored:
        began = time.perf_counter()
        hits = pipe.retriever.search([p.input for p, _ in scored], max(ks))
        out["retrieval_ms_per_query"] = round(1000 * (time.perf_counter() - began) / len(scored), 2)
        out["retrieval"] = {k: round(v, 4) for k, v in retrieval_metrics([doc_ranking(h) for h in hits], [{g} for _, g in scored], ks).items()}
    inputs = [p.input for p in test_pairs]
    input_leaks = find_leaks(inputs, pipe.index.chunks, threshold=0.8)
    answer_leaks = find_leaks([p.output for p in test_pairs], pipe.index.chunks, threshold=1.0, min_words=3)
    out["leaks"] = {
        "inputs_near_verbatim_in_corpus": len(input_leaks),
        "answers_verbatim_in_corpus": len(answer_leaks),
        "answers_verbatim_in_own_page": sum(1 for lk in answer_leaks if lk.doc_id == gold_doc(test_pairs[lk.item])),
        "examples": [{"input": inputs[lk.item], "chunk": lk.chunk_id, "containment": lk.containment} for lk in input_leaks[:5]],
        "note": _leak_note(pipe.index.manifest.corpus.get("kind")),
    }
    return out
