"""Formatting, response-only loss masks, truncation reports, and packing correctness."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

torch = pytest.importorskip("torch")

from tuning.batches import collate, encode_examples, group_examples, pack_rows  # noqa: E402
from tuning.config import TrainConfig  # noqa: E402
from tuning.device import Precision  # noqa: E402
from tuning.train import forward_loss  # noqa: E402


@dataclass
class P:
    input: str
    output: str


PAIRS = [
    P("List all files, including hidden ones", "ls -a"),
    P("Show disk usage of a directory in human-readable units", "du -sh path/to/directory"),
    P("Print the current working directory", "pwd"),
    P("Count lines in a file", "wc -l path/to/file"),
    P("Search for a pattern in all files recursively", "grep -r pattern path/to/directory"),
]


@pytest.fixture(scope="module")
def tiny(tiny_model_dir):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32)
    model.eval()
    return model, tok


def test_prompt_tokens_carry_no_loss(tiny):
    _model, tok = tiny
    encoded, report = encode_examples(tok, PAIRS, max_length=256, system_prompt="Answer with a shell command.")
    assert report.examples == 5 and report.truncated == 0 and report.dropped == 0
    for pair, e in zip(PAIRS, encoded):
        first = e.response.index(True)
        assert not any(e.response[:first]) and all(e.response[first:])
        prompt = tok.decode(e.ids[:first])
        response = tok.decode(e.ids[first:])
        assert pair.input in prompt and "Answer with a shell command." in prompt and pair.output not in prompt
        assert response.startswith(pair.output) and "<|im_end|>" in response
    # The loss targets of a collated batch are exactly the response tokens.
    batch = collate(encoded, [0, 1], "packed", 256, tok.pad_token_id)
    expected = [t for e in encoded[:2] for t, r in zip(e.ids, e.response) if r]
    assert batch.targets.tolist() == expected
    padded = collate(encoded, [0, 1], "padded", 256, tok.pad_token_id)
    assert padded.targets.tolist() == expected and padded.input_ids.shape == (2, 256)


def test_truncation_is_counted_never_silent(tiny):
    _model, tok = tiny
    long = P("word " * 200, "echo done")
    encoded, report = encode_examples(tok, [long, PAIRS[0]], max_length=64)
    # The long prompt fills max_length: no response token is left, so it is dropped and counted.
    assert report.truncated == 1 and report.dropped == 1 and len(encoded) == 1
    encoded, report = encode_examples(tok, [P("short", "x " * 100)], max_length=40)
    assert report.truncated == 1 and report.dropped == 0 and encoded[0].truncated and len(encoded[0].ids) == 40


def test_no_attention_across_packed_examples(tiny):
    # use_cache=False matters: with a KV cache transformers skips the packed-sequence mask.
    model, tok = tiny
    encoded, _ = encode_examples(tok, PAIRS[:3], max_length=256)
    batch = collate(encoded, [0, 1, 2], "packed", 256, tok.pad_token_id)
    n0 = len(encoded[0].ids)
    with torch.no_grad():
        packed = model(input_ids=batch.input_ids, position_ids=batch.position_ids, use_cache=False).logits[0]
        alone = [model(input_ids=torch.tensor([e.ids])).logits[0] for e in encoded]
        # Change every token of example 0: the logits of examples 1 and 2 must not move.
        changed = batch.input_ids.clone()
        changed[0, :n0] = (changed[0, :n0] + 7) % 1000
        packed_changed = model(input_ids=changed, position_ids=batch.position_ids, use_cache=False).logits[0]
    start = 0
    for e, ref in zip(encoded, alone):
        torch.testing.assert_close(packed[start : start + len(e.ids)], ref, atol=1e-4, rtol=1e-4)
        start += len(e.ids)
    torch.testing.assert_close(packed_changed[n0:], packed[n0:], atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("packing", ["packed", "padding_free", "length_grouped"])
def test_packed_loss_equals_padded_loss(tiny, packing):
    model, tok = tiny
    encoded, _ = encode_examples(tok, PAIRS, max_length=128)
    fp32 = Precision("fp32", "cpu", None)
    with torch.no_grad():
        reference = forward_loss(model, collate(encoded, range(5), "padded", 128, tok.pad_token_id), fp32)
        ours = forward_loss(model, collate(encoded, range(5), packing, 128, tok.pad_token_id), fp32)
    torch.testing.assert_close(ours, reference, atol=1e-3, rtol=1e-4)


def test_grouping_is_deterministic_and_covers_everything(tiny):
    _model, tok = tiny
    encoded, _ = encode_examples(tok, PAIRS * 10, max_length=128)
    config = TrainConfig(micro_batch_size=4, max_length=128)
    for packing in ("packed", "padding_free", "length_grouped", "padded"):
        a = group_examples(encoded, packing, config.micro_batch_size, config.max_length, seed=3)
        assert a == group_examples(encoded, packing, config.micro_batch_size, config.max_length, seed=3)
        assert sorted(i for g in a for i in g) == list(range(len(encoded)))
        if packing == "packed":
            assert all(sum(len(encoded[i].ids) for i in g) <= 4 * 128 for g in a)
            assert all(collate(encoded, g, packing, 128, tok.pad_token_id).input_ids.shape[0] <= 4 for g in a)


def test_pack_rows_places_every_example_once_within_capacity():
    import random

    rng = random.Random(5)
    lengths = [rng.randint(5, 120) for _ in range(500)] + [300]  # one longer than a row: alone in its row
    rows = pack_rows(lengths, 128)
    assert sorted(i for r in rows for i in r) == list(range(len(lengths)))
    assert all(sum(min(lengths[i], 128) for i in r) <= 128 for r in rows)
    assert [500] in rows
    # Best fit leaves little room: within 3% of the lower bound on the number of rows.
    bound = sum(min(n, 128) for n in lengths) / 128
    assert len(rows) <= bound * 1.03 + 1
    assert pack_rows(lengths, 128) == rows, "deterministic for a given order"


@pytest.mark.parametrize("attention", ["eager", "sdpa"])
def test_multi_row_packing_keeps_examples_apart(tiny, attention):
    """Rows of max_length with padding at their ends: each example's logits equal its logits alone."""
    model, tok = tiny
    model.set_attn_implementation(attention)
    try:
        encoded, _ = encode_examples(tok, PAIRS, max_length=128)
        width = max(len(e.ids) for e in encoded) + 8  # forces several rows, some padded
        batch = collate(encoded, range(5), "packed", width, tok.pad_token_id)
        assert batch.input_ids.shape[0] > 1 and batch.slots > batch.real_tokens
        assert batch.examples == 5 and batch.real_tokens == sum(len(e.ids) for e in encoded)
        with torch.no_grad():
            rows = model(input_ids=batch.input_ids, position_ids=batch.position_ids, use_cache=False).logits
            alone = [model(input_ids=torch.tensor([e.ids])).logits[0] for e in encoded]
        found = 0
        for r in range(rows.shape[0]):
            starts = (batch.position_ids[r] == 0).nonzero().flatten().tolist()
            for a, b in zip(starts, starts[1:] + [rows.shape[1]]):
                ids = batch.input_ids[r, a:b].tolist()
                match = [k for k, e in enumerate(encoded) if e.ids == ids]
                if match:  # a padding run matches no example
                    torch.testing.assert_close(rows[r, a:b], alone[match[0]], atol=1e-4, rtol=1e-4)
                    found += 1
        assert found == 5
        fp32 = Precision("fp32", "cpu", None)
        with torch.no_grad():
            reference = forward_loss(model, collate(encoded, range(5), "padded", 128, tok.pad_token_id), fp32)
            ours = forward_loss(model, batch, fp32)
        torch.testing.assert_close(ours, reference, atol=1e-3, rtol=1e-4)
    finally:
        model.set_attn_implementation("sdpa")
