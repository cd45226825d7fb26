"""Metrics in a registry: each one scores every item (so intervals and paired tests work).

A metric is a small object satisfying :class:`Metric`; ``@register`` adds its class to the
registry under ``name``. ``binary`` metrics give 0/1 per item (McNemar applies to them); the
others give a number in [0, 1] (a paired permutation test applies). ``rewards`` is the one-line
statement of what the metric rewards; ``advisor eval --help`` and the leaderboard docs list them.

Metrics that need a model (embedding similarity) load it lazily, once per process; if it cannot
be loaded they raise :class:`MetricUnavailable`, and the evaluation records the metric as skipped
with the reason instead of failing the run.
"""

from __future__ import annotations

import re
import shlex
import unicodedata
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Protocol, runtime_checkable

from core.errors import EvaluationError


class MetricUnavailable(EvaluationError):
    """A metric cannot run here (missing model or package); the reason is recorded, the run goes on."""


@runtime_checkable
class Metric(Protocol):
    name: str
    """Registry key, also the column name in the leaderboard."""
    rewards: str
    """One line: what a high score means."""
    binary: bool
    """True when every item scores 0 or 1 (pass/fail)."""

    def score(self, predictions: Sequence[str], references: Sequence[str]) -> list[float]:
        """One value per item, in [0, 1]."""
        ...


_REGISTRY: dict[str, Callable[[], Metric]] = {}
_INSTANCES: dict[str, Metric] = {}

DEFAULT_METRICS = ("exact_match", "token_f1", "chrf", "rouge_l", "command_program", "command_flags", "embedding_similarity")
"""Metrics every evaluation computes unless told otherwise (command metrics suit command tasks)."""


def register(name: str) -> Callable[[type], type]:
    """Class decorator: register a metric class (instantiated lazily, once) under ``name``."""

    def wrap(cls: type) -> type:
        if name in _REGISTRY and _REGISTRY[name] is not cls:
            raise ValueError(f"metric {name!r} is already registered")
        cls.name = name
        _REGISTRY[name] = cls
        return cls

    return wrap


def available_metrics() -> dict[str, str]:
    """``{name: what it rewards}`` for every registered metric."""
    return {name: cls.rewards for name, cls in sorted(_REGISTRY.items())}  # type: ignore[attr-defined]


def get_metric(name: str) -> Metric:
    """The (shared) instance of a registered metric; unknown names list the known ones."""
    if name not in _REGISTRY:
        raise EvaluationError(f"Unknown metric {name!r}; known metrics: {', '.join(sorted(_REGISTRY))}.")
    if name not in _INSTANCES:
        _INSTANCES[name] = _REGISTRY[name]()
    return _INSTANCES[name]


def is_binary(name: str) -> bool:
    return bool(getattr(_REGISTRY.get(name), "binary", False))


# ----------------------------------------------------------------------------- text normalisation

_WS = re.compile(r"\s+")


def normalize(text: str) -> str:
    """NFKC, strip wrapping backticks/quotes, collapse whitespace, drop a trailing period.

    Case is kept: command flags are case-sensitive (``ls -r`` is not ``ls -R``).
    """
    t = unicodedata.normalize("NFKC", text or "").strip()
    while len(t) >= 2 and t[0] == t[-1] and t[0] in "`'\"":
        t = t[1:-1].strip()
    t = _WS.sub(" ", t)
    return t.rstrip(".").strip()


def tokens(text: str) -> list[str]:
    return normalize(text).split()


def _check(predictions: Sequence[str], references: Sequence[str]) -> None:
    if len(predictions) != len(references):
        raise EvaluationError(f"{len(predictions)} predictions but {len(references)} references; they must pair up.")


# ----------------------------------------------------------------------------- lexical metrics


@register("exact_match")
class ExactMatch:
    rewards = "the exact reference string (after whitespace/quote normalisation); all or nothing"
    binary = True

    def score(self, predictions: Sequence[str], references: Sequence[str]) -> list[float]:
        _check(predictions, references)
        return [float(normalize(p) == normalize(r)) for p, r in zip(predictions, references)]


@register("token_f1")
class TokenF1:
    rewards = "overlap of whitespace tokens with the reference (SQuAD-style F1); partial credit, order-free"
    binary = False

    def score(self, predictions: Sequence[str], references: Sequence[str]) -> list[float]:
        _check(predictions, references)
        return [overlap_f1(tokens(p), tokens(r)) for p, r in zip(predictions, references)]


def overlap_f1(predicted: Sequence[str], reference: Sequence[str]) -> float:
    """F1 of the multiset overlap of two token lists (1 when both are empty, 0 when one is)."""
    if not predicted or not reference:
        return float(list(predicted) == list(reference))
    common = sum((Counter(predicted) & Counter(reference)).values())
    return 0.0 if common == 0 else 2 * common / (len(predicted) + len(reference))


@register("chrf")
class ChrF:
    rewards = "character n-gram overlap with the reference (sacrebleu chrF, scaled to 0-1); robust to small typos"
    binary = False

    def __init__(self) -> None:
        from sacrebleu.metrics import CHRF

        self._chrf = CHRF()

    def score(self, predictions: Sequence[str], references: Sequence[str]) -> list[float]:
        _check(predictions, references)
        return [self._chrf.sentence_score(normalize(p), [normalize(r)]).score / 100.0 for p, r in zip(predictions, references)]


@register("rouge_l")
class RougeL:
    rewards = "longest common token subsequence with the reference (ROUGE-L F); rewards right order"
    binary = False

    def __init__(self) -> None:
        from rouge_score import rouge_scorer

        # rouge-score's default tokenizer drops everything but [a-z0-9]; commands need '-' and '/'.
        self._scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False, tokenizer=_WhitespaceTokenizer())

    def score(self, predictions: Sequence[str], references: Sequence[str]) -> list[float]:
        _check(predictions, references)
        return [self._scorer.score(normalize(r), normalize(p))["rougeL"].fmeasure for p, r in zip(predictions, references)]


class _WhitespaceTokenizer:
    def tokenize(self, text: str) -> list[str]:
        return text.split()


# ----------------------------------------------------------------------------- command metrics

_ENV_ASSIGN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
_WRAPPERS = {"sudo", "doas", "time", "nohup", "env"}


def split_command(command: str) -> list[str]:
    """Shell-split ``command`` (falls back to whitespace on unbalanced quotes)."""
    text = normalize(command)
    try:
        return shlex.split(text, posix=True)
    except ValueError:
        return text.split()


def program_name(command: str) -> str:
    """The program a command runs: first word, skipping ``sudo``/``env`` and ``VAR=value``."""
    for word in split_command(command):
        if _ENV_ASSIGN.match(word) or word in _WRAPPERS:
            continue
        return word.rsplit("/", 1)[-1]
    return ""


def flags(command: str) -> frozenset[str]:
    """The set of flags in a command: ``-x``, ``--long`` (``--long=value`` counts as ``--long``).

    Short clusters stay as written (``-la`` is one flag) because tools disagree on their meaning.
    """
    out = set()
    for word in split_command(command):
        if word.startswith("-") and len(word) > 1 and word != "--":
            out.add(word.split("=", 1)[0])
    return frozenset(out)


@register("command_program")
class CommandProgram:
    rewards = "running the right program (first word, ignoring sudo/env prefixes); says nothing about arguments"
    binary = True

    def score(self, predictions: Sequence[str], references: Sequence[str]) -> list[float]:
        _check(predictions, references)
        return [float(bool(program_name(r)) and program_name(p) == program_name(r)) for p, r in zip(predictions, references)]


@register("command_flags")
class CommandFlags:
    rewards = "the same program with exactly the reference's set of flags, in any order; arguments ignored"
    binary = True

    def score(self, predictions: Sequence[str], references: Sequence[str]) -> list[float]:
        _check(predictions, references)
        return [
            float(bool(program_name(r)) and program_name(p) == program_name(r) and flags(p) == flags(r))
            for p, r in zip(predictions, references)
        ]


# ----------------------------------------------------------------------------- embedding similarity

_EMBEDDER = None


def _embedder():
    """The MiniLM embedder, loaded once per process (raises MetricUnavailable with the reason)."""
    global _EMBEDDER
    if _EMBEDDER is None:
        try:
            from rag.embedder import load_embedder

            _EMBEDDER = load_embedder(None)
        except Exception as exc:  # noqa: BLE001 - any load failure makes the metric unavailable
            raise MetricUnavailable(f"embedding_similarity skipped: the MiniLM embedder could not be loaded ({exc})") from exc
    return _EMBEDDER


@register("embedding_similarity")
class EmbeddingSimilarity:
    rewards = "meaning close to the reference (cosine of MiniLM sentence embeddings, clipped to 0-1); paraphrase-tolerant"
    binary = False

    def score(self, predictions: Sequence[str], references: Sequence[str]) -> list[float]:
        _check(predictions, references)
        if not predictions:
            return []
        model = _embedder()
        texts = [normalize(t) for t in [*predictions, *references]]
        vectors = model.encode(texts, batch_size=64, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False)
        n = len(predictions)
        sims = (vectors[:n] * vectors[n:]).sum(axis=1)
        return [float(min(1.0, max(0.0, s))) for s in sims]


def score_all(
    names: Sequence[str], predictions: Sequence[str], references: Sequence[str]
) -> tuple[dict[str, list[float]], dict[str, str]]:
    """Run several metrics; returns ``(values per metric, skipped metric -> reason)``."""
    values: dict[str, list[float]] = {}
    skipped: dict[str, str] = {}
    for name in names:
        try:
            values[name] = get_metric(name).score(predictions, references)
        except MetricUnavailable as exc:
            skipped[name] = str(exc)
    return values, skipped
