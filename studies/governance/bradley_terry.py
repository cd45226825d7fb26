"""Bradley-Terry scores from pairwise judgements, fitted by minorisation-maximisation.

Model: P(i beats j) = p_i / (p_i + p_j). Hunter's (2004) MM update
``p_i <- W_i / sum_j n_ij / (p_i + p_j)`` increases the likelihood at every step. A tie counts
as half a win for each side. To keep every score finite (a run that never won would go to
-inf) each run also plays ``prior`` virtual ties against a fixed reference player of strength
1; ``prior=0`` gives the plain maximum-likelihood fit (finite only when the comparison graph
is strongly connected).

Scores are reported as log-strengths centred at mean 0 (a difference of 1 means odds of e:1)
and as Elo-like points (``1000 + 400 * log10(strength)``, centred at 1000).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class PairOutcome:
    """One judgement: ``outcome`` is 1 if ``a`` won, 0 if ``b`` won, 0.5 for a tie."""

    a: str
    b: str
    outcome: float


@dataclass(frozen=True)
class BradleyTerryFit:
    scores: dict[str, float]
    """Log-strength per player, centred at mean 0."""
    elo: dict[str, float]
    """Elo-like points per player, centred at 1000."""
    comparisons: dict[str, int]
    """How many judgements each player took part in."""
    iterations: int
    converged: bool

    def win_probability(self, a: str, b: str) -> float:
        """Fitted probability that ``a`` beats ``b``."""
        return 1.0 / (1.0 + math.exp(self.scores[b] - self.scores[a]))

    def ranking(self) -> list[str]:
        return sorted(self.scores, key=lambda k: -self.scores[k])


def fit_bradley_terry(
    comparisons: Iterable[PairOutcome | tuple[str, str, float]],
    prior: float = 0.5,
    max_iter: int = 10_000,
    tol: float = 1e-10,
) -> BradleyTerryFit:
    """Fit Bradley-Terry strengths; ties count half a win to each side."""
    if prior < 0:
        raise ValueError(f"prior must be >= 0, but got {prior}")
    wins: dict[str, float] = {}
    games: dict[tuple[str, str], float] = {}
    counts: dict[str, int] = {}
    for c in comparisons:
        a, b, outcome = (c.a, c.b, c.outcome) if isinstance(c, PairOutcome) else c
        if a == b:
            raise ValueError(f"a player cannot be compared with itself: {a!r}")
        if outcome not in (0, 0.5, 1):
            raise ValueError(f"outcome must be 1 (a won), 0 (b won) or 0.5 (tie), but got {outcome!r}")
        wins[a] = wins.get(a, 0.0) + outcome
        wins[b] = wins.get(b, 0.0) + 1.0 - outcome
        key = (a, b) if a < b else (b, a)
        games[key] = games.get(key, 0.0) + 1.0
        counts[a] = counts.get(a, 0) + 1
        counts[b] = counts.get(b, 0) + 1
    players = sorted(wins)
    if not players:
        return BradleyTerryFit({}, {}, {}, 0, True)
    opponents: dict[str, list[tuple[str, float]]] = {p: [] for p in players}
    for (a, b), n in games.items():
        opponents[a].append((b, n))
        opponents[b].append((a, n))
    strength = {p: 1.0 for p in players}
    converged = False
    iteration = 0
    for iteration in range(1, max_iter + 1):
        change = 0.0
        for p in players:
            w = wins[p] + prior  # virtual: `prior` wins out of 2*prior games against strength 1
            denom = sum(n / (strength[p] + strength[q]) for q, n in opponents[p]) + 2 * prior / (strength[p] + 1.0)
            if w <= 0 or denom <= 0:
                new = 1e-300
            else:
                new = w / denom
            change = max(change, abs(math.log(new) - math.log(strength[p])))
            strength[p] = new
        if prior == 0:  # no anchor: fix the scale
            g = math.exp(sum(math.log(s) for s in strength.values()) / len(players))
            strength = {p: s / g for p, s in strength.items()}
        if change < tol:
            converged = True
            break
    logs = {p: math.log(s) for p, s in strength.items()}
    centre = sum(logs.values()) / len(logs)
    scores = {p: v - centre for p, v in logs.items()}
    elo = {p: 1000.0 + 400.0 * v / math.log(10) for p, v in scores.items()}
    return BradleyTerryFit(scores, elo, counts, iteration, converged)
