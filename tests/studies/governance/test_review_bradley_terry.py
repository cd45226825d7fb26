"""Bradley-Terry scores on constructed data: known ordering, closed forms, ties, regularisation."""

from __future__ import annotations

import math
import random

import pytest

from studies.governance.bradley_terry import PairOutcome, fit_bradley_terry


def simulate(strengths: dict[str, float], games_per_pair: int, seed: int = 0, tie_rate: float = 0.0) -> list[PairOutcome]:
    rng = random.Random(seed)
    players = sorted(strengths)
    out = []
    for i, a in enumerate(players):
        for b in players[i + 1 :]:
            p = strengths[a] / (strengths[a] + strengths[b])
            for _ in range(games_per_pair):
                if rng.random() < tie_rate:
                    out.append(PairOutcome(a, b, 0.5))
                else:
                    out.append(PairOutcome(a, b, 1.0 if rng.random() < p else 0.0))
    return out


def test_recovers_known_ordering_and_log_strength_gaps():
    truth = {"base": 1.0, "rag": 2.0, "lora": 4.0, "rag+lora": 8.0}
    fit = fit_bradley_terry(simulate(truth, games_per_pair=3000, seed=1), prior=0.0)
    assert fit.converged
    assert fit.ranking() == ["rag+lora", "lora", "rag", "base"]
    # Each step doubles the strength: gaps of log(2) between neighbours (within sampling error).
    for weaker, stronger in (("base", "rag"), ("rag", "lora"), ("lora", "rag+lora")):
        assert fit.scores[stronger] - fit.scores[weaker] == pytest.approx(math.log(2), abs=0.12)
    assert sum(fit.scores.values()) == pytest.approx(0.0, abs=1e-9)
    assert fit.win_probability("rag+lora", "base") == pytest.approx(8 / 9, abs=0.05)


def test_two_players_closed_form():
    # With two players the maximum-likelihood log-odds is log(wins_a / wins_b).
    comps = [("a", "b", 1.0)] * 7 + [("a", "b", 0.0)] * 3
    fit = fit_bradley_terry(comps, prior=0.0)
    assert fit.scores["a"] - fit.scores["b"] == pytest.approx(math.log(7 / 3), abs=1e-6)
    assert fit.win_probability("a", "b") == pytest.approx(0.7, abs=1e-6)
    assert fit.elo["a"] > 1000 > fit.elo["b"]
    assert fit.comparisons == {"a": 10, "b": 10}


def test_ties_count_half_and_order_of_arguments_does_not_matter():
    # 6 wins, 2 losses, 4 ties = 8 vs 4 effective wins.
    comps = [("a", "b", 1.0)] * 6 + [("a", "b", 0.0)] * 2 + [("a", "b", 0.5)] * 4
    flipped = [("b", "a", 1.0 - o) for _, _, o in comps]
    one = fit_bradley_terry(comps, prior=0.0)
    two = fit_bradley_terry(flipped, prior=0.0)
    assert one.scores["a"] - one.scores["b"] == pytest.approx(math.log(8 / 4), abs=1e-6)
    assert one.scores == pytest.approx(two.scores)
    all_ties = fit_bradley_terry([("a", "b", 0.5)] * 5)
    assert all_ties.scores["a"] == pytest.approx(all_ties.scores["b"])


def test_prior_keeps_an_unbeaten_run_finite_and_shrinks():
    comps = [("a", "b", 1.0)] * 5
    fit = fit_bradley_terry(comps, prior=0.5)
    assert math.isfinite(fit.scores["b"]) and fit.scores["a"] > fit.scores["b"]
    stronger_prior = fit_bradley_terry(comps, prior=5.0)
    assert stronger_prior.scores["a"] < fit.scores["a"]


def test_matches_logistic_regression_mle():
    # Same data, fitted by scipy's optimiser on the Bradley-Terry log-likelihood.
    from scipy.optimize import minimize

    comps = simulate({"x": 1.0, "y": 1.5, "z": 3.0}, games_per_pair=60, seed=4, tie_rate=0.2)
    players = ["x", "y", "z"]

    def nll(theta):
        s = dict(zip(players, [0.0, *theta]))
        total = 0.0
        for c in comps:
            p = 1 / (1 + math.exp(s[c.b] - s[c.a]))
            total -= c.outcome * math.log(p) + (1 - c.outcome) * math.log(1 - p)
        return total

    theta = minimize(nll, [0.0, 0.0], method="BFGS").x
    reference = dict(zip(players, [0.0, *theta]))
    mean = sum(reference.values()) / 3
    fit = fit_bradley_terry(comps, prior=0.0)
    for p in players:
        assert fit.scores[p] == pytest.approx(reference[p] - mean, abs=1e-4)


def test_bad_input():
    with pytest.raises(ValueError, match="itself"):
        fit_bradley_terry([("a", "a", 1.0)])
    with pytest.raises(ValueError, match="outcome"):
        fit_bradley_terry([("a", "b", 2.0)])
    assert fit_bradley_terry([]).scores == {}
