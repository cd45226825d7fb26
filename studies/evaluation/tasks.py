"""What the task kind decides in the evaluation: the metrics, the ONE primary metric, the answer extraction,
and (classification) the set-level report with its baselines.

| kind | metrics (primary first) | extraction |
|---|---|---|
| classification | accuracy | the label the answer names (see :func:`extract_label`) |
| structured (json) | field_f1, json_exact, json_parse | the first JSON object/array in the answer |
| structured (sql) | sql_match, exact_match, chrf | fenced/inline code, else the text up to the first ``;`` |
| command | chrf + today's command metrics | fenced block, inline code, first line (:mod:`extract`) |
| short_answer | normalized_exact_match, answer_f1, chrf | inline code, else the first line |
| text | chrf, rouge_l, embedding_similarity | the whole answer |

Command metrics, command extraction and the dangerous-commands check apply to ``command`` only.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

import numpy as np

from studies.data.kinds import TaskSpec
from studies.evaluation import kind_metrics
from studies.evaluation import metrics as metric_registry
from studies.evaluation.extract import Extraction, extract
from studies.evaluation.kind_metrics import label_key
from studies.evaluation.stats import CONFIDENCE, N_RESAMPLES, SEED

COMMAND_METRICS = metric_registry.DEFAULT_METRICS
"""What command tasks compute (exactly today's default list, so tldr figures are unchanged)."""

KIND_METRICS: dict[str, tuple[str, ...]] = {
    "classification": ("accuracy",),
    "structured": ("field_f1", "json_exact", "json_parse"),
    "structured:sql": ("sql_match", "exact_match", "chrf"),
    "command": COMMAND_METRICS,
    "short_answer": ("normalized_exact_match", "answer_f1", "chrf"),
    "text": ("chrf", "rouge_l", "embedding_similarity"),
}
PRIMARY: dict[str, str] = {
    "classification": "accuracy",
    "structured": "field_f1",
    "structured:sql": "sql_match",
    "command": "chrf",
    "short_answer": "normalized_exact_match",
    "text": "chrf",
}
"""The one metric each kind is ranked and decided by."""


def _key(task: TaskSpec) -> str:
    return "structured:sql" if task.kind == "structured" and task.format == "sql" else task.kind


def metrics_for(task: TaskSpec) -> list[str]:
    """The metrics the contract computes for ``task`` (primary first, except command's historical order)."""
    return list(KIND_METRICS[_key(task)])


def primary_metric(task: TaskSpec) -> str:
    return PRIMARY[_key(task)]


def primary_for_kind(kind: str | None, fmt: str | None = None) -> str | None:
    """The primary metric of a kind name (None for unknown or missing kinds: old rows)."""
    if kind is None:
        return None
    key = "structured:sql" if kind == "structured" and fmt == "sql" else kind
    return PRIMARY.get(key)


# ----------------------------------------------------------------------------- extraction

_JSON_START = re.compile(r"[\[{]")
_FENCE = re.compile(r"(`{3,}|~{3,})[^\n`]*\n(.*?)(?:\n?\1|\Z)", re.DOTALL)


def extract_label(raw: str, labels: Sequence[str]) -> Extraction:
    """The label an answer names: the whole answer, else its first line, else the one (or first-mentioned) label in it.

    Rules: ``label`` (the whole answer is a label), ``label-line`` (its first line is),
    ``label-mention`` (labels appear as whole words: the earliest wins), ``no-label`` (the first
    line, counted as an answer that is no label).
    """
    text = (raw or "").strip()
    keys = {label_key(label): label for label in labels}
    if label_key(text) in keys:
        return Extraction(keys[label_key(text)], "label")
    code = extract(text)
    first = code.answer
    if label_key(first) in keys:
        return Extraction(keys[label_key(first)], "label-line")
    lowered = text.casefold()
    found = []
    for key, label in keys.items():
        if not key:
            continue
        m = re.search(r"(?<![\w-])" + re.escape(key) + r"(?![\w-])", lowered)
        if m:
            found.append((m.start(), -len(key), label))
    if found:
        return Extraction(min(found)[2], "label-mention")
    return Extraction(first, "no-label" if first else "empty")


def extract_json(raw: str) -> Extraction:
    """The first JSON object or array in the answer (fenced or bare), else the stripped answer (rule ``unparsed``)."""
    text = raw or ""
    fence = _FENCE.search(text)
    candidates = [fence.group(2)] if fence else []
    candidates.append(text)
    decoder = json.JSONDecoder()
    for body in candidates:
        for m in _JSON_START.finditer(body):
            try:
                value, end = decoder.raw_decode(body, m.start())
            except ValueError:
                continue
            return Extraction(body[m.start() : end].strip(), "json")
    return Extraction(text.strip(), "unparsed" if text.strip() else "empty")


def extract_sql(raw: str) -> Extraction:
    code = extract(raw)
    if code.rule in ("fenced", "inline"):
        return Extraction(code.answer.strip().rstrip(";").strip(), code.rule)
    text = (raw or "").strip()
    return Extraction(text.split(";", 1)[0].strip(), "statement" if text else "empty")


def extract_first_line(raw: str) -> Extraction:
    code = extract(raw)
    if code.rule == "inline":
        return code
    for line in (raw or "").splitlines():
        if line.strip():
            return Extraction(line.strip(), "line")
    return Extraction("", "empty")


def extract_for(task: TaskSpec, raw: str) -> Extraction:
    """Apply the extraction rule of ``task``'s kind (see the module table)."""
    if task.kind == "classification":
        return extract_label(raw, task.labels)
    if task.kind == "structured":
        return extract_sql(raw) if task.format == "sql" else extract_json(raw)
    if task.kind == "command":
        return extract(raw)
    if task.kind == "short_answer":
        return extract_first_line(raw)
    text = (raw or "").strip()
    return Extraction(text, "text" if text else "empty")


# ----------------------------------------------------------------------------- classification report


def _macro_f1(pred: np.ndarray, ref: np.ndarray, n_labels: int) -> float:
    """Macro-F1 over the labels that occur in the references (integer-coded; -1 = no label)."""
    scores = []
    for c in range(n_labels):
        support = int((ref == c).sum())
        if support == 0:
            continue
        tp = int(((pred == c) & (ref == c)).sum())
        predicted = int((pred == c).sum())
        p = tp / predicted if predicted else 0.0
        r = tp / support
        scores.append(0.0 if p + r == 0 else 2 * p * r / (p + r))
    return float(np.mean(scores)) if scores else 0.0


def macro_f1_interval(pred: Sequence[int], ref: Sequence[int], n_labels: int, seed: int = SEED) -> dict[str, float]:
    """Macro-F1 with a percentile bootstrap interval over items (resampled with replacement)."""
    p, r = np.asarray(pred), np.asarray(ref)
    value = _macro_f1(p, r, n_labels)
    rng = np.random.default_rng(seed)
    n = len(r)
    if n < 2:
        return {"mean": value, "low": value, "high": value, "n": n}
    samples = [_macro_f1(p[idx], r[idx], n_labels) for idx in (rng.integers(0, n, n) for _ in range(N_RESAMPLES))]
    alpha = (1 - CONFIDENCE) / 2
    low, high = np.quantile(samples, [alpha, 1 - alpha])
    return {"mean": value, "low": float(min(low, value)), "high": float(max(high, value)), "n": n}


def classification_report(task: TaskSpec, answers: Sequence[str], references: Sequence[str]) -> dict[str, Any]:
    """Set-level view of a classification run: macro-F1 (bootstrap interval), per-class precision/recall/support,
    the confusion matrix (rows: reference, columns: answer; an extra column for answers that are no label),
    the count of answers that are no label, and the majority-class and chance baselines."""
    labels = list(task.labels)
    for ref in references:  # a test label unseen in training still gets its row
        if ref not in labels:
            labels.append(ref)
    index = {label_key(label): i for i, label in enumerate(labels)}
    pred = [index.get(label_key(a), -1) for a in answers]
    ref = [index.get(label_key(r), -1) for r in references]
    k = len(labels)
    confusion = [[0] * (k + 1) for _ in range(k)]
    for p, r in zip(pred, ref):
        confusion[r][p if p >= 0 else k] += 1
    per_class = {}
    for c, label in enumerate(labels):
        tp = confusion[c][c]
        support = sum(confusion[c])
        predicted = sum(confusion[row][c] for row in range(k))
        per_class[label] = {
            "precision": tp / predicted if predicted else 0.0,
            "recall": tp / support if support else 0.0,
            "support": support,
        }
    counts = task.label_counts or {}
    majority = max(counts, key=lambda label: (counts[label], label)) if counts else (labels[0] if labels else "")
    n = len(references) or 1
    return {
        "labels": labels,
        "macro_f1": macro_f1_interval(pred, ref, k),
        "per_class": per_class,
        "confusion": confusion,
        "confusion_columns": labels + ["(no label)"],
        "non_label_answers": sum(1 for p in pred if p < 0),
        "baselines": {
            "majority_class": {"label": majority, "accuracy": sum(1 for r in references if label_key(r) == label_key(majority)) / n},
            "chance": {"accuracy": 1.0 / len(task.labels) if task.labels else 0.0},
        },
    }


def task_report(task: TaskSpec, answers: Sequence[str], references: Sequence[str]) -> dict[str, Any]:
    """The set-level report of a run for its kind (empty for kinds whose metrics are all per item)."""
    if task.kind == "classification":
        return classification_report(task, answers, references)
    return {}


__all__ = [
    "KIND_METRICS",
    "PRIMARY",
    "classification_report",
    "extract_for",
    "extract_label",
    "kind_metrics",
    "metrics_for",
    "primary_metric",
    "task_report",
]


MAX_ANSWER_TOKENS = 512
"""Upper bound of a generation limit derived from the data (longer answers need ``--max-new-tokens``)."""


def answer_token_budget(outputs: Sequence[str], default: int) -> int:
    """A generation limit that fits the answers of the data: the 99th-percentile training output, at about 2
    characters a token (JSON and code are token-dense; prose needs fewer tokens), plus a margin; never below
    ``default``. A fixed 64 cut structured answers of ~220 characters mid-object, so none parsed."""
    if not outputs:
        return default
    lengths = sorted(len(o) for o in outputs)
    p99 = lengths[int(0.99 * (len(lengths) - 1))]
    return max(default, min(MAX_ANSWER_TOKENS, p99 // 2 + 16))

