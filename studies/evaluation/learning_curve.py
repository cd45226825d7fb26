"""How much data would it take? A learning curve of one training configuration, and its extrapolation.

The best LoRA configuration is retrained on nested, group-aware subsets of the training split (25%,
50%, 100% by default; the same seed; a group never split between "in" and "out"), and each adapter is
evaluated on the frozen test split through the evaluation contract, so every point is a leaderboard
run with its interval. :func:`fit_power_law` fits the error (1 - score) as ``a * n ** -b`` (a straight
line in log-log space, the usual shape of learning curves) and :func:`extrapolate` carries it to 2x and
4x the data with an uncertainty band drawn by resampling each point within its interval. The curve
itself (which runs, at what sizes) is stored as JSON beside the workspace's reports; its numbers are
always read back from the leaderboard.
"""

from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from core.errors import EvaluationError

FRACTIONS = (0.25, 0.5, 1.0)
SCALES = (2.0, 4.0)
DRAWS = 2000


def nested_subsets(pairs: Sequence[Any], fractions: Sequence[float] = FRACTIONS, seed: int = 0) -> dict[float, list[Any]]:
    """Nested subsets of ``pairs`` (each holding about ``fraction`` of the pairs), whole groups only.

    Groups (``pair.group_key``, else ``pair.group``) are ordered by a seeded hash and taken in that order
    until the fraction is reached, so a smaller subset is always inside a larger one.
    """
    if not pairs:
        raise EvaluationError("A learning curve needs training pairs; the split's train part is empty.")
    bad = [f for f in fractions if not (0 < float(f) <= 1)]
    if bad or not fractions:
        raise EvaluationError(f"Learning-curve fractions must be in (0, 1], but got {list(fractions)}.")
    groups: dict[str, list[Any]] = {}
    for p in pairs:
        groups.setdefault(str(getattr(p, "group_key", None) or getattr(p, "group", None) or getattr(p, "id", "")), []).append(p)
    order = sorted(groups, key=lambda g: hashlib.sha256(f"{seed}\x00{g}".encode()).hexdigest())
    out: dict[float, list[Any]] = {}
    for fraction in sorted({float(f) for f in fractions}):
        target = fraction * len(pairs)
        chosen: list[Any] = []
        for g in order:
            if len(chosen) >= target - 1e-9:
                break
            chosen.extend(groups[g])
        out[fraction] = chosen
    return out


@dataclass(frozen=True)
class CurvePoint:
    """One training size and its test score with the score's 95% interval."""

    n: int
    score: float
    low: float
    high: float
    run_id: str | None = None


@dataclass(frozen=True)
class PowerLaw:
    """``error(n) = a * n ** -exponent`` with ``error = 1 - score``."""

    a: float
    exponent: float

    def score(self, n: float) -> float:
        return 1.0 - self.a * n ** (-self.exponent)


def fit_power_law(points: Sequence[CurvePoint] | Sequence[tuple[float, float]]) -> PowerLaw:
    """Least-squares line through (log n, log error); needs two sizes or more."""
    pairs = [(float(p.n), float(p.score)) if isinstance(p, CurvePoint) else (float(p[0]), float(p[1])) for p in points]
    if len({n for n, _ in pairs}) < 2:
        raise EvaluationError("A learning curve needs scores at two training sizes or more.")
    xs = [math.log(n) for n, _ in pairs]
    ys = [math.log(min(max(1.0 - s, 1e-6), 1.0)) for _, s in pairs]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx
    return PowerLaw(a=math.exp(my - slope * mx), exponent=-slope)


@dataclass(frozen=True)
class Projection:
    """The fitted score at ``scale`` times the largest size, with its 95% band."""

    scale: float
    n: int
    score: float
    low: float
    high: float
    gain_low: float
    gain_high: float
    """Band of the gain over the largest measured point's score."""


@dataclass
class LearningCurve:
    """Measured points, the fit, the projections and the sentence they support."""

    metric: str
    points: list[CurvePoint]
    fit: PowerLaw
    projections: list[Projection]
    sentence: str
    target: float | None = None
    target_name: str | None = None
    config: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric, "points": [p.__dict__ for p in self.points], "fit": self.fit.__dict__,
            "projections": [p.__dict__ for p in self.projections], "sentence": self.sentence,
            "target": self.target, "target_name": self.target_name,
        }


def _sd(p: CurvePoint) -> float:
    return max((p.high - p.low) / (2 * 1.96), 1e-9)


def extrapolate(points: Sequence[CurvePoint], scales: Sequence[float] = SCALES, draws: int = DRAWS, seed: int = 0) -> list[Projection]:
    """The fit at ``scale`` x the largest size, with a band from refits on points redrawn within their intervals."""
    fit = fit_power_law(points)
    top = max(points, key=lambda p: p.n)
    rng = random.Random(seed)
    samples: dict[float, list[float]] = {s: [] for s in scales}
    for _ in range(draws):
        redrawn = [(p.n, min(max(rng.gauss(p.score, _sd(p)), 0.0), 1.0 - 1e-6)) for p in points]
        f = fit_power_law(redrawn)
        for s in scales:
            samples[s].append(f.score(top.n * s))
    out = []
    for s in scales:
        vals = sorted(samples[s])
        lo, hi = vals[int(0.025 * (len(vals) - 1))], vals[int(math.ceil(0.975 * (len(vals) - 1)))]
        lo, hi = max(lo, 0.0), min(hi, 1.0)
        out.append(Projection(s, int(round(top.n * s)), fit.score(top.n * s), lo, hi, lo - top.score, hi - top.score))
    return out


def describe(points: Sequence[CurvePoint], projections: Sequence[Projection], metric: str,
             target: float | None = None, target_name: str | None = None) -> str:
    """The sentence the curve supports, for the report."""
    top = max(points, key=lambda p: p.n)
    double = next((p for p in projections if p.scale == 2.0), projections[0])
    most = max(projections, key=lambda p: p.scale)
    if target is not None and target_name and top.score < target:
        if most.high < target:
            return (f"More data is unlikely to close the gap to {target_name} ({target:.3f} {metric}): even {most.scale:g}x the "
                    f"examples ({most.n}) projects to {most.low:.3f}-{most.high:.3f}.")
        return (f"{most.scale:g}x the examples ({most.n}) projects to {most.low:.3f}-{most.high:.3f} {metric}, which may reach "
                f"{target_name} ({target:.3f}); the band is wide, so measure before relying on it.")
    if double.gain_high <= 0.0:
        return f"Doubling the reviewed examples ({top.n} -> {double.n}) is unlikely to improve {metric} (projected change {double.gain_low:+.3f} to {double.gain_high:+.3f})."
    if double.gain_low <= 0.0:
        return (f"Doubling the reviewed examples ({top.n} -> {double.n}) may not improve {metric}: the projected change "
                f"{double.gain_low:+.3f} to {double.gain_high:+.3f} includes no gain.")
    return (f"Doubling the reviewed examples ({top.n} -> {double.n}) would likely add {double.gain_low:.3f}-{double.gain_high:.3f} "
            f"{metric} (projected {double.low:.3f}-{double.high:.3f}).")


def learning_curve(points: Sequence[CurvePoint], metric: str, target: float | None = None, target_name: str | None = None,
                   seed: int = 0) -> LearningCurve:
    """Fit, extrapolate and describe measured points (at least two sizes)."""
    pts = sorted(points, key=lambda p: p.n)
    projections = extrapolate(pts, seed=seed)
    return LearningCurve(metric, pts, fit_power_law(pts), projections, describe(pts, projections, metric, target, target_name),
                         target, target_name)


TrainAndEvaluate = Callable[[float, list[Any]], str]
"""``(fraction, subset of training pairs) -> run id`` of the adapter trained on the subset, evaluated on the test split."""


def measure(train_pairs: Sequence[Any], train_and_evaluate: TrainAndEvaluate, fractions: Sequence[float] = FRACTIONS,
            seed: int = 0, reuse: dict[float, str] | None = None) -> dict[float, tuple[int, str]]:
    """Run ``train_and_evaluate`` on each nested subset (``reuse`` maps fractions already measured to run ids)."""
    out: dict[float, tuple[int, str]] = {}
    for fraction, subset in nested_subsets(train_pairs, fractions, seed).items():
        run_id = (reuse or {}).get(fraction) or train_and_evaluate(fraction, subset)
        out[fraction] = (len(subset), run_id)
    return out


# ----------------------------------------------------------------------------- runs on a real workspace

CURVE_FILE = "learning_curve.json"


def run_learning_curve(workspace: Any, split: Any, best_run: dict[str, Any], settings: Any = None, *,
                       fractions: Sequence[float] = FRACTIONS, limit: int | None = None, metrics: Sequence[str] | None = None,
                       progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Retrain ``best_run``'s configuration on nested subsets of ``split.train`` and evaluate each on the test split.

    The full-data point reuses ``best_run`` itself when it trained on this split. The stored curve
    (``<ws>/runs/<best run>/learning_curve.json``) holds sizes and run ids; scores come from the leaderboard.
    """
    from core.atomic import atomic_write_json
    from studies.evaluation.contract import evaluate
    from studies.evaluation.systems import LoraSystem, record_trained_on
    from tuning.config import TrainConfig
    from tuning.train import train

    train_config = dict((best_run.get("config") or {}).get("train_config") or {})
    if not train_config:
        raise EvaluationError(f"Run {best_run.get('run_id')} records no training configuration; a learning curve retrains a "
                              "fine-tuned run (kind lora or rag+lora evaluated through `advisor eval`).")
    config = TrainConfig.from_dict(train_config)
    reuse = {1.0: best_run["run_id"]} if best_run.get("kind") == "lora" and best_run.get("split_version") == split.version else {}
    base = str(best_run["run_id"])

    def train_and_evaluate(fraction: float, subset: list[Any]) -> str:
        name = f"{base}-lc{int(round(fraction * 100)):03d}"
        if progress:
            progress(f"training on {len(subset)} of {len(split.train)} pairs ({fraction:.0%})")
        result = train(config, subset, split.validation, workspace, name)
        record_trained_on(result.adapter_dir, split)
        ev = evaluate(LoraSystem(result.adapter_dir, workspace), split, workspace, settings, limit=limit, metrics=metrics,
                      run_id=name)
        return ev.run_id

    sizes = measure(split.train, train_and_evaluate, fractions, seed=config.seed, reuse=reuse)
    stored = {"best_run": base, "split_version": split.version, "seed": config.seed,
              "points": [{"fraction": f, "n": n, "run_id": rid} for f, (n, rid) in sorted(sizes.items())]}
    atomic_write_json(workspace.path("runs", base, CURVE_FILE), stored)
    return stored


def load_stored_curve(workspace: Any, run_id: str) -> dict[str, Any] | None:
    """The stored sizes and run ids of ``run_id``'s learning curve, or None when none was measured."""
    import json

    path = workspace.path("runs", run_id, CURVE_FILE)
    if not path.is_file():
        return None
    return json.loads(path.read_text(encoding="utf-8"))


def curve_from_leaderboard(board: Any, stored: dict[str, Any], metric: str, target: float | None = None,
                           target_name: str | None = None) -> LearningCurve:
    """Points read from the leaderboard rows of the stored runs, fitted and described."""
    points = []
    for p in stored["points"]:
        stats = (board.get(p["run_id"]).get("metrics") or {}).get(metric)
        if not stats:
            raise EvaluationError(f"Learning-curve run {p['run_id']} has no {metric!r} on the leaderboard.")
        points.append(CurvePoint(int(p["n"]), float(stats["mean"]), float(stats["low"]), float(stats["high"]), p["run_id"]))
    curve = learning_curve(points, metric, target, target_name, seed=int(stored.get("seed") or 0))
    curve.config = {"best_run": stored.get("best_run")}
    return curve
