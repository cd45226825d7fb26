"""Reference difficulty of the built sets, with classic tools and no language model.

- classification: majority class, and TF-IDF + logistic regression (scikit-learn) on a
  group-aware 80/20 split (``GroupShuffleSplit``): what a cheap non-LLM baseline reaches.
- documentation questions: BM25 (bm25s) over the corpus, hit@1 and hit@5 of each question's
  gold document, per question type: how much of the task retrieval alone can route.

    python -m bench.datasets.reference [--root bench/datasets/out]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter, defaultdict
from collections.abc import Sequence
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.datasets.common import OUT


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def classification(path: Path, seed: int) -> dict:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GroupShuffleSplit

    rows = _rows(path)
    x, y, groups = [r["input"] for r in rows], [r["output"] for r in rows], [r["group"] for r in rows]
    train, test = next(GroupShuffleSplit(n_splits=1, test_size=0.2, random_state=seed).split(x, y, groups))
    vectorizer = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=1)
    model = LogisticRegression(max_iter=2000, C=5.0)
    model.fit(vectorizer.fit_transform([x[i] for i in train]), [y[i] for i in train])
    predicted = model.predict(vectorizer.transform([x[i] for i in test]))
    majority = Counter(y[i] for i in train).most_common(1)[0][0]
    return {
        "test_items": len(test),
        "majority_accuracy": round(sum(y[i] == majority for i in test) / len(test), 3),
        "tfidf_logreg_accuracy": round(sum(p == y[i] for p, i in zip(predicted, test)) / len(test), 3),
    }


def retrieval(corpus_path: Path, pairs_paths: Sequence[Path]) -> dict:
    import bm25s

    docs = _rows(corpus_path)
    retriever = bm25s.BM25()
    retriever.index(bm25s.tokenize([d["text"] for d in docs], stopwords="en", show_progress=False), show_progress=False)
    ids = [d["id"] for d in docs]
    hits: dict[str, list[int]] = defaultdict(list)
    for path in pairs_paths:
        rows = _rows(path)
        found, _scores = retriever.retrieve(bm25s.tokenize([r["input"] for r in rows], stopwords="en", show_progress=False),
                                            k=5, show_progress=False)
        for row, ranked in zip(rows, found):
            ranked_ids = [ids[j] for j in ranked]
            rank = ranked_ids.index(row["page"]) + 1 if row["page"] in ranked_ids else 0
            hits[row["question_type"]].append(rank)
    table = {t: {"pairs": len(r), "hit@1": round(sum(x == 1 for x in r) / len(r), 3),
                 "hit@5": round(sum(x > 0 for x in r) / len(r), 3)} for t, r in sorted(hits.items())}
    every = [x for r in hits.values() for x in r]
    table["all"] = {"pairs": len(every), "hit@1": round(sum(x == 1 for x in every) / len(every), 3),
                    "hit@5": round(sum(x > 0 for x in every) / len(every), 3)}
    return table


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.datasets.reference", description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=OUT, help="folder holding the built sets (default bench/datasets/out)")
    parser.add_argument("--seed", type=int, default=0)
    ns = parser.parse_args(argv)
    cls = ns.root / "debian-sections" / "pairs.jsonl"
    docs = ns.root / "numpy-docs"
    missing = [p for p in (cls, docs / "corpus.jsonl") if not p.exists()]
    if missing:
        print(f"error: build the sets first ({', '.join(map(str, missing))} missing)", file=sys.stderr)
        return 2
    result = {"debian-sections": classification(cls, ns.seed),
              "numpy-docs": retrieval(docs / "corpus.jsonl", [docs / "pairs.jsonl", docs / "pairs_text.jsonl"])}
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
