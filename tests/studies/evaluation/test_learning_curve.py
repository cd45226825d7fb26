"""Learning curve: group-aware nested subsets, and a power-law fit that recovers a known exponent."""

from dataclasses import dataclass

import pytest

from core.errors import EvaluationError
from studies.evaluation.learning_curve import CurvePoint, extrapolate, fit_power_law, learning_curve, measure, nested_subsets


@dataclass
class P:
    id: str
    group_key: str


def pairs(groups: int = 40, per: int = 3) -> list[P]:
    return [P(f"{g}-{i}", f"g{g}") for g in range(groups) for i in range(per)]


def test_subsets_are_nested_whole_groups_and_near_the_fraction():
    data = pairs()
    subsets = nested_subsets(data, (0.25, 0.5, 1.0), seed=7)
    assert [len(subsets[f]) for f in (0.25, 0.5, 1.0)] == [30, 60, 120]
    small, mid = {p.id for p in subsets[0.25]}, {p.id for p in subsets[0.5]}
    assert small < mid
    for subset in subsets.values():
        groups = {p.group_key for p in subset}
        assert len(subset) == sum(1 for p in data if p.group_key in groups)  # every group whole
    assert nested_subsets(data, (0.25,), seed=7)[0.25] == subsets[0.25]  # same seed, same subset
    assert {p.id for p in nested_subsets(data, (0.25,), seed=8)[0.25]} != small


def test_subset_errors_are_clear():
    with pytest.raises(EvaluationError, match=r"in \(0, 1\]"):
        nested_subsets(pairs(), (0.0, 0.5))
    with pytest.raises(EvaluationError, match="train part is empty"):
        nested_subsets([], (0.5,))


def test_fit_recovers_a_known_exponent():
    # error = 0.9 * n ** -0.35 exactly: the fit must return a = 0.9, b = 0.35.
    points = [(n, 1 - 0.9 * n ** -0.35) for n in (50, 100, 200, 400)]
    fit = fit_power_law(points)
    assert fit.exponent == pytest.approx(0.35, abs=1e-9)
    assert fit.a == pytest.approx(0.9, rel=1e-9)
    assert fit.score(800) == pytest.approx(1 - 0.9 * 800 ** -0.35)


def test_extrapolation_band_contains_the_truth_and_widens_with_noise():
    truth = lambda n: 1 - 0.9 * n ** -0.35  # noqa: E731
    tight = [CurvePoint(n, truth(n), truth(n) - 0.01, truth(n) + 0.01) for n in (100, 200, 400)]
    wide = [CurvePoint(n, truth(n), truth(n) - 0.1, truth(n) + 0.1) for n in (100, 200, 400)]
    t2, t4 = extrapolate(tight)
    w2, _ = extrapolate(wide)
    assert (t2.n, t4.n) == (800, 1600)
    assert t2.low <= truth(800) <= t2.high and t4.low <= truth(1600) <= t4.high
    assert (w2.high - w2.low) > (t2.high - t2.low)
    assert t2.gain_low < truth(800) - truth(400) < t2.gain_high


def test_sentences_say_gain_or_that_the_gap_will_not_close():
    pts = [CurvePoint(n, 1 - 0.9 * n ** -0.35, 1 - 0.9 * n ** -0.35 - 0.02, 1 - 0.9 * n ** -0.35 + 0.02) for n in (100, 200, 400)]
    assert "Doubling the reviewed examples (400 -> 800) would likely add" in learning_curve(pts, "acc").sentence
    far = learning_curve(pts, "acc", target=0.99, target_name="RAG (k=3)")
    assert far.sentence.startswith("More data is unlikely to close the gap to RAG (k=3)")
    flat = [CurvePoint(n, 0.5, 0.49, 0.51) for n in (100, 200, 400)]
    assert "may not improve acc" in learning_curve(flat, "acc").sentence
    falling = [CurvePoint(n, 0.9 - n / 1000, 0.89 - n / 1000, 0.91 - n / 1000) for n in (100, 200, 400)]
    assert "unlikely to improve" in learning_curve(falling, "acc").sentence
    with pytest.raises(EvaluationError, match="two training sizes"):
        fit_power_law([(100, 0.5), (100, 0.6)])


def test_measure_trains_each_subset_once_and_reuses_the_full_run():
    calls = []

    def train(fraction, subset):
        calls.append((fraction, len(subset)))
        return f"run-{fraction}"

    out = measure(pairs(), train, reuse={1.0: "best-run"})
    assert calls == [(0.25, 30), (0.5, 60)]
    assert out[1.0] == (120, "best-run") and out[0.25] == (30, "run-0.25")


def test_learning_curve_retrains_on_the_tiny_model(workspace, sample_pairs, tiny_model_dir):
    """Real training on 25% and 50% subsets; the full point reuses the best run; scores read from the leaderboard."""
    from studies.data.datasets import load_pairs
    from studies.data.splits import make_split
    from studies.evaluation.contract import evaluate
    from studies.evaluation.learning_curve import curve_from_leaderboard, load_stored_curve, run_learning_curve
    from studies.evaluation.systems import LoraSystem, record_trained_on
    from studies.results.leaderboard import Leaderboard
    from tuning.config import TrainConfig
    from tuning.generate import GenerationSettings
    from tuning.train import train

    split = make_split(load_pairs(sample_pairs), seed=0)
    config = TrainConfig(model=str(tiny_model_dir), rank=4, alpha=8, max_steps=2, micro_batch_size=4, eval_every=2,
                         eval_examples=8, max_length=64, device="cpu", precision="fp32", save_every=100)
    settings = GenerationSettings(max_new_tokens=4, batch_size=8)
    full = train(config, split.train, split.validation[:8], workspace, "best")
    record_trained_on(full.adapter_dir, split)
    best = evaluate(LoraSystem(full.adapter_dir, workspace), split, workspace, settings, metrics=["chrf"], limit=4)
    board = Leaderboard(workspace)
    stored = run_learning_curve(workspace, split, board.get(best.run_id), settings, limit=4, metrics=["chrf"])
    assert [p["fraction"] for p in stored["points"]] == [0.25, 0.5, 1.0]
    assert stored["points"][-1]["run_id"] == best.run_id
    ns = [p["n"] for p in stored["points"]]
    assert ns[0] < ns[1] < ns[2] == len(split.train)
    for p in stored["points"][:2]:
        row = board.get(p["run_id"])
        assert row["kind"] == "lora" and row["split_version"] == split.version and row["n_items"] == 4
    assert load_stored_curve(workspace, best.run_id) == stored
    curve = curve_from_leaderboard(board, stored, "chrf")
    assert [p.n for p in curve.points] == ns and len(curve.projections) == 2 and curve.sentence
