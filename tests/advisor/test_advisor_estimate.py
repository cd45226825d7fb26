"""The estimator against published figures, and its feasibility check."""

from __future__ import annotations

import pytest

from advisor.catalogue import builtin_catalogue, get_device, load_catalogue
from advisor.estimate import (
    ARCHITECTURES, GiB, MEMORY_TOLERANCE, PUBLISHED, THROUGHPUT_FACTOR, THROUGHPUT_TOLERANCE, TrainSetup, accuracy_summary,
    accuracy_table, adapter_params, estimate_case, estimate_rag, estimate_training, fits, generation_tokens_per_second,
    inference_memory, parse_size, resolve_model, training_memory,
)
from core.errors import ConfigError


@pytest.mark.parametrize("case", PUBLISHED, ids=lambda c: f"{c.name} {c.quantity}")
def test_published_figures_within_tolerance(case):
    estimate = estimate_case(case)
    tolerance = MEMORY_TOLERANCE if case.quantity == "memory" else THROUGHPUT_TOLERANCE
    error = estimate / case.published - 1
    assert abs(error) <= tolerance, f"{case.name}: published {case.published} {case.unit}, estimated {estimate:.1f} ({error:+.0%})"


def test_the_issue_cases_are_all_there():
    names = {(c.name, c.quantity) for c in PUBLISHED}
    for name in ("7B full, mixed precision", "7B full, pure bf16", "7B LoRA, bf16", "7B QLoRA, 8-bit", "7B QLoRA, 4-bit"):
        assert (name, "memory") in names
    assert ("Llama-3.1-8B LoRA, 1x RTX 4090", "memory") in names
    assert ("Llama-3.1-8B LoRA, 1x RTX 4090", "throughput") in names


def test_accuracy_is_reported_honestly():
    rows = accuracy_table()
    assert len(rows) == len(PUBLISHED)
    summary = accuracy_summary()
    assert "estimates" in summary and "%" in summary
    worst = max(abs(r["error"]) for r in rows if r["quantity"] == "memory")
    assert f"{worst:.0%}" in summary


def test_memory_orders_and_knobs():
    model = ARCHITECTURES["llama-2-7b"]
    total = {m: training_memory(TrainSetup(model, m)).total for m in ("full", "lora", "dora", "qlora")}
    assert total["full"] > total["dora"] >= total["lora"] > total["qlora"]
    long_ = TrainSetup(model, "lora", seq_len=4096, micro_batch=4, gradient_checkpointing=False)
    ckpt = TrainSetup(model, "lora", seq_len=4096, micro_batch=4, gradient_checkpointing=True)
    assert training_memory(long_).activations > 5 * training_memory(ckpt).activations
    eight = TrainSetup(model, "qlora", quant_bits=8)
    four = TrainSetup(model, "qlora", quant_bits=4)
    assert training_memory(eight).weights > 1.7 * training_memory(four).weights - 2 * (model.params - model.linear_params)
    # LoRA parameters: rank x (in + out) per adapted module.
    assert adapter_params(model, 8, ("q_proj", "v_proj")) == 32 * 2 * 8 * (4096 + 4096)


def test_inference_memory_and_speed():
    model = resolve_model("8B")
    bf16 = inference_memory(model, 16, batch=1, context_tokens=4096)
    nf4 = inference_memory(model, 4, batch=1, context_tokens=4096)
    assert 15 * GiB < bf16.total < 20 * GiB
    assert nf4.total < 0.5 * bf16.total
    assert bf16.kv_cache == pytest.approx(2 * 32 * 1024 * 4096 * 2)
    fast = generation_tokens_per_second(model, "h100")
    slow = generation_tokens_per_second(model, "t4")
    assert fast > 5 * slow
    assert generation_tokens_per_second(model, "h100", batch=32) > 10 * fast


def test_training_time_and_cost():
    setup = TrainSetup(resolve_model("8B"), "lora", seq_len=1024, micro_batch=2)
    est = estimate_training(setup, "a100-80", tokens=3e6)
    assert est.fits and est.tokens_per_second > 1000
    assert est.cost_usd == pytest.approx(est.wall_seconds / 3600 * get_device("a100-80").price_per_hour)
    out = est.to_dict()
    assert out["estimate"] is True and "accuracy" in out
    h100 = estimate_training(setup, "h100", tokens=3e6)
    assert h100.wall_seconds < est.wall_seconds


def test_rag_estimate():
    small = estimate_rag(1e6, "cpu", None, chunk_size=256, chunk_overlap=0, top_k=4)
    big = estimate_rag(1e8, "cpu", None, chunk_size=256, chunk_overlap=0, top_k=4)
    assert small.chunks == 3907 and big.chunks > 90 * small.chunks
    assert small.index_bytes == pytest.approx(3907 * 384 * 4 + 3907 * 8)
    assert small.extra_prompt_tokens == 1024
    assert big.extra_seconds_per_query > small.extra_seconds_per_query
    with pytest.raises(ConfigError):
        estimate_rag(1e6, chunk_size=64, chunk_overlap=64)


def test_fits_marks_infeasible_configs():
    ok, reason = fits({"model": "13B", "method": "qlora", "max_length": 512, "micro_batch_size": 1, "gradient_checkpointing": True}, "rtx4090")
    assert ok and "fits" in reason
    ok, reason = fits({"model": "13B", "method": "lora", "max_length": 512, "micro_batch_size": 8}, "rtx4090")
    assert not ok and "does not fit" in reason and "QLoRA" in reason and "checkpointing" in reason
    ok, _ = fits({"model": None, "method": "lora", "micro_batch_size": 8, "max_length": 256}, "cpu")
    assert ok
    ok, _ = fits({"model": "70B", "method": "lora"}, 10 * GiB)
    assert not ok


def test_fits_takes_a_train_config():
    from tuning.config import TrainConfig

    ok, reason = fits(TrainConfig(model="smollm2", method="dora", rank=8), "t4")
    assert ok, reason


def test_fits_reads_a_local_model_folder(tmp_path):
    import json

    (tmp_path / "config.json").write_text(json.dumps({
        "hidden_size": 64, "num_hidden_layers": 2, "intermediate_size": 128, "num_attention_heads": 4,
        "num_key_value_heads": 2, "vocab_size": 1000, "tie_word_embeddings": True,
    }))
    arch = resolve_model(str(tmp_path))
    assert arch.layers == 2 and arch.hidden == 64 and arch.params < 1e6
    assert fits({"model": str(tmp_path)}, "t4")[0]


def test_model_sizes():
    assert parse_size("7B") == 7e9 and parse_size("135M") == 135e6 and parse_size(13) == 13e9
    assert resolve_model("smollm2").name == "smollm2-135m"
    assert resolve_model("8b").layers == 32
    assert resolve_model("30B").params == 30e9
    assert resolve_model("Qwen/Qwen2.5-7B-Instruct").params == 7e9
    assert resolve_model("meta-llama/Llama-3.1-8B").name == "llama-3.1-8b"
    with pytest.raises(ConfigError, match="Unknown model"):
        resolve_model("a-mystery-model")


def test_catalogue_has_the_gpus_and_prices_are_editable(tmp_path):
    names = set(builtin_catalogue())
    assert {"t4", "l4", "a10g", "rtx4090", "a100-40", "a100-80", "h100", "h200", "cpu"} <= names
    assert get_device("A100").name == "a100-80" and get_device("4090").memory_gb == 24
    path = tmp_path / "gpus.yaml"
    path.write_text("a100-80: {price_per_hour: 0.99}\nmy-card: {memory_gb: 48, bf16_tflops: 180, bandwidth_gbs: 960, price_per_hour: 0.8}\n")
    cat = load_catalogue(path, prices={"h100": 1.5})
    assert cat["a100-80"].price_per_hour == 0.99 and cat["h100"].price_per_hour == 1.5 and cat["my-card"].memory_gb == 48
    path.write_text("a100-80: {price_per_hour: cheap, colour: red}\nnew: {memory_gb: 10}\n")
    with pytest.raises(ConfigError) as info:
        load_catalogue(path)
    assert "unknown fields" in str(info.value) and "needs" in str(info.value)
    with pytest.raises(ConfigError, match="Unknown device"):
        get_device("abacus")


def test_docs_accuracy_table_matches_the_estimator():
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "advisor.md").read_text(encoding="utf-8")
    for row in accuracy_table():
        line = next((l for l in doc.splitlines() if l.startswith(f"| {row['case']} | {row['quantity']} |")), None)
        assert line is not None, f"docs/advisor.md lacks the row for {row['case']} ({row['quantity']})"
        assert f"{row['error']:+.0%}" in line, f"docs/advisor.md is stale for {row['case']}: estimator now says {row['error']:+.0%}"


# ----------------------------------------------------------------------------- advisor v2
def test_at_least_six_new_published_figures_with_the_required_kinds():
    new = [c for c in PUBLISHED if c.new]
    assert len(new) >= 6
    assert any(c.setup.method == "full" and (c.setup.optimizer != "adamw" or c.setup.optimizer_in_backward) for c in new)  # memory-optimised full
    assert any(c.setup.method == "qlora" and c.quantity == "memory" for c in new)  # LoRA on a quantised base
    assert any(c.quantity == "throughput" and c.setup.profile == "plain-transformers" for c in new)
    for case in PUBLISHED:
        estimate = estimate_case(case)
        if case.quantity == "memory":
            assert abs(estimate / case.published - 1) <= MEMORY_TOLERANCE, case.name
        else:
            assert 1 / THROUGHPUT_FACTOR <= estimate / case.published <= THROUGHPUT_FACTOR, case.name


def test_optimisers_precision_and_optimizer_in_backward_change_full_fine_tuning_memory():
    model = ARCHITECTURES["llama-2-7b"]
    mixed = training_memory(TrainSetup(model, "full", "mixed"))
    bf16 = training_memory(TrainSetup(model, "full", "bf16"))
    eight = training_memory(TrainSetup(model, "full", "bf16", optimizer="adamw8bit"))
    paged = training_memory(TrainSetup(model, "full", "bf16", optimizer="paged_adamw8bit", optimizer_in_backward=True))
    assert mixed.total > bf16.total > eight.total > paged.total
    assert eight.optimizer == pytest.approx(model.params * 2)
    assert paged.optimizer == 0 and paged.paged == pytest.approx(model.params * 2)  # paged states sit outside the card's peak
    assert paged.gradients < 0.05 * bf16.gradients  # one gradient tensor alive at a time
    assert paged.total / GiB < 22  # a 24 GB card (22.4 GiB usable) holds it, as torchtune's low-memory recipe shows


def test_multi_gpu_sharding_divides_full_fine_tuning_state():
    setup = TrainSetup(ARCHITECTURES["llama-3.1-8b"], "full", "mixed")
    one = estimate_training(setup, "a100-80", 1e7)
    four = estimate_training(setup, "a100-80", 1e7, devices=4)
    assert four.memory.weights == pytest.approx(one.memory.weights / 4)
    assert four.tokens_per_second == pytest.approx(one.tokens_per_second * 4 * 0.9)
    assert four.cost_usd == pytest.approx(one.cost_usd / 0.9, rel=1e-6)


def test_config_aliases_live_in_one_place():
    from advisor.estimate import CONFIG_ALIASES, setup_from_config

    setup = setup_from_config({"base_model": "7B", "lora_rank": 4, "max_seq_len": 512, "batch_size": 2})
    assert (setup.rank, setup.seq_len, setup.micro_batch) == (4, 512, 2)
    # other names of TrainConfig fields live in tuning.config.TRAIN_ALIASES only; the estimator keeps its own names
    from tuning.config import TRAIN_ALIASES

    assert CONFIG_ALIASES["rank"] == ("rank",) and TRAIN_ALIASES["lora_rank"] == "rank"
    with pytest.raises(ConfigError, match="optimizer"):
        setup_from_config({"model": "7B", "optimizer": "sgd-of-doom"})
