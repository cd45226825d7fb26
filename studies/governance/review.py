"""Blind pairwise human review of two runs, and what the judgements say.

Protocol (docs/review.md has the long form):

* The items are the test items both runs answered (joined by item id; the inputs must match).
* A session draws its item order and, per item, which run is shown on the left ("Output 1")
  from a random generator seeded by ``(seed, reviewer, pair)``; the seed is stored with the
  session, so the presentation can be reproduced, and two reviewers see different orders.
* Nothing shown names a run: the reviewer sees the input and two outputs labelled 1 and 2.
* A judgement (left / right / tie / skip, optional comment) is stored at once, so quitting
  halfway loses nothing. A reviewer never sees the same item of a pair again (skips included):
  the database refuses a second judgement (primary key pair + item + reviewer).

Results: win rates with Wilson intervals (ties excluded from the rate, counted apart), a
Bradley-Terry score per run over every stored judgement, agreement between reviewers (percent
agreement and Cohen's kappa over items judged by two reviewers) and with the automatic metric
(how often the preferred output also scores higher on the primary metric).
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import combinations
from random import Random
from statistics import NormalDist
from typing import Any

from core.errors import LeaderboardError
from core.workspace import Workspace
from studies.evaluation.run_items import RunItem, load_run_items, primary_metric
from studies.governance.bradley_terry import (
    BradleyTerryFit,
    PairOutcome,
    fit_bradley_terry,
)
from studies.governance.review_store import connect
from studies.results.records import utc_now
from studies.results.schema import transaction

CHOICES = ("left", "right", "tie", "skip")


class ReviewError(LeaderboardError):
    """A review session cannot start or a judgement cannot be stored."""


def pair_key(run_a: str, run_b: str) -> tuple[str, str]:
    """The order-independent key of a pair of runs (reviews of A vs B and of B vs A are one pair)."""
    if run_a == run_b:
        raise ReviewError(f"Pick two different runs to compare (got {run_a!r} twice).")
    return (run_a, run_b) if run_a < run_b else (run_b, run_a)


def check_reviewer(name: str) -> str:
    name = (name or "").strip()
    if not name or len(name) > 100 or any(ord(c) < 32 for c in name):
        raise ReviewError("A reviewer name is required (1-100 printable characters): give the reviewer's name.")
    return name


@dataclass(frozen=True)
class BlindItem:
    """One item as a reviewer sees it: the input and two unlabelled outputs."""

    position: int
    item_id: str
    input: str
    left: str
    right: str
    reference: str = field(default="", repr=False)
    left_run: str = field(default="", repr=False)
    """Which run is on the left; kept for storage, never displayed."""
    right_run: str = field(default="", repr=False)


def aligned_items(ws: Workspace, run_a: str, run_b: str) -> list[tuple[RunItem, RunItem]]:
    """The items both runs answered, in run A's order; refuses pairs evaluated on different inputs."""
    pair_key(run_a, run_b)
    items_a = load_run_items(ws, run_a)
    by_id_b = {i.item_id: i for i in load_run_items(ws, run_b)}
    pairs = []
    mismatched = []
    for item in items_a:
        other = by_id_b.get(item.item_id)
        if other is None:
            continue
        if item.input.strip() != other.input.strip():
            mismatched.append(item.item_id)
            continue
        pairs.append((item, other))
    if mismatched:
        raise ReviewError(
            f"Runs {run_a!r} and {run_b!r} have different inputs for item(s) {', '.join(mismatched[:5])}: they were not "
            "evaluated on the same test split. Review runs evaluated on the same split version."
        )
    if not pairs:
        raise ReviewError(f"Runs {run_a!r} and {run_b!r} share no test item: evaluate both on the same split first.")
    return pairs


class ReviewSession:
    """A reviewer's pass over the not-yet-judged items of a pair (see :func:`start_session`)."""

    def __init__(self, ws: Workspace, session_id: str, run_a: str, run_b: str, reviewer: str, seed: int, items: list[BlindItem]):
        self.ws = ws
        self.session_id = session_id
        self.run_a = run_a
        self.run_b = run_b
        self.reviewer = reviewer
        self.seed = seed
        self.items = items
        self.recorded = 0

    def record(self, item: BlindItem, choice: str, comment: str | None = None) -> None:
        """Store one judgement now: ``left``, ``right``, ``tie`` or ``skip`` (never shown again)."""
        if choice not in CHOICES:
            raise ReviewError(f"Choice must be one of {', '.join(CHOICES)}, but got {choice!r}.")
        winner = {"left": item.left_run, "right": item.right_run}.get(choice)
        lo, hi = pair_key(self.run_a, self.run_b)
        comment = (comment or "").strip() or None
        with connect(self.ws) as con:
            exists = con.execute(
                "SELECT count(*) FROM review_judgements WHERE run_lo=? AND run_hi=? AND item_id=? AND reviewer=?",
                [lo, hi, item.item_id, self.reviewer],
            ).fetchone()[0]
            if exists:
                raise ReviewError(f"{self.reviewer} has already judged item {item.item_id!r} of this pair.")
            import duckdb

            try:
                con.execute(
                    "INSERT INTO review_judgements VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [lo, hi, item.item_id, self.reviewer, self.session_id, item.left_run, item.right_run, choice, winner,
                     comment, item.position, utc_now()],
                )  # fmt: skip
            except duckdb.ConstraintException as exc:  # another session of the same reviewer got there first
                raise ReviewError(f"{self.reviewer} has already judged item {item.item_id!r} of this pair.") from exc
        self.recorded += 1


def start_session(
    ws: Workspace,
    run_a: str,
    run_b: str,
    reviewer: str,
    seed: int | None = None,
    limit: int | None = None,
) -> ReviewSession:
    """Open a blind session over the items of (run_a, run_b) that ``reviewer`` has not judged yet.

    The order and sides come from ``Random(f"{seed}:{reviewer}:{lo}:{hi}")``; ``seed`` defaults
    to a fresh random number and is stored in ``review_sessions``.
    """
    reviewer = check_reviewer(reviewer)
    if limit is not None and limit < 1:
        raise ReviewError(f"The number of items to review must be >= 1, but got {limit}.")
    lo, hi = pair_key(run_a, run_b)
    pairs = aligned_items(ws, run_a, run_b)
    seed = secrets.randbits(31) if seed is None else int(seed)
    with connect(ws) as con:
        done = {
            row[0]
            for row in con.execute(
                "SELECT item_id FROM review_judgements WHERE run_lo=? AND run_hi=? AND reviewer=?", [lo, hi, reviewer]
            ).fetchall()
        }
    rng = Random(f"{seed}:{reviewer}:{lo}:{hi}")
    todo = [p for p in pairs if p[0].item_id not in done]
    rng.shuffle(todo)
    if limit is not None:
        todo = todo[:limit]
    items = []
    for position, (a, b) in enumerate(todo):
        a_left = rng.random() < 0.5
        (left, left_run), (right, right_run) = ((a, run_a), (b, run_b)) if a_left else ((b, run_b), (a, run_a))
        items.append(BlindItem(position, a.item_id, a.input, left.shown, right.shown, a.reference, left_run, right_run))
    session_id = f"{utc_now():%Y%m%dT%H%M%S}-{secrets.token_hex(4)}"
    with connect(ws) as con:
        con.execute(
            "INSERT INTO review_sessions VALUES (?, ?, ?, ?, ?, ?, ?)", [session_id, lo, hi, reviewer, seed, len(items), utc_now()]
        )
    return ReviewSession(ws, session_id, run_a, run_b, reviewer, seed, items)


def format_item(item: BlindItem, number: int, total: int, show_reference: bool = False) -> str:
    """The text a reviewer reads for one item: input, "Output 1", "Output 2"; no run names."""
    def block(text: str) -> list[str]:
        return [f"  {line}" for line in (text if text.strip() else "(empty)").splitlines()]

    lines = [f"--- Item {number}/{total} ---", "Input:", *block(item.input), "", "Output 1:", *block(item.left)]
    lines += ["", "Output 2:", *block(item.right)]
    if show_reference and item.reference:
        lines += ["", "Reference:", *block(item.reference)]
    return "\n".join(lines)


# ---------------------------------------------------------------- results


@dataclass(frozen=True)
class Review:
    run_lo: str
    run_hi: str
    item_id: str
    reviewer: str
    choice: str
    winner: str | None
    comment: str | None
    created_at: Any


def load_reviews(ws: Workspace, run_a: str | None = None, run_b: str | None = None, include_skips: bool = False) -> list[Review]:
    """Stored judgements, for one pair or all pairs."""
    sql = "SELECT run_lo, run_hi, item_id, reviewer, choice, winner, comment, created_at FROM review_judgements"
    params: list[Any] = []
    where = []
    if run_a is not None and run_b is not None:
        lo, hi = pair_key(run_a, run_b)
        where.append("run_lo=? AND run_hi=?")
        params += [lo, hi]
    if not include_skips:
        where.append("choice <> 'skip'")
    if where:
        sql += " WHERE " + " AND ".join(where)
    with connect(ws) as con:
        rows = con.execute(sql + " ORDER BY created_at, item_id, reviewer", params).fetchall()
    return [Review(*row) for row in rows]


def wilson_interval(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion; (0, 1) when n == 0."""
    if n == 0:
        return (0.0, 1.0)
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * ((p * (1 - p) / n + z * z / (4 * n * n)) ** 0.5) / denom
    return (max(0.0, round(centre - half, 12)), min(1.0, round(centre + half, 12)))


def cohen_kappa(labels_1: Sequence[str], labels_2: Sequence[str]) -> float | None:
    """Cohen's kappa of two label sequences; None when undefined (no items or no variation)."""
    n = len(labels_1)
    if n == 0 or n != len(labels_2):
        return None
    observed = sum(x == y for x, y in zip(labels_1, labels_2)) / n
    cats = set(labels_1) | set(labels_2)
    expected = sum((labels_1.count(c) / n) * (labels_2.count(c) / n) for c in cats)
    if expected >= 1.0:
        return None
    return (observed - expected) / (1 - expected)


@dataclass(frozen=True)
class WinRate:
    run_id: str
    wins: int
    decisive: int
    rate: float
    """wins / decisive judgements (ties excluded)."""
    low: float
    high: float


@dataclass(frozen=True)
class ReviewSummary:
    run_a: str
    run_b: str
    judgements: int
    ties: int
    reviewers: dict[str, int]
    win_rates: dict[str, WinRate]
    bradley_terry: dict[str, float]
    reviewer_agreement: float | None
    """Share of double-judged items on which two reviewers agreed (a / b / tie)."""
    kappa: float | None
    """Cohen's kappa over the same (pooled over reviewer pairs)."""
    overlap_items: int
    metric: str | None
    metric_agreement: float | None
    """Of decisive judgements where the metric differs, the share where the preferred output scores higher."""
    metric_compared: int

    def to_dict(self) -> dict[str, Any]:
        from dataclasses import asdict

        return asdict(self)


def summarize(ws: Workspace, run_a: str, run_b: str, metric: str | None = None, confidence: float = 0.95) -> ReviewSummary:
    """Win rates, Bradley-Terry scores and agreement for one pair of runs."""
    reviews = load_reviews(ws, run_a, run_b)
    ties = sum(r.choice == "tie" for r in reviews)
    decisive = len(reviews) - ties
    win_rates = {}
    for run in (run_a, run_b):
        wins = sum(r.winner == run for r in reviews)
        low, high = wilson_interval(wins, decisive, confidence)
        win_rates[run] = WinRate(run, wins, decisive, wins / decisive if decisive else 0.0, low, high)
    fit = fit_bradley_terry(_comparisons(reviews))
    reviewers: dict[str, int] = {}
    for r in reviews:
        reviewers[r.reviewer] = reviewers.get(r.reviewer, 0) + 1
    agreement, kappa, overlap = _reviewer_agreement(reviews)
    metric_name, metric_rate, compared = _metric_agreement(ws, run_a, run_b, reviews, metric)
    return ReviewSummary(
        run_a, run_b, len(reviews), ties, reviewers, win_rates, fit.scores, agreement, kappa, overlap,
        metric_name, metric_rate, compared,
    )  # fmt: skip


def _comparisons(reviews: Sequence[Review]) -> list[PairOutcome]:
    out = []
    for r in reviews:
        if r.choice == "skip":
            continue
        outcome = 0.5 if r.winner is None else (1.0 if r.winner == r.run_lo else 0.0)
        out.append(PairOutcome(r.run_lo, r.run_hi, outcome))
    return out


def _label(r: Review) -> str:
    return "tie" if r.winner is None else ("lo" if r.winner == r.run_lo else "hi")


def _reviewer_agreement(reviews: Sequence[Review]) -> tuple[float | None, float | None, int]:
    by_reviewer: dict[str, dict[tuple[str, str, str], str]] = {}
    for r in reviews:
        by_reviewer.setdefault(r.reviewer, {})[(r.run_lo, r.run_hi, r.item_id)] = _label(r)
    first: list[str] = []
    second: list[str] = []
    items: set[tuple[str, str, str]] = set()
    for x, y in combinations(sorted(by_reviewer), 2):
        common = sorted(set(by_reviewer[x]) & set(by_reviewer[y]))
        items.update(common)
        first += [by_reviewer[x][k] for k in common]
        second += [by_reviewer[y][k] for k in common]
    if not first:
        return None, None, 0
    agreement = sum(a == b for a, b in zip(first, second)) / len(first)
    return agreement, cohen_kappa(first, second), len(items)


def _metric_agreement(
    ws: Workspace, run_a: str, run_b: str, reviews: Sequence[Review], metric: str | None
) -> tuple[str | None, float | None, int]:
    decisive = [r for r in reviews if r.winner is not None]
    if not decisive:
        return metric, None, 0
    scores: dict[str, dict[str, float]] = {}
    items_a = load_run_items(ws, run_a)
    name = primary_metric(items_a, metric)
    if name is None:
        return None, None, 0
    for run, items in ((run_a, items_a), (run_b, load_run_items(ws, run_b))):
        scores[run] = {i.item_id: i.metrics[name] for i in items if name in i.metrics}
    agree = disagree = 0
    for r in decisive:
        loser = r.run_hi if r.winner == r.run_lo else r.run_lo
        w, lo = scores.get(r.winner or "", {}).get(r.item_id), scores.get(loser, {}).get(r.item_id)
        if w is None or lo is None or w == lo:
            continue
        agree += w > lo
        disagree += w < lo
    compared = agree + disagree
    return name, (agree / compared if compared else None), compared


# ---------------------------------------------------------------- scores across all pairs


def bradley_terry_scores(ws: Workspace) -> BradleyTerryFit:
    """Bradley-Terry fit over every stored judgement of every pair (one score per reviewed run)."""
    return fit_bradley_terry(_comparisons(load_reviews(ws)))


def refresh_scores(ws: Workspace) -> BradleyTerryFit:
    """Recompute the scores and store them in ``review_scores`` (the leaderboard can join on run_id)."""
    fit = bradley_terry_scores(ws)
    now = utc_now()
    with connect(ws) as con, transaction(con):
        con.execute("DELETE FROM review_scores")
        for run, score in fit.scores.items():
            con.execute("INSERT INTO review_scores VALUES (?, ?, ?, ?, ?)", [run, score, fit.elo[run], fit.comparisons[run], now])
    return fit


def review_count(ws: Workspace, run_id: str) -> dict[str, int]:
    """Non-skip judgements that involve ``run_id``, per reviewer (empty when none)."""
    with connect(ws) as con:
        rows = con.execute(
            "SELECT reviewer, count(*) FROM review_judgements WHERE (run_lo=? OR run_hi=?) AND choice <> 'skip' GROUP BY reviewer",
            [run_id, run_id],
        ).fetchall()
    return {reviewer: int(n) for reviewer, n in rows}
