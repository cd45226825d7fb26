"""Intervals and paired tests, checked against known values and scipy on the same data."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sp

from core.errors import EvaluationError
from studies.evaluation import stats


def _data(n=120, seed=3):
    rng = np.random.default_rng(seed)
    a = rng.random(n)
    b = np.clip(a - 0.1 + rng.normal(0, 0.15, n), 0, 1)
    return a, b


def test_interval_matches_scipy_bootstrap_bca():
    a, _ = _data()
    got = stats.interval(a, n_resamples=2000, seed=7)
    ref = sp.bootstrap((a,), np.mean, n_resamples=2000, method="BCa", rng=np.random.default_rng(7)).confidence_interval
    assert got.mean == pytest.approx(a.mean())
    assert (got.low, got.high) == pytest.approx((ref.low, ref.high))
    assert got.low < got.mean < got.high and got.n == a.size


def test_interval_is_deterministic_and_narrows_with_more_items():
    a = np.tile([0.0, 1.0], 50)
    wide, narrow = stats.interval(a[:20]), stats.interval(np.tile(a, 20))
    assert stats.interval(a[:20]) == wide
    assert (narrow.high - narrow.low) < (wide.high - wide.low)


def test_degenerate_values_give_a_zero_width_interval():
    assert stats.interval([1.0, 1.0, 1.0]) == stats.Score(1.0, 1.0, 1.0, 3)
    assert stats.interval([0.25]) == stats.Score(0.25, 0.25, 0.25, 1)
    with pytest.raises(EvaluationError):
        stats.interval([])
    with pytest.raises(EvaluationError):
        stats.interval([float("nan")])


def test_paired_difference_matches_scipy_paired_bootstrap():
    a, b = _data()
    cmp = stats.paired_difference(a, b, "chrf", n_resamples=2000, seed=1)
    ref = sp.bootstrap(
        (a, b), lambda x, y, axis=-1: x.mean(axis=axis) - y.mean(axis=axis), paired=True, n_resamples=2000,
        method="BCa", rng=np.random.default_rng(1),
    ).confidence_interval
    assert cmp.difference.mean == pytest.approx(a.mean() - b.mean())
    assert (cmp.difference.low, cmp.difference.high) == pytest.approx((ref.low, ref.high))
    assert cmp.test == "permutation" and cmp.verdict == "a better"


def test_permutation_matches_scipy_and_ttest_roughly():
    a, b = _data(n=40, seed=5)
    p = stats.permutation(a, b, n_resamples=9999, seed=2)
    ref = sp.permutation_test((a, b), lambda x, y, axis=-1: (x - y).mean(axis=axis), permutation_type="samples",
                              n_resamples=9999, rng=np.random.default_rng(2)).pvalue
    assert p == pytest.approx(ref)
    assert p == pytest.approx(sp.ttest_rel(a, b).pvalue, abs=0.02)


def test_permutation_exact_known_value():
    # 5 pairs, all differences +1: exact test over 2^5 sign flips; only all-plus and all-minus are as extreme.
    a, b = [1, 1, 1, 1, 1], [0, 0, 0, 0, 0]
    assert stats.permutation(np.array(a, float) + 0.5, b) == pytest.approx(2 / 32)


def test_mcnemar_known_values():
    # 10 discordant pairs, 9 favour a: p = 2 * P(X >= 9 | n=10, 1/2) = 2 * 11/1024.
    a = [1] * 9 + [0] + [1] * 5 + [0] * 5
    b = [0] * 9 + [1] + [1] * 5 + [0] * 5
    p, a_only, b_only = stats.mcnemar(a, b)
    assert (a_only, b_only) == (9, 1)
    assert p == pytest.approx(22 / 1024)
    assert p == pytest.approx(sp.binomtest(9, 10, 0.5).pvalue)
    cmp = stats.paired_difference(a, b, "exact_match")
    assert cmp.test == "mcnemar-exact" and cmp.p_value == pytest.approx(22 / 1024) and cmp.a_only == 9


def test_mcnemar_refuses_graded_values_and_ties_give_p_one():
    with pytest.raises(EvaluationError, match="0 or 1"):
        stats.mcnemar([0.5], [1.0])
    assert stats.mcnemar([1, 0], [1, 0]) == (1.0, 0, 0)
    same = stats.paired_difference([0.3, 0.7], [0.3, 0.7])
    assert same.test == "none" and same.p_value == 1.0 and same.verdict == "no difference shown"


def test_paired_needs_same_items():
    with pytest.raises(EvaluationError, match="same items"):
        stats.paired_difference([1, 0, 1], [1, 0])


def test_no_difference_shown_when_interval_straddles_zero():
    rng = np.random.default_rng(0)
    a = rng.random(30)
    b = a + rng.normal(0, 0.2, 30)
    cmp = stats.paired_difference(a, b)
    assert cmp.difference.low < 0 < cmp.difference.high
    assert cmp.verdict == "no difference shown"
