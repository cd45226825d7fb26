"""Calibrated pre-flight on the CPU with the tiny model: real optimiser steps, measured beside estimated, recorded in the plan."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from advisor.estimate.calibrate import Calibration, calibrate
from advisor.plan import load_plan, make_plan
from tests.advisor.test_advisor_scenarios import BASE

pytestmark = pytest.mark.slow  # loads torch and trains (~10 s)
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def calibration(tiny_model_dir, tmp_path_factory) -> Calibration:
    ws = tmp_path_factory.mktemp("ws")
    cal = calibrate({"model": str(tiny_model_dir), "method": "lora", "rank": 4, "max_length": 64, "micro_batch_size": 2}, ws, steps=3, device="cpu")
    assert not [p for kind in ("adapters", "runs") for p in (ws / kind).glob("calibration-*")]  # nothing left behind
    return cal


def test_calibration_measures_real_steps(calibration):
    assert calibration.device == "cpu" and calibration.steps == 3
    assert calibration.measured_tokens_per_second > 0 and calibration.timed_tokens > 0 and calibration.timed_seconds > 0
    assert calibration.measured_peak_mib > 0 and calibration.estimated_peak_mib > 0
    assert calibration.speed_factor == pytest.approx(calibration.measured_tokens_per_second / calibration.estimated_tokens_per_second)
    assert "measured" in calibration.summary() and "estimated" in calibration.summary()
    # The measured run corrects other setups' estimates on this machine: speed by FLOPs per token, memory by the runtime offset.
    from advisor.estimate import setup_from_config

    same = setup_from_config({"model": calibration.model, "method": "lora", "max_length": 64, "micro_batch_size": 2})
    assert calibration.scale_tokens_per_second(same) == pytest.approx(calibration.measured_tokens_per_second)
    assert calibration.calibrated_peak_mib(same) == pytest.approx(calibration.measured_peak_mib, rel=1e-3)
    longer = setup_from_config({"model": calibration.model, "method": "lora", "max_length": 256, "micro_batch_size": 2})
    assert calibration.scale_tokens_per_second(longer) <= calibration.measured_tokens_per_second
    assert calibration.calibrated_peak_mib(longer) > calibration.measured_peak_mib


def test_the_plan_records_measured_beside_estimated(calibration, tmp_path):
    answers = BASE | {"change": ["task_skill"], "labelled_pairs": "1k_10k", "output_format": ["strict"], "gpus": "none", "training_budget": "none"}
    plan = make_plan(answers, calibration=calibration)
    assert plan.calibration["measured_tokens_per_second"] == calibration.measured_tokens_per_second
    assert plan.calibration["estimated_tokens_per_second"] == calibration.estimated_tokens_per_second
    cpu = next(o for o in plan.compute["options"] if o["where"] == "this machine's CPU")
    assert cpu["measured"] and cpu["tokens_per_second"] == pytest.approx(calibration.measured_tokens_per_second, rel=1e-3)
    path = plan.save(tmp_path / "plan.yaml")
    text = path.read_text()
    assert "measured_tokens_per_second" in text and "estimated_tokens_per_second" in text
    assert load_plan(path).calibration["measured_peak_mib"] == calibration.measured_peak_mib


def test_estimate_command_calibrates(tiny_model_dir, tmp_path):
    out = subprocess.run(
        [sys.executable, "-m", "advisor", "estimate", "--model-size", str(tiny_model_dir), "--gpu", "cpu", "--seq-len", "64", "--micro-batch", "2",
         "--rank", "4", "--calibrate", "--calibrate-steps", "3", "--workspace", str(tmp_path / "ws"), "--format", "json"],
        cwd=ROOT, capture_output=True, text=True, timeout=300, env={"HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )
    assert out.returncode == 0, out.stderr[-2000:]
    data = json.loads(out.stdout)
    cal = data["calibration"]
    assert cal["measured_tokens_per_second"] > 0 and cal["calibrated_tokens_per_second"] > 0 and cal["estimated_tokens_per_second"] > 0
    assert cal["calibrated_peak_mib"] > 0
    assert data["training"]["tokens_per_second"] > 0
