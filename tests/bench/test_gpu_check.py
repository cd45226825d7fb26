"""bench/gpu_check.sh --dry-run: the GPU check's whole path (LoRA bf16 + SDPA, QLoRA NF4, two-process DDP,
generation, MFU and the estimator's memory prediction) runs on the CPU and reports every stage."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("bitsandbytes")

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def narrow_model_dir(tmp_path_factory, tiny_model_dir) -> Path:
    """The tiny test Llama, 64 wide: bitsandbytes' NF4 layers need at least 64 inputs."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    config = LlamaConfig.from_pretrained(tiny_model_dir)
    config.hidden_size, config.intermediate_size = 64, 128
    torch.manual_seed(0)
    out = tmp_path_factory.mktemp("tiny-llama-64")
    LlamaForCausalLM(config).save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)
    return out


def test_dry_run_goes_through_every_stage(narrow_model_dir, tmp_path):
    out = tmp_path / "check.json"
    cmd = ["bash", str(ROOT / "bench" / "gpu_check.sh"), "--dry-run", "--model", str(narrow_model_dir), "--steps", "2",
           "--pairs", "32", "--micro-batch-size", "2", "--max-length", "128", "--peak-tflops", "0.1",
           "--workspace", str(tmp_path / "ws"), "--out", str(out)]
    env = {**os.environ, "PYTHON": sys.executable, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-6000:]
    result = json.loads(out.read_text())
    stages = {s["stage"]: s for s in result["stages"]}
    assert list(stages) == ["lora", "qlora", "ddp", "generate"]
    assert result["dry_run"] and result["machine"]["device"] == "cpu"
    for name in ("lora", "qlora"):
        s = stages[name]
        assert (s["precision"], s["attention"], s["steps"]) == ("bf16", "sdpa", 2)
        assert s["tokens_per_s"] > 0 and 0 < s["mfu"] and s["peak_memory_gib"] > 0
        assert s["predicted_memory_gib"] is not None and s["predicted_memory_gib"] > 0
    assert stages["ddp"]["processes"] == 2 and stages["ddp"]["steps"] == 2
    assert stages["generate"]["prompts"] == 32 and stages["generate"]["generated_tokens"] > 0
    assert "MFU" in done.stdout and "predicted GiB" in done.stdout


def test_without_a_gpu_the_real_check_says_what_to_do(tmp_path):
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("a GPU is visible")
    env = {**os.environ, "PYTHON": sys.executable}
    done = subprocess.run(["bash", str(ROOT / "bench" / "gpu_check.sh"), "--workspace", str(tmp_path)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 2
    assert "--dry-run" in done.stderr
