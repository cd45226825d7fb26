"""The response-token loss: cross-entropy of the LM head over the loss positions, in chunks, fused with its gradient.

Why not ``F.cross_entropy(model(...).logits.float(), targets)``: with a 49k vocabulary the logits of a
micro-batch's response tokens are the largest tensors of a step. The plain path holds them three
times until the backward pass (bf16 logits, their fp32 copy, the log-softmax output), ~10 bytes per
token per vocabulary entry: 0.5 GB for 1,000 response tokens of SmolLM2, then as much again for their
gradients. Here the model returns the final hidden states at the loss positions (its LM head is
swapped for a pass-through during the call) and :class:`ChunkedLinearCrossEntropy` computes, chunk by
chunk, the logits, the loss and at once the gradient with respect to the hidden states (softmax minus
one-hot, times the head's weight), which is all the backward pass needs: logits never outlive their
chunk. Same arithmetic as the plain path (matmul in the autocast dtype, softmax in fp32), no
recomputation. The LM head's weight gets its gradient too when it trains (full fine-tuning).

Models whose head is not a plain bias-free ``nn.Linear`` (a LoRA on the head, a quantized head) or that
post-process logits (soft-capping) take the plain path.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from tuning.batches import Batch

CHUNK_TOKENS = 512
"""Loss positions per chunk: 512 x 49k vocabulary x 4 bytes = 100 MB of fp32 logits at a time."""


def _torch():
    import torch

    return torch


_PASS_CLS = None


def _passthrough_cls():
    """An ``nn.Module`` returning its input (built lazily: importing this module must not import torch)."""
    global _PASS_CLS
    if _PASS_CLS is None:
        torch = _torch()

        class PassThrough(torch.nn.Module):
            def forward(self, x):
                return x

        _PASS_CLS = PassThrough
    return _PASS_CLS


def head_fusable(model) -> bool:
    """Whether the model's head can take the fused loss (a plain bias-free linear layer)."""
    return _fused_head(model) is not None


def _fused_head(model) -> tuple[Any, str, Any] | None:
    """(parent module, attribute name, head) when the head can be fused with the loss; else None."""
    torch = _torch()
    base = getattr(model, "module", model)  # DistributedDataParallel
    cached = getattr(base, "_advisor_fused_head", None)
    if cached is not None:
        return cached or None
    found: tuple[Any, str, Any] | None = None
    head = base.get_output_embeddings() if hasattr(base, "get_output_embeddings") else None
    config = getattr(base, "config", None)
    softcap = getattr(config, "final_logit_softcapping", None) or getattr(getattr(config, "text_config", None), "final_logit_softcapping", None)
    if type(head) is torch.nn.Linear and head.bias is None and not softcap and head.weight.dtype in (torch.float32, torch.bfloat16, torch.float16):
        for name, module in base.named_modules():
            if module is head and name:
                parent_name, _, attr = name.rpartition(".")
                found = (base.get_submodule(parent_name) if parent_name else base, attr, head)
                break
    object.__setattr__(base, "_advisor_fused_head", found or ())
    return found


@contextlib.contextmanager
def _hidden_states_from_head(model) -> Iterator[Any | None]:
    """While active, the model returns final hidden states where it returned logits; yields the head (or None)."""
    fused = _fused_head(model)
    if fused is None:
        yield None
        return
    parent, attr, head = fused
    setattr(parent, attr, _passthrough_cls()())
    try:
        yield head
    finally:
        setattr(parent, attr, head)


def _chunked_ce_function():
    torch = _torch()

    class ChunkedLinearCrossEntropy(torch.autograd.Function):
        """Sum of cross-entropy of ``hidden @ weight.T`` against ``targets``; gradients computed in the forward pass."""

        @staticmethod
        def forward(ctx, hidden, weight, targets, compute_dtype, chunk):  # noqa: D401 - autograd signature
            n = hidden.shape[0]
            w = weight.detach().to(compute_dtype)
            need_w = weight.requires_grad
            grad_h = torch.empty_like(hidden)
            grad_w = torch.zeros(weight.shape, dtype=torch.float32, device=weight.device) if need_w else None
            total = torch.zeros((), dtype=torch.float32, device=hidden.device)
            for s in range(0, n, chunk):
                h = hidden[s : s + chunk].detach().to(compute_dtype)
                t = targets[s : s + chunk]
                logits = (h @ w.t()).float()
                lse = torch.logsumexp(logits, dim=-1)
                total += (lse - logits.gather(1, t[:, None]).squeeze(1)).sum()
                # d(sum CE)/d(logits) = softmax - one-hot, built in place over the logits
                probs = logits.sub_(lse[:, None]).exp_()
                probs[torch.arange(t.shape[0], device=t.device), t] -= 1.0
                g = probs.to(compute_dtype)
                grad_h[s : s + chunk] = (g @ w).to(hidden.dtype)
                if grad_w is not None:
                    grad_w.addmm_(g.t().float(), h.float())
            ctx.save_for_backward(grad_h, *([grad_w] if grad_w is not None else []))
            ctx.weight_dtype = weight.dtype if need_w else None
            return total

        @staticmethod
        def backward(ctx, grad_out):
            saved = ctx.saved_tensors
            grad_h = saved[0] * grad_out.to(saved[0].dtype)
            grad_w = (saved[1] * grad_out).to(ctx.weight_dtype) if ctx.weight_dtype is not None else None
            return grad_h, grad_w, None, None, None

    return ChunkedLinearCrossEntropy


_CE_FN = None


def chunked_linear_cross_entropy(hidden, weight, targets, compute_dtype=None, chunk: int = CHUNK_TOKENS):
    """Summed cross-entropy of the head ``weight`` over ``hidden`` (N x H) against ``targets`` (N), chunked."""
    global _CE_FN
    if _CE_FN is None:
        _CE_FN = _chunked_ce_function()
    return _CE_FN.apply(hidden, weight, targets, compute_dtype or hidden.dtype, chunk)


def forward_loss(model, batch: "Batch", precision, decoder: Any = None) -> "torch.Tensor":
    """Sum of cross-entropy over the batch's response tokens (logits computed only there, chunk by chunk).

    ``decoder``: the model's compiled decoder stack (tuning/static_graph.py) for a static-shape batch;
    the hidden states then come from it and the loss positions are picked here.
    """
    import torch.nn.functional as F

    if decoder is not None:
        fused = _fused_head(model)
        if fused is None:  # pragma: no cover - choose_compile refuses such models
            raise ValueError("a compiled decoder needs a head that takes the fused loss")
        with precision.autocast():
            hidden = decoder(input_ids=batch.input_ids, position_ids=batch.position_ids, use_cache=False).last_hidden_state
        return chunked_linear_cross_entropy(hidden[batch.keep], fused[2].weight, batch.targets, precision.autocast_dtype or hidden.dtype)
    with _hidden_states_from_head(model) as head:
        with precision.autocast():
            out = model(
                input_ids=batch.input_ids,
                position_ids=batch.position_ids,
                attention_mask=batch.attention_mask,
                logits_to_keep=batch.keep,
                use_cache=False,
            )
    states = out.logits
    width = states.shape[-1]
    flat = states.reshape(-1, width)
    if flat.shape[0] != batch.targets.numel():  # pragma: no cover - a model ignoring logits_to_keep
        flat = states[batch.keep].reshape(-1, width)
    if head is None:
        return F.cross_entropy(flat.float(), batch.targets, reduction="sum")
    return chunked_linear_cross_entropy(flat, head.weight, batch.targets, precision.autocast_dtype or flat.dtype)
