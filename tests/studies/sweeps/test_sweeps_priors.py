"""Seed trials of a LoRA sweep (studies/sweeps/priors.py) and the learning-rate range test (tuning/lr_range.py)."""

from __future__ import annotations

import json
import math

import pytest

from studies.sweeps.config import SweepConfig
from studies.sweeps.priors import SEED_ATTR, enqueue_priors, lr_for_model, model_params, project, seed_trials
from studies.sweeps.search_space import DEFAULT_LORA_SPACE, parse_space, suggest
from tuning.lr_range import LrRange, analyse


def _config(objective: str = "lora", **changes) -> SweepConfig:
    values = dict(name="prior", objective=objective, space=DEFAULT_LORA_SPACE if objective == "lora" else {"chunk_size": [64, 128]},
                  base={"max_steps": 4}, data={"split": "abc"}, n_trials=12)
    values.update(changes)
    return SweepConfig(**values)


def test_learning_rate_prior_fits_the_published_points_and_scales_with_size():
    assert lr_for_model(7e9) == pytest.approx(2e-4)
    assert lr_for_model(33e9) == pytest.approx(1e-4, rel=0.1)  # QLoRA's rate for 33B/65B
    assert lr_for_model(134.5e6) == pytest.approx(1.44e-3, rel=0.01)
    assert lr_for_model(1e5) == 2e-3 and lr_for_model(1e13) == 2e-5  # clipped


def test_model_size_from_the_default_a_size_or_a_config_json(tmp_path):
    assert model_params(None) == model_params("smollm2") == pytest.approx(134.5e6)
    assert model_params("8B") == 8e9
    (tmp_path / "config.json").write_text(json.dumps({"hidden_size": 64, "num_hidden_layers": 2, "intermediate_size": 128,
                                                      "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 100}))
    # embeddings 100*64 + 2 layers * (q,o 64x64 each + k,v 64x32 each + 3 MLP 64x128)
    assert model_params(str(tmp_path)) == 100 * 64 + 2 * (64 * (128 + 64) + 3 * 64 * 128)


def test_projection_picks_the_nearest_choice_and_clips_ranges():
    space = parse_space(DEFAULT_LORA_SPACE)
    p = project({"rank": 64, "alpha_ratio": 0.25, "target_modules": ["q_proj", "v_proj"], "learning_rate": 0.5,
                 "dropout": 0.1, "method": "lora", "max_length": 99}, space)
    assert p == {"rank": 32, "alpha_ratio": 1.0, "target_modules": "q_proj+v_proj", "learning_rate": 1e-2, "dropout": 0.1, "method": "lora"}
    assert project({"rank": 6}, parse_space({"rank": [4, 8, 16]}))["rank"] == 8  # log-nearest: 6 is closer to 8 than to 4 in ratio
    assert project({"rank": 20}, parse_space({"rank": {"low": 4, "high": 16}})) == {"rank": 16}


def test_seed_trials_start_with_the_plan_then_published_defaults_all_distinct_and_in_space():
    seeds = seed_trials(_config())
    assert seeds[0].source.startswith("plan")
    assert any("QLoRA" in s.source for s in seeds) and any("Hu et al" in s.source for s in seeds)
    assert len({json.dumps(s.params, sort_keys=True) for s in seeds}) == len(seeds)
    lrs = sorted(s.params["learning_rate"] for s in seeds)
    assert lrs[0] == pytest.approx(lr_for_model(134.5e6) / 3) and lrs[-1] == pytest.approx(lr_for_model(134.5e6) * 3)
    space = parse_space(DEFAULT_LORA_SPACE)
    for s in seeds:
        assert set(s.params) <= set(space)
    assert len(seed_trials(_config(n_trials=2))) == 1  # never more than half the trial budget


def test_a_range_test_moves_every_seed_learning_rate():
    found = LrRange(best_lr=3e-3)
    seeds = seed_trials(_config(), found)
    assert seeds[0].params["learning_rate"] == pytest.approx(3e-4)
    assert {round(s.params["learning_rate"], 8) for s in seeds} >= {round(3e-3 / 30, 8), round(3e-3 / 3, 8)}


def test_new_lora_study_gets_the_seeds_first_and_the_sampler_decodes_them(tmp_path):
    optuna = pytest.importorskip("optuna")
    from studies.sweeps.study import create_or_resume

    url = f"sqlite:///{tmp_path / 'o.db'}"
    config = _config()
    study = create_or_resume(config, url)
    waiting = [t for t in study.trials if t.state == optuna.trial.TrialState.WAITING]
    expected = seed_trials(config)
    assert [t.user_attrs[SEED_ATTR] for t in waiting] == [s.source for s in expected]
    space = parse_space(config.space)
    trial = study.ask()
    params = suggest(trial, space)
    assert params["target_modules"] == "all-linear" and params["rank"] == 16 and params["alpha_ratio"] == 2.0
    assert params["learning_rate"] == pytest.approx(lr_for_model(134.5e6))
    # resuming does not enqueue them again; other objectives and the cold baseline get none
    assert len(create_or_resume(config, url).trials) == len(study.trials)
    assert create_or_resume(_config(name="cold"), url, priors=False).trials == []
    rag = _config("rag", name="r", base={})
    assert create_or_resume(rag, url).trials == [] and enqueue_priors(study, rag) == []


def test_range_analysis_finds_the_lowest_loss_and_the_blow_up():
    lrs = [1e-5 * 10 ** (i / 4) for i in range(17)]
    losses = [5 - 0.2 * i for i in range(10)] + [3.5, 5, 9, 20, 40, 80, 160]
    r = analyse(lrs, losses)
    assert r.best_lr == pytest.approx(lrs[9], rel=0.5) or r.best_lr == pytest.approx(lrs[10], rel=0.5)
    assert r.diverged_at is not None and r.diverged_at > r.best_lr
    assert r.suggested == pytest.approx(r.best_lr / 10)
    assert analyse(lrs[:3], [1.0, float("nan"), 1.0]).diverged_at == lrs[1]


def test_range_test_runs_on_the_tiny_model(tiny_model_dir, workspace, sample_pairs):
    pytest.importorskip("torch")
    from tuning.config import TrainConfig
    from tuning.lr_range import lr_range_test

    class P:
        def __init__(self, row):
            self.input, self.output = row["input"], row["output"]

    rows = [P(json.loads(line)) for line in sample_pairs.read_text(encoding="utf-8").splitlines()][:64]
    config = TrainConfig(model=str(tiny_model_dir), micro_batch_size=2, max_length=96, rank=4, alpha=8, device="cpu", precision="fp32", threads=1)
    r = lr_range_test(config, rows, workspace, steps=8, low=1e-4, high=0.5)
    assert 1 <= len(r.losses) <= 8 and all(math.isfinite(v) for v in r.losses[:1])
    assert r.learning_rates[0] == pytest.approx(1e-4) and r.best_lr is not None and r.tokens > 0
    assert not (workspace.root / "adapters").exists() or not list((workspace.root / "adapters").iterdir())  # nothing saved
    with pytest.raises(ValueError, match="low < high"):
        lr_range_test(config, rows, workspace, low=1e-2, high=1e-3)


def test_start_sweep_runs_the_range_test_once_for_a_new_lora_study_and_seeds_from_it(tmp_path, monkeypatch):
    import studies.sweeps.priors as priors
    from advisor import sweep_launch
    from core.errors import ConfigError
    from core.workspace import Workspace
    from studies.sweeps.study import load_study, study_exists

    ws = Workspace.resolve(tmp_path / "ws").ensure()
    calls = []
    monkeypatch.setattr(priors, "learn_lr_range", lambda config, workspace, steps: calls.append(steps) or LrRange(best_lr=3e-3))
    import studies.sweeps.processes as processes

    monkeypatch.setattr(processes, "launch_workers", lambda *a, **k: [])
    config = _config(lr_range_steps=16)
    assert not study_exists(ws.optuna_url, config.name)
    sweep_launch.start_sweep(ws, config, workers=1)
    assert calls == [16] and study_exists(ws.optuna_url, config.name)
    study, _ = load_study(ws.optuna_url, config.name, heartbeat=False)
    assert study.user_attrs["lr_range_test"]["best_lr"] == 3e-3
    assert study.trials[0].system_attrs["fixed_params"]["learning_rate"] == pytest.approx(3e-4)  # the plan's seed at the learned rate
    sweep_launch.start_sweep(ws, config, workers=1)  # a resume: no second range test
    assert calls == [16]
    sweep_launch.start_sweep(ws, _config(name="plain"), workers=1)  # not asked for: none
    assert calls == [16]
    with pytest.raises(ConfigError, match="lr_range_steps"):
        _config(lr_range_steps=2).validate()
    with pytest.raises(ConfigError, match="LoRA sweeps only"):
        _config("rag", base={}, lr_range_steps=16).validate()
