"""Data-parallel training through torchrun: two CPU processes (gloo) on the tiny model.

The same global batch must give one process's loss curve, a run killed mid-way must resume from
rank 0's checkpoint to the same numbers, and only rank 0 may write into the workspace.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from tuning.config import TrainConfig  # noqa: E402
from tuning.distributed import Dist, data_parallel_layout, launched, local_share  # noqa: E402
from tuning.train import train  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
WORKER = Path(__file__).with_name("ddp_worker.py")


class _Pair:
    def __init__(self, row: dict) -> None:
        self.input, self.output = row["input"], row["output"]


def _config(tiny_model_dir) -> TrainConfig:
    return TrainConfig(
        model=str(tiny_model_dir), max_steps=6, eval_every=3, save_every=2, micro_batch_size=2, grad_accumulation=2,
        max_length=128, learning_rate=1e-2, warmup_ratio=0.25, rank=8, alpha=16, dropout=0.0,
        precision="fp32", device="cpu", threads=1, seed=3,
    )


def _torchrun(config: TrainConfig, sample_pairs: Path, ws: Path, out: Path, crash_at: int = 0) -> subprocess.CompletedProcess:
    out.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    cmd = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", str(WORKER),
        "--config", json.dumps(config.to_dict()), "--pairs", str(sample_pairs), "--workspace", str(ws),
        "--name", "ddp", "--out", str(out), "--crash-at", str(crash_at),
    ]
    return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)


def test_two_gloo_processes_match_one_resume_after_a_kill_and_only_rank_0_writes(tiny_model_dir, workspace, sample_pairs, tmp_path):
    config = _config(tiny_model_dir)
    rows = [_Pair(json.loads(line)) for line in sample_pairs.read_text(encoding="utf-8").splitlines()]
    single = train(config, rows[:96], rows[600:616], workspace, "single").record

    ws = tmp_path / "ddp-ws"
    killed = _torchrun(config, sample_pairs, ws, tmp_path / "killed", crash_at=5)
    assert killed.returncode != 0, killed.stdout + killed.stderr
    assert (ws / "runs" / "ddp" / "checkpoint" / "state.pt").is_file(), "rank 0 wrote no checkpoint before the kill"
    assert not (ws / "adapters" / "ddp").exists()

    resumed = _torchrun(config, sample_pairs, ws, tmp_path / "resumed")
    assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr[-6000:]
    ranks = [json.loads((tmp_path / "resumed" / f"rank{r}.json").read_text()) for r in (0, 1)]
    for r in ranks:
        assert r["world_size"] == 2
        assert r["resumed_from"] == [4]
        assert r["tokens_seen"] == single.tokens_seen
        assert r["train_losses"] == pytest.approx(single.train_loss_history, abs=2e-4)
        assert r["eval_losses"] == pytest.approx([h.eval_loss for h in single.eval_history], abs=2e-4)
    assert ranks[1]["writes"] == []
    assert (ws / "adapters" / "ddp" / "adapter_model.safetensors").is_file()
    record = json.loads((ws / "runs" / "ddp" / "record.json").read_text())
    assert record["world_size"] == 2 and record["steps"] == 6
    assert not (ws / "runs" / "ddp" / "checkpoint").exists()


def test_each_process_takes_every_nth_micro_batch_of_a_step():
    step = [[0, 1], [2], [3, 4], [5]]
    assert local_share(step, Dist(rank=0, world_size=2)) == [[0, 1], [3, 4]]
    assert local_share(step, Dist(rank=1, world_size=2)) == [[2], [5]]
    assert local_share(step, Dist()) == step
    assert local_share(step[:1], Dist(rank=1, world_size=2)) == []


def test_layout_counts_the_global_batch_and_idle_devices():
    layout = data_parallel_layout(4, micro_batch_size=8, grad_accumulation=6)
    assert (layout.micro_batches_per_device, layout.idle_devices, layout.examples_per_step) == (2, 0, 48)
    assert not layout.balanced and layout.step_speedup == 3.0
    assert data_parallel_layout(8, 8, 2).idle_devices == 6
    with pytest.raises(ValueError, match="devices >= 1"):
        data_parallel_layout(0, 8, 1)


def test_too_small_a_global_batch_for_the_processes_is_refused():
    from core.errors import TrainingError
    from tuning.distributed import check_layout

    with pytest.raises(TrainingError, match="multiple of 4"):
        check_layout(2, Dist(rank=0, world_size=4))
    check_layout(1, Dist())


def test_torchrun_environment_is_read(monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "4")
    monkeypatch.setenv("RANK", "3")
    monkeypatch.setenv("LOCAL_RANK", "1")
    d = launched()
    assert (d.rank, d.world_size, d.local_rank, d.enabled, d.is_main) == (3, 4, 1, True, False)
    monkeypatch.delenv("WORLD_SIZE")
    assert not launched().enabled
