"""The training engine end to end on a tiny random Llama: train, save, reload with plain peft, resume."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from core.errors import ModelLoadError, TrainingError  # noqa: E402
from tuning.adapters import load_with_adapter, merge_adapter, read_metadata  # noqa: E402
from tuning.config import TrainConfig  # noqa: E402
from tuning.record import TrainRecord  # noqa: E402
from tuning.train import train  # noqa: E402

from tests.tuning.tiny import tiny_config  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


def _config(model_dir, **changes) -> TrainConfig:
    return tiny_config(model_dir, **changes)


def _logits(model, ids):
    with torch.no_grad():
        return model(input_ids=ids, use_cache=False).logits


def test_tiny_model_trains_saves_and_reloads_with_plain_peft(tiny_model_dir, workspace, pairs):
    seen = []
    result = train(_config(tiny_model_dir), pairs[:120], pairs[600:630], workspace, "tiny", on_eval=lambda s, l, t: seen.append((s, l, t)),
                   data_version="sample@test")
    record = result.record
    assert [s for s, _, _ in seen] == [4, 8, 12]
    assert seen[-1][1] < seen[0][1], "validation loss went down"
    assert record.final_train_loss < record.first_train_loss
    assert record.steps == 12 and record.tokens_seen > 0 and record.padding_fraction < 0.2
    assert record.tokens_per_s > 0 and record.peak_memory_mb > 0 and record.data_version == "sample@test"
    on_disk = json.loads((workspace.path("runs", "tiny") / "record.json").read_text())
    assert on_disk["best_eval_loss"] == record.best_eval_loss and on_disk["eval_history"][0]["step"] == 4
    assert TrainRecord.from_dict(on_disk) == record
    assert not (workspace.path("runs", "tiny") / "checkpoint").exists()

    adapter = result.adapter_dir
    assert (adapter / "adapter_model.safetensors").is_file() and (adapter / "adapter_config.json").is_file()
    meta = read_metadata(adapter)
    assert meta["base_model"]["path"] == str(tiny_model_dir) and meta["data_version"] == "sample@test"
    assert meta["config"]["rank"] == 8 and meta["metrics"]["steps"] == 12

    # Plain peft, outside the product, gives the same outputs as our loader.
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32)
    ids = torch.tensor([[1, 42, 314, 2718, 99, 7]])
    base_logits = _logits(base, ids)
    plain = PeftModel.from_pretrained(base, str(adapter)).eval()
    ours = load_with_adapter(adapter, workspace)
    torch.testing.assert_close(_logits(plain, ids), _logits(ours.model, ids))
    assert not torch.allclose(_logits(plain, ids), base_logits), "the adapter changes the model"

    # Merge on request: same function, standalone weights.
    merged_dir = merge_adapter(adapter, workspace, "tiny-merged")
    merged = AutoModelForCausalLM.from_pretrained(merged_dir, dtype=torch.float32)
    torch.testing.assert_close(_logits(merged, ids), _logits(ours.model, ids), atol=1e-4, rtol=1e-4)

    # The same generation function serves the adapter.
    from tuning.generate import GenerationSettings, generate

    out = generate(ours, [[{"role": "user", "content": "List files"}]] * 3, GenerationSettings(max_new_tokens=5, batch_size=2))
    assert len(out) == 3 and all(g.completion_tokens <= 5 for g in out)


def test_missing_or_mismatched_base_is_refused(tiny_model_dir, workspace, pairs, tmp_path):
    result = train(_config(tiny_model_dir, max_steps=2, eval_every=0), pairs[:16], [], workspace, "refuse")
    meta_path = result.adapter_dir / "metadata.json"
    meta = json.loads(meta_path.read_text())
    meta["base_model"].update(name="some-model", path=str(tmp_path / "gone"))
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(ModelLoadError, match="missing"):
        load_with_adapter(result.adapter_dir, workspace)

    from transformers import LlamaConfig, LlamaForCausalLM

    other = tmp_path / "other"
    cfg = LlamaConfig(vocab_size=1000, hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=1)
    LlamaForCausalLM(cfg).save_pretrained(other)
    for f in ("tokenizer.json", "tokenizer_config.json"):
        (other / f).write_bytes((Path(tiny_model_dir) / f).read_bytes())
    with pytest.raises(ModelLoadError, match="differs"):
        load_with_adapter(result.adapter_dir, workspace, base=str(other))
    with pytest.raises(ModelLoadError, match="not found"):
        load_with_adapter("no-such-adapter", workspace)


def test_on_eval_raising_stops_and_saves_nothing(tiny_model_dir, workspace, pairs):
    class Prune(Exception):
        pass

    def on_eval(step, loss, tokens):
        raise Prune()

    with pytest.raises(Prune):
        train(_config(tiny_model_dir, save_every=2), pairs[:64], pairs[600:610], workspace, "pruned", on_eval=on_eval)
    assert not (workspace.dir("adapters") / "pruned").exists()
    assert not (workspace.dir("runs") / "pruned" / "record.json").exists()


def test_early_stopping(tiny_model_dir, workspace, pairs):
    config = _config(tiny_model_dir, learning_rate=1e-12, max_steps=40, eval_every=2, early_stopping_patience=2)
    record = train(config, pairs[:200], pairs[600:610], workspace, "early").record
    assert record.stopped_early and record.steps == 6  # eval at 2 is best; 4 and 6 do not improve


_KILLED_RUN = """
import os, signal, sys, json
sys.path.insert(0, {root!r})
from core.workspace import Workspace
from tuning.config import TrainConfig
from tuning.train import train
class P:
    def __init__(self, d): self.input, self.output = d["input"], d["output"]
rows = [P(json.loads(l)) for l in open({pairs!r}, encoding="utf-8")]
config = TrainConfig.from_dict(json.loads({config!r}))
def on_eval(step, loss, tokens):
    if step == 6:
        os.kill(os.getpid(), signal.SIGKILL)
train(config, rows[:160], rows[600:610], Workspace.resolve({ws!r}), "killed", on_eval=on_eval)
"""


def test_killed_run_resumes_from_checkpoint(tiny_model_dir, workspace, pairs, sample_pairs):
    config = _config(tiny_model_dir, max_steps=10, eval_every=2, save_every=2, dropout=0.1)
    code = _KILLED_RUN.format(root=str(ROOT), pairs=str(sample_pairs), config=json.dumps(config.to_dict()), ws=str(workspace.root))
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == -9, proc.stderr[-2000:]
    assert (workspace.dir("runs") / "killed" / "checkpoint" / "state.pt").is_file()
    assert not (workspace.dir("adapters") / "killed").exists()

    resumed = train(config, pairs[:160], pairs[600:610], workspace, "killed").record
    assert resumed.resumed_from == [4] and resumed.steps == 10
    # The same run without the kill takes the same steps with the same losses (seeded data order, dropout, init).
    straight = train(config, pairs[:160], pairs[600:610], workspace, "straight").record
    assert straight.steps == 10 and straight.tokens_seen == resumed.tokens_seen
    assert straight.train_loss_history == pytest.approx(resumed.train_loss_history, abs=1e-3)


def test_resume_refuses_a_different_config(tiny_model_dir, workspace, pairs):
    config = _config(tiny_model_dir, max_steps=4, eval_every=0, save_every=2)
    from tuning.checkpoint import Checkpoint

    with pytest.raises(RuntimeError):
        def boom(progress):
            if progress.step == 3:
                raise RuntimeError("stop")
        train(config, pairs[:64], [], workspace, "changed", progress=boom)
    assert Checkpoint(workspace.dir("runs") / "changed").exists()
    with pytest.raises(TrainingError, match="different configuration"):
        train(config.replace(rank=4), pairs[:64], [], workspace, "changed")


@pytest.mark.parametrize("method", ["dora", "full"])
def test_other_methods_train(tiny_model_dir, workspace, pairs, method):
    result = train(_config(tiny_model_dir, method=method, max_steps=4, eval_every=2), pairs[:64], pairs[600:610], workspace, method)
    assert result.record.eval_history[-1].eval_loss < result.record.eval_history[0].eval_loss + 1e-3
    loaded = load_with_adapter(result.adapter_dir, workspace)
    ids = torch.tensor([[1, 42, 314]])
    assert torch.isfinite(_logits(loaded.model, ids)).all()
    if method == "full":
        assert (result.adapter_dir / "model.safetensors").is_file() and result.record.trainable_params == result.record.total_params


@pytest.fixture(scope="module")
def tiny64_dir(tiny_model_dir, tmp_path_factory):
    """bitsandbytes' 4-bit blocks need layers at least 64 wide."""
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    out = tmp_path_factory.mktemp("tiny64")
    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=len(tok), hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                      num_key_value_heads=2, max_position_embeddings=512, bos_token_id=tok.bos_token_id,
                      eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id, tie_word_embeddings=True)
    LlamaForCausalLM(cfg).save_pretrained(out)
    tok.save_pretrained(out)
    return out


def test_qlora_trains_on_cpu(tiny64_dir, workspace, pairs):
    pytest.importorskip("bitsandbytes")
    result = train(_config(tiny64_dir, method="qlora", learning_rate=2e-3, max_steps=8, eval_every=2, target_modules=["q_proj", "v_proj"]),
                   pairs[:48], pairs[600:606], workspace, "qlora")
    history = result.record.eval_history
    assert history[-1].eval_loss < history[0].eval_loss
    loaded = load_with_adapter(result.adapter_dir, workspace)
    assert "Linear4bit" in repr(loaded.model)


@pytest.mark.slow
def test_smollm2_trains_a_few_steps(smollm2, session_workspace, pairs):
    config = TrainConfig(max_steps=4, eval_every=2, micro_batch_size=4, max_length=128, learning_rate=5e-4, target_modules=["q_proj", "v_proj"], rank=8)
    from tuning.models import load_base_model

    loaded = load_base_model(None, session_workspace)  # a fresh copy: train() wraps it in place
    result = train(config, pairs[:64], pairs[600:632], session_workspace, "smollm2-slow", loaded=loaded)
    record = result.record
    assert record.steps == 4 and record.base_model.name == "smollm2-135m-instruct"
    assert record.eval_history[-1].eval_loss < record.eval_history[0].eval_loss
    reloaded = load_with_adapter(result.adapter_dir, session_workspace)
    assert reloaded.info["adapter"] == str(result.adapter_dir)

