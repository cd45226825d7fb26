"""The chunked, fused response-token loss (tuning/loss.py) equals the plain cross-entropy, in value and gradients."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from tuning.device import Precision  # noqa: E402
from tuning.loss import chunked_linear_cross_entropy, forward_loss  # noqa: E402

FP32 = Precision("fp32", "cpu", None)


@pytest.mark.parametrize(("dtype", "weight_trains", "tol"), [(torch.float32, False, 1e-4), (torch.float32, True, 1e-4), (torch.bfloat16, False, 2e-2)])
def test_chunked_loss_and_gradients_match_the_plain_cross_entropy(dtype, weight_trains, tol):
    torch.manual_seed(0)
    h = torch.randn(300, 16, dtype=dtype, requires_grad=True)
    w = torch.randn(500, 16, dtype=dtype, requires_grad=weight_trains)
    t = torch.randint(0, 500, (300,))
    ref = torch.nn.functional.cross_entropy((h @ w.t()).float(), t, reduction="sum")
    ref.backward(torch.tensor(0.25))
    ref_h, ref_w = h.grad.clone(), w.grad.clone() if weight_trains else None
    h.grad = None
    w.grad = None
    out = chunked_linear_cross_entropy(h, w, t, chunk=64)
    out.backward(torch.tensor(0.25))
    assert float(out.detach()) == pytest.approx(float(ref.detach()), rel=1e-5)
    assert torch.allclose(h.grad.float(), ref_h.float(), atol=tol)
    if weight_trains:
        assert torch.allclose(w.grad.float(), ref_w.float(), atol=tol)
    else:
        assert w.grad is None


def _tiny_lora(tiny_model_dir):
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32)
    torch.manual_seed(1)
    model = get_peft_model(model, LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], init_lora_weights=False))
    return model, tok


def test_forward_loss_through_a_peft_model_matches_the_plain_path_and_restores_the_head(tiny_model_dir):
    from tuning.batches import collate, encode_examples

    model, tok = _tiny_lora(tiny_model_dir)

    class P:
        input, output = "list files in a folder", "ls -la path/to/folder"

    encoded, _ = encode_examples(tok, [P()] * 3, 64, None)
    batch = collate(encoded, range(3), "packed", 64, tok.pad_token_id)
    from tuning.loss import _fused_head

    head = model.get_output_embeddings()
    assert _fused_head(model) is not None  # the fused path is the one under test
    fused = forward_loss(model, batch, FP32)
    fused.backward()
    grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.requires_grad}
    model.zero_grad(set_to_none=True)
    assert model.get_output_embeddings() is head  # the head is back after the call
    out = model(input_ids=batch.input_ids, position_ids=batch.position_ids, logits_to_keep=batch.keep, use_cache=False)
    plain = torch.nn.functional.cross_entropy(out.logits.reshape(-1, out.logits.shape[-1]).float(), batch.targets, reduction="sum")
    plain.backward()
    assert float(fused) == pytest.approx(float(plain), rel=1e-5)
    for n, p in model.named_parameters():
        if p.requires_grad:
            assert torch.allclose(grads[n], p.grad, atol=1e-5), n


def test_a_head_with_a_bias_takes_the_plain_path(tiny_model_dir):
    from tuning.batches import collate, encode_examples
    from tuning.loss import _fused_head

    model, tok = _tiny_lora(tiny_model_dir)
    base = model.get_base_model()
    old = base.lm_head
    base.lm_head = torch.nn.Linear(old.in_features, old.out_features, bias=True)
    object.__setattr__(model, "_advisor_fused_head", None)

    class P:
        input, output = "show disk usage", "du -sh ."

    encoded, _ = encode_examples(tok, [P()], 64, None)
    batch = collate(encoded, [0], "packed", 64, tok.pad_token_id)
    assert _fused_head(model) is None
    assert torch.isfinite(forward_loss(model, batch, FP32))
