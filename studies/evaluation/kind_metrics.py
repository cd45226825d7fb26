"""Per-item metrics of the non-command kinds: labels, structured output (JSON, SQL), short answers.

Registered in the same registry as :mod:`studies.evaluation.metrics` (importing this module
registers them; ``metrics`` imports it at the end), so intervals and paired tests apply as for
every other metric.
"""

from __future__ import annotations

import json
import re
import string
from collections import Counter
from collections.abc import Sequence
from typing import Any

from studies.evaluation.metrics import _check, normalize, overlap_f1, register

# ----------------------------------------------------------------------------- classification


def label_key(text: str) -> str:
    """How labels compare: NFKC + whitespace normalised, case-folded, outer punctuation dropped."""
    return normalize(text).strip(string.punctuation + " ").casefold()


@register("accuracy")
class Accuracy:
    rewards = "the right label (case and surrounding punctuation ignored); all or nothing per item"
    binary = True

    def score(self, predictions: Sequence[str], references: Sequence[str]) -> list[float]:
        _check(predictions, references)
        return [float(label_key(p) == label_key(r)) for p, r in zip(predictions, references)]


# ----------------------------------------------------------------------------- structured: JSON


def parse_structured(text: str) -> Any:
    """The JSON value of ``text`` (any JSON value), or raise ValueError."""
    return json.loads((text or "").strip())


def canonical_json(value: Any) -> str:
    """Key order and whitespace do not matter; numbers compare as numbers (1 == 1.0)."""

    def norm(v: Any) -> Any:
        if isinstance(v, dict):
            return {str(k): norm(x) for k, x in v.items()}
        if isinstance(v, list):
            return [norm(x) for x in v]
        if isinstance(v, float) and v.is_integer():
            return int(v)
        if isinstance(v, str):
            return " ".join(v.split())
        return v

    return json.dumps(norm(value), sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def fields_of(value: Any, prefix: str = "") -> Counter:
    """Leaf ``(path, canonical value)`` pairs of a JSON value (list items by position): what field F1 counts."""
    out: Counter = Counter()
    if isinstance(value, dict):
        if not value:
            out[(prefix or "$", "{}")] += 1
        for k, v in value.items():
            out += fields_of(v, f"{prefix}.{k}" if prefix else str(k))
    elif isinstance(value, list):
        if not value:
            out[(prefix or "$", "[]")] += 1
        for i, v in enumerate(value):
            out += fields_of(v, f"{prefix}[{i}]")
    else:
        out[(prefix or "$", canonical_json(value))] += 1
    return out


def _parsed(text: str) -> tuple[bool, Any]:
    try:
        return True, parse_structured(text)
    except ValueError:
        return False, None


def _parsed_pairs(predictions: Sequence[str], references: Sequence[str]) -> list[tuple[bool, Any, Any]]:
    """``(both parse, prediction value, reference value)`` per item."""
    _check(predictions, references)
    out = []
    for p, r in zip(predictions, references):
        (ok_p, vp), (ok_r, vr) = _parsed(p), _parsed(r)
        out.append((ok_p and ok_r, vp, vr))
    return out


@register("json_parse")
class JsonParse:
    rewards = "an answer that parses as JSON (the parse rate); says nothing about its content"
    binary = True

    def score(self, predictions: Sequence[str], references: Sequence[str]) -> list[float]:
        _check(predictions, references)
        return [float(_parsed(p)[0]) for p in predictions]


@register("json_exact")
class JsonExact:
    rewards = "the reference's JSON value exactly, after canonicalisation (key order, whitespace, 1 vs 1.0 ignored)"
    binary = True

    def score(self, predictions: Sequence[str], references: Sequence[str]) -> list[float]:
        return [float(ok and canonical_json(vp) == canonical_json(vr)) for ok, vp, vr in _parsed_pairs(predictions, references)]


@register("field_f1")
class FieldF1:
    rewards = "F1 over (key path, value) leaves of the JSON answer vs the reference; partial credit per right field, 0 if unparsable"
    binary = False

    def score(self, predictions: Sequence[str], references: Sequence[str]) -> list[float]:
        out = []
        for ok, vp, vr in _parsed_pairs(predictions, references):
            if not ok:
                out.append(0.0)
                continue
            fp, fr = fields_of(vp), fields_of(vr)
            common = sum((fp & fr).values())
            if common == 0:
                out.append(0.0)
                continue
            precision, recall = common / sum(fp.values()), common / sum(fr.values())
            out.append(2 * precision * recall / (precision + recall))
        return out


# ----------------------------------------------------------------------------- structured: SQL

_SQL_TOKEN = re.compile(r"'(?:[^']|'')*'|\"[^\"]*\"|[A-Za-z_][A-Za-z0-9_.]*|\d+(?:\.\d+)?|<=|>=|<>|!=|\S")


def canonical_sql(text: str) -> str:
    """Keywords and identifiers case-folded (string literals kept), whitespace collapsed, trailing ``;`` dropped."""
    t = (text or "").strip().rstrip(";").strip()
    out = []
    for tok in _SQL_TOKEN.findall(t):
        if tok.startswith("'"):
            out.append(tok)
        elif tok.startswith('"'):
            out.append(tok[1:-1].casefold())
        else:
            out.append(tok.casefold())
    return " ".join(out)


@register("sql_match")
class SqlMatch:
    rewards = "the reference SQL statement after canonicalisation (case of keywords/identifiers, spacing, final ';' ignored)"
    binary = True

    def score(self, predictions: Sequence[str], references: Sequence[str]) -> list[float]:
        _check(predictions, references)
        return [float(bool(canonical_sql(r)) and canonical_sql(p) == canonical_sql(r)) for p, r in zip(predictions, references)]


def sql_execution_match(predictions: Sequence[str], references: Sequence[str], database: str) -> list[float]:
    """1 where the prediction returns the same rows as the reference on a read-only copy of a SQLite ``database``.

    Rows compare as multisets (order ignored unless both statements sort); a failing prediction scores 0.
    """
    import sqlite3

    _check(predictions, references)
    con = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        def rows(sql: str) -> Counter | None:
            try:
                return Counter(map(tuple, con.execute(sql).fetchmany(100_000)))
            except sqlite3.Error:
                return None

        out = []
        for p, r in zip(predictions, references):
            want = rows(r)
            got = rows(p) if want is not None else None
            out.append(float(want is not None and got == want))
        return out
    finally:
        con.close()


# ----------------------------------------------------------------------------- short answers

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCT = str.maketrans("", "", string.punctuation)


def answer_tokens(text: str) -> list[str]:
    """SQuAD normalisation: lower case, punctuation and articles (a, an, the) removed, whitespace split."""
    t = normalize(text).casefold().translate(_PUNCT)
    return _ARTICLES.sub(" ", t).split()


@register("normalized_exact_match")
class NormalizedExactMatch:
    rewards = "the reference answer up to case, punctuation and articles (SQuAD exact match); all or nothing"
    binary = True

    def score(self, predictions: Sequence[str], references: Sequence[str]) -> list[float]:
        _check(predictions, references)
        return [float(answer_tokens(p) == answer_tokens(r)) for p, r in zip(predictions, references)]


@register("answer_f1")
class AnswerF1:
    rewards = "token overlap with the reference after SQuAD normalisation (case, punctuation, articles ignored)"
    binary = False

    def score(self, predictions: Sequence[str], references: Sequence[str]) -> list[float]:
        _check(predictions, references)
        return [overlap_f1(answer_tokens(p), answer_tokens(r)) for p, r in zip(predictions, references)]
