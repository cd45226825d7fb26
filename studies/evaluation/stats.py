"""Statistics for honest comparisons: paired bootstrap intervals and paired tests (scipy.stats).

- :func:`interval`: bootstrap CI of a metric's mean over items (BCa, falling back to percentile).
- :func:`paired_difference`: bootstrap CI of ``mean(a) - mean(b)`` resampling *items* (both systems
  on the same items, ``paired=True``), plus the paired test:
  McNemar (exact, ``binomtest`` on the discordant pairs) for pass/fail metrics, a paired
  permutation test (``permutation_test``, ``permutation_type='samples'``: sign flips) otherwise.
- "A beats B" only when the difference interval excludes 0 (:attr:`PairedComparison.verdict`).

Every function is deterministic for a given ``seed``.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

from core.errors import EvaluationError

CONFIDENCE = 0.95
N_RESAMPLES = 2000
SEED = 0


@dataclass(frozen=True)
class Score:
    """A metric's mean over items with its bootstrap confidence interval."""

    mean: float
    low: float
    high: float
    n: int = 0

    def to_dict(self) -> dict[str, float]:
        return asdict(self)

    def __str__(self) -> str:
        return f"{self.mean:.3f} [{self.low:.3f}, {self.high:.3f}]"


@dataclass(frozen=True)
class PairedComparison:
    """A paired comparison of two systems on one metric over the same items."""

    metric: str
    difference: Score
    """mean(a) - mean(b) with its paired bootstrap interval."""
    test: str
    """'mcnemar-exact' or 'permutation' (or 'none' when every pair is tied)."""
    p_value: float
    a_only: int = 0
    """Pass/fail metrics: items that a passes and b fails."""
    b_only: int = 0

    @property
    def verdict(self) -> str:
        """'a better', 'b better', or 'no difference shown' (interval contains 0)."""
        if self.difference.low > 0:
            return "a better"
        if self.difference.high < 0:
            return "b better"
        return "no difference shown"

    def to_dict(self) -> dict[str, object]:
        out = asdict(self)
        out["verdict"] = self.verdict
        return out


def _as_array(values: Sequence[float], what: str) -> np.ndarray:
    arr = np.asarray(values, dtype=float)
    if arr.ndim != 1 or arr.size == 0:
        raise EvaluationError(f"{what}: need a non-empty list of per-item values, got {arr.size} values.")
    if not np.all(np.isfinite(arr)):
        raise EvaluationError(f"{what}: per-item values must be finite numbers.")
    return arr


def _mean(x, axis=-1):
    return np.mean(x, axis=axis)


def _diff_mean(a, b, axis=-1):
    return np.mean(a, axis=axis) - np.mean(b, axis=axis)


def _bootstrap(data: tuple[np.ndarray, ...], statistic, paired: bool, confidence: float, n_resamples: int, seed: int) -> tuple[float, float]:
    from scipy import stats

    for method in ("BCa", "percentile"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = stats.bootstrap(
                data,
                statistic,
                paired=paired,
                vectorized=True,
                confidence_level=confidence,
                n_resamples=n_resamples,
                method=method,
                rng=np.random.default_rng(seed),
            )
        low, high = float(res.confidence_interval.low), float(res.confidence_interval.high)
        if math.isfinite(low) and math.isfinite(high):
            return low, high
    return float("nan"), float("nan")


def interval(values: Sequence[float], confidence: float = CONFIDENCE, n_resamples: int = N_RESAMPLES, seed: int = SEED) -> Score:
    """Bootstrap CI of the mean of per-item values (degenerate data give a zero-width interval)."""
    arr = _as_array(values, "interval")
    mean = float(arr.mean())
    if arr.size == 1 or np.all(arr == arr[0]):
        return Score(mean, mean, mean, int(arr.size))
    low, high = _bootstrap((arr,), _mean, False, confidence, n_resamples, seed)
    return Score(mean, min(low, mean), max(high, mean), int(arr.size))


def _is_binary(arr: np.ndarray) -> bool:
    return bool(np.all((arr == 0) | (arr == 1)))


def mcnemar(a: Sequence[float], b: Sequence[float]) -> tuple[float, int, int]:
    """Exact McNemar test on paired pass/fail outcomes: ``(p_value, a_only, b_only)``.

    Under the null, each discordant pair is equally likely to favour either system, so the count
    of "a passes, b fails" among the discordant pairs is Binomial(n_discordant, 1/2).
    """
    from scipy import stats

    x, y = _as_array(a, "mcnemar a"), _as_array(b, "mcnemar b")
    if x.size != y.size:
        raise EvaluationError(f"mcnemar: {x.size} and {y.size} items; a paired test needs the same items.")
    if not (_is_binary(x) and _is_binary(y)):
        raise EvaluationError("mcnemar: values must be 0 or 1 (pass/fail); use permutation() for graded metrics.")
    a_only = int(np.sum((x == 1) & (y == 0)))
    b_only = int(np.sum((x == 0) & (y == 1)))
    n = a_only + b_only
    if n == 0:
        return 1.0, 0, 0
    return float(stats.binomtest(a_only, n, 0.5, alternative="two-sided").pvalue), a_only, b_only


def permutation(a: Sequence[float], b: Sequence[float], n_resamples: int = 9999, seed: int = SEED) -> float:
    """Two-sided paired permutation test of ``mean(a - b) == 0`` (random sign flips of each pair)."""
    from scipy import stats

    x, y = _as_array(a, "permutation a"), _as_array(b, "permutation b")
    if x.size != y.size:
        raise EvaluationError(f"permutation: {x.size} and {y.size} items; a paired test needs the same items.")
    if np.all(x == y):
        return 1.0
    res = stats.permutation_test(
        (x, y),
        _diff_mean,
        permutation_type="samples",
        vectorized=True,
        n_resamples=n_resamples,
        alternative="two-sided",
        rng=np.random.default_rng(seed),
    )
    return float(res.pvalue)


def paired_difference(
    a: Sequence[float],
    b: Sequence[float],
    metric: str = "metric",
    binary: bool | None = None,
    confidence: float = CONFIDENCE,
    n_resamples: int = N_RESAMPLES,
    seed: int = SEED,
) -> PairedComparison:
    """Compare two systems on the same items: paired bootstrap CI of the difference + paired test.

    ``binary=None`` picks McNemar when every value is 0/1, the permutation test otherwise.
    """
    x, y = _as_array(a, f"{metric} (a)"), _as_array(b, f"{metric} (b)")
    if x.size != y.size:
        raise EvaluationError(
            f"Cannot compare {metric}: {x.size} vs {y.size} items. A paired comparison needs both systems on the same items "
            "(the same frozen test split)."
        )
    diff = float(x.mean() - y.mean())
    if np.all(x - y == (x - y)[0]):
        score = Score(diff, diff, diff, int(x.size))
    else:
        low, high = _bootstrap((x, y), _diff_mean, True, confidence, n_resamples, seed)
        score = Score(diff, min(low, diff), max(high, diff), int(x.size))
    use_mcnemar = (_is_binary(x) and _is_binary(y)) if binary is None else binary
    if np.all(x == y):
        return PairedComparison(metric, score, "none", 1.0)
    if use_mcnemar:
        p, a_only, b_only = mcnemar(x, y)
        return PairedComparison(metric, score, "mcnemar-exact", p, a_only, b_only)
    return PairedComparison(metric, score, "permutation", permutation(x, y, seed=seed))
