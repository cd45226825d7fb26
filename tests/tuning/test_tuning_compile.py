"""The compiled training forward (tuning/static_graph.py): when it applies, static padding, equal results, fallback."""

from __future__ import annotations

import shutil

import pytest

torch = pytest.importorskip("torch")

from core.errors import TrainingError  # noqa: E402
from tuning import static_graph  # noqa: E402
from tuning.batches import collate, encode_examples  # noqa: E402
from tuning.config import TrainConfig  # noqa: E402
from tuning.distributed import Dist  # noqa: E402
from tuning.static_graph import AUTO_MIN_MICRO_BATCHES, choose_compile, static_batch  # noqa: E402
from tuning.train import train  # noqa: E402

from tests.tuning.tiny import tiny_config  # noqa: E402


def _config(model_dir, **changes) -> TrainConfig:
    return tiny_config(model_dir, **{"max_steps": 6, "eval_every": 0, **changes})


def test_auto_compiles_only_long_single_process_packed_cpu_runs_and_on_refuses_what_cannot_work():
    one, two = Dist(), Dist(rank=0, world_size=2, backend="gloo")
    long = AUTO_MIN_MICRO_BATCHES
    assert choose_compile(TrainConfig(), "cpu", one, long, True).enabled
    assert not choose_compile(TrainConfig(compile="off"), "cpu", one, long, True).enabled
    short = choose_compile(TrainConfig(), "cpu", one, long - 1, True)
    assert not short.enabled and "too few" in short.reason and "compile: on" in short.reason
    assert not choose_compile(TrainConfig(), "cuda", one, long, True).enabled
    assert not choose_compile(TrainConfig(gradient_checkpointing=True), "cpu", one, long, True).enabled
    for config, dist, fusable, words in [
        (TrainConfig(), two, True, "several processes"),
        (TrainConfig(packing="padded"), one, True, "packing is 'padded'"),
        (TrainConfig(method="qlora"), one, True, "qlora"),
        (TrainConfig(), one, False, "head"),
    ]:
        declined = choose_compile(config, "cpu", dist, long, fusable)
        assert not declined.enabled and words in declined.reason
        forced = TrainConfig(**{**config.to_dict(), "compile": "on"})
        with pytest.raises(TrainingError, match=f"(?s)compile: on.*{words}.*compile: auto or off"):
            choose_compile(forced, "cpu", dist, 1, fusable)
    assert choose_compile(TrainConfig(compile="on"), "cpu", one, 1, True).enabled  # a short run when asked


def test_static_padding_changes_neither_the_loss_nor_the_gradients(tiny_model_dir, workspace, pairs):
    from tuning.device import choose_precision
    from tuning.loss import forward_loss
    from tuning.models import load_base_model
    from tuning.train import wrap_model

    loaded = load_base_model(str(tiny_model_dir), workspace)
    model = wrap_model(loaded, _config(tiny_model_dir))
    pad = loaded.tokenizer.pad_token_id
    encoded, _ = encode_examples(loaded.tokenizer, pairs[:6], 128)
    batch = collate(encoded, range(len(encoded)), "packed", 128, pad)
    padded = static_batch(batch, 4, 128, pad)
    rows, width = batch.input_ids.shape
    assert padded.input_ids.shape == (4, 128) and (rows < 4 or width < 128)
    assert (padded.input_ids[:rows, :width] == batch.input_ids).all() and (padded.input_ids[rows:] == pad).all()
    assert padded.position_ids[rows:, :5].tolist() == [[0, 1, 2, 3, 4]] * (4 - rows)  # padding restarts its positions
    assert not padded.keep[rows:].any() and torch.equal(padded.targets, batch.targets) and padded.slots == 512
    precision = choose_precision("fp32", "cpu")
    grads = []
    for b in (batch, padded):
        model.zero_grad()
        loss = forward_loss(model, b, precision)
        loss.backward()
        grads.append((float(loss), [p.grad.clone() for p in model.parameters() if p.requires_grad and p.grad is not None]))
    assert grads[0][0] == pytest.approx(grads[1][0], rel=1e-5)
    for a, b in zip(grads[0][1], grads[1][1]):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)
    with pytest.raises(TrainingError, match="does not fit"):
        static_batch(batch, rows - 1 if rows > 1 else 0, 128, pad)


def test_a_compiled_run_trains_like_the_eager_one_and_records_its_compile_time(tiny_model_dir, workspace, pairs):
    if not (shutil.which("g++") or shutil.which("clang++")):
        pytest.skip("torch.compile on CPU needs a C++ compiler (g++; .ci/run installs it)")
    try:  # the toolchain itself (compiler, Python headers), apart from the product's use of it
        torch.compile(lambda x: x.sin() + 1, dynamic=False)(torch.ones(4))
    except Exception as exc:  # noqa: BLE001
        pytest.skip(f"torch.compile cannot build CPU kernels here: {type(exc).__name__}: {str(exc)[:200]}")
    eager = train(_config(tiny_model_dir, compile="off"), pairs[:60], [], workspace, "eager").record
    compiled = train(_config(tiny_model_dir, compile="on"), pairs[:60], [], workspace, "compiled").record
    assert not eager.compiled and eager.compile_reason == "compile: off" and eager.compile_seconds == 0
    assert compiled.compiled and compiled.compile_reason == "compile: on" and compiled.compile_seconds > 0
    assert compiled.wall_seconds >= compiled.compile_seconds and compiled.tokens_seen == eager.tokens_seen
    assert compiled.slots_seen == compiled.steps * 4 * 128  # every micro-batch at the one compiled shape
    assert compiled.train_loss_history == pytest.approx(eager.train_loss_history, rel=2e-3, abs=2e-3)
    # With dropout, equal losses also mean the compile warm-up gave back the random state it drew from.
    eager = train(_config(tiny_model_dir, compile="off", dropout=0.3), pairs[:60], [], workspace, "eager-dropout").record
    compiled = train(_config(tiny_model_dir, compile="on", dropout=0.3), pairs[:60], [], workspace, "compiled-dropout").record
    assert compiled.train_loss_history == pytest.approx(eager.train_loss_history, rel=2e-3, abs=2e-3)


def test_auto_falls_back_to_eager_when_compiling_fails_and_on_says_why(tiny_model_dir, workspace, pairs, monkeypatch):
    def broken(model):
        def call(*args, **kwargs):
            raise RuntimeError("InvalidCxxCompiler: No working C++ compiler found")
        return call

    monkeypatch.setattr("tuning.train.compiled_decoder", broken)
    monkeypatch.setattr(static_graph, "AUTO_MIN_MICRO_BATCHES", 1)
    record = train(_config(tiny_model_dir, compile="auto"), pairs[:60], [], workspace, "fallback").record
    assert not record.compiled and "compiling failed" in record.compile_reason and "C++ compiler" in record.compile_reason
    assert record.steps == 6 and record.final_train_loss is not None
    with pytest.raises(TrainingError, match="(?s)Compiling the training forward failed.*compile: off"):
        train(_config(tiny_model_dir, compile="on"), pairs[:60], [], workspace, "forced")
