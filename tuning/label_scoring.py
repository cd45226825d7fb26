"""Constrained decoding for closed label sets: score every label's log-likelihood given the prompt.

The answer is always a label (the most likely one), so a classifier is never scored on prose it
wrapped around its label. Each label is scored as the assistant's whole reply, end-of-turn
token included (so ``pos`` and ``positive`` differ), with the chat template the model was trained
with. The prompt is encoded once per item and its KV cache shared by every label (the labels of
one item are one batch); the start every prompt shares (the system prompt with its label list) is
computed once for the whole evaluation, so an item costs a pass over its own tokens plus one short
batched pass over the labels.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tuning.generate import Conversation, GenerationSettings, encode_prompts, with_system

if TYPE_CHECKING:  # pragma: no cover
    from tuning.models import LoadedModel


@dataclass
class LabelScores:
    """One item's label log-likelihoods and the chosen label."""

    label: str
    """The most likely label (ties: the earlier label)."""
    scores: dict[str, float]
    """label -> summed log-probability of the label reply (end of turn included)."""
    prompt_tokens: int
    seconds: float
    truncated_prompt: bool = False


def continuations(tokenizer, conversation: Conversation, labels: Sequence[str], settings: GenerationSettings) -> list[list[int]]:
    """Token ids of each label as the assistant's reply after ``conversation`` (through the end-of-turn marker)."""
    conv = with_system(conversation, settings.system_prompt)
    prompt = _ids(tokenizer.apply_chat_template(conv, add_generation_prompt=True, tokenize=True))
    out = []
    for label in labels:
        full = _ids(tokenizer.apply_chat_template([*conv, {"role": "assistant", "content": label}], tokenize=True))
        if full[: len(prompt)] == prompt and len(full) > len(prompt):
            cont = full[len(prompt) :]
            # drop what the template adds after the end-of-turn marker (a newline): it is not part of the reply
            from tuning.generate import stop_token_ids

            stops = set(stop_token_ids(tokenizer))
            end = next((i for i, t in enumerate(cont) if t in stops), None)
            out.append(cont[: end + 1] if end is not None else cont)
        else:
            ids = list(tokenizer(label, add_special_tokens=False)["input_ids"])
            out.append(ids + ([tokenizer.eos_token_id] if tokenizer.eos_token_id is not None else []))
    return out


def _cache_of(output) -> tuple[Any, str]:
    """(the KV cache of a forward pass, the keyword that passes it back): ``cache`` from transformers 5.x,
    ``past_key_values`` before. Read from the output class, so a PEFT wrapper's ``**kwargs`` forward does
    not hide the new name (the old one warns on every call)."""
    if "cache" in getattr(output, "__dataclass_fields__", {}):
        return output.cache, "cache"
    return output.past_key_values, "past_key_values"


def _ids(value) -> list[int]:
    if isinstance(value, dict) or hasattr(value, "keys"):
        value = value["input_ids"]
    return list(value)


MIN_SHARED_TOKENS = 16
"""A common prompt start shorter than this is recomputed per item (copying its cache would cost as much)."""


def _shared_prefix(model, prompts: Sequence[Sequence[int]], device) -> tuple[int, Any]:
    """(length, (KV cache, keyword)) of the token prefix every prompt shares, computed once; (0, None) when short.

    Classification prompts of one evaluation share the system prompt and its label list (most of each
    prompt), so each item then costs only its own few tokens plus the labels. At least one token of every
    prompt is left out of the prefix: its logits score the labels' first tokens.
    """
    import torch

    if len(prompts) < 2:
        return 0, None
    shared = min(len(p) for p in prompts) - 1
    first = prompts[0]
    for other in prompts[1:]:
        i = 0
        while i < shared and other[i] == first[i]:
            i += 1
        shared = i
        if shared < MIN_SHARED_TOKENS:
            return 0, None
    with torch.inference_mode():
        output = model(input_ids=torch.tensor([list(first[:shared])], device=device), use_cache=True)
    return shared, _cache_of(output)


def score_labels(
    loaded: "LoadedModel",
    conversations: Sequence[Conversation],
    labels: Sequence[str],
    settings: GenerationSettings | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> list[LabelScores]:
    """The log-likelihood of every label after each conversation; see the module docstring."""
    import torch

    if not labels:
        raise ValueError("score_labels needs at least one label")
    settings = settings or GenerationSettings()
    settings.validate()
    model, tokenizer = loaded.model, loaded.tokenizer
    device = next(model.parameters()).device
    prompts = encode_prompts(tokenizer, conversations, settings)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else (tokenizer.eos_token_id or 0)
    was_training = model.training
    model.eval()
    out: list[LabelScores] = []
    try:
        shared, shared_cache = _shared_prefix(model, [p for p, _ in prompts], device)
        for n, (conv, (prompt, truncated)) in enumerate(zip(conversations, prompts)):
            began = time.perf_counter()
            conts = continuations(tokenizer, conv, labels, settings)
            with torch.inference_mode():
                if shared_cache is not None:  # the prompt's common start (system prompt, label list) is not recomputed
                    first = model(input_ids=torch.tensor([prompt[shared:]], device=device), use_cache=True,
                                  **{shared_cache[1]: copy.deepcopy(shared_cache[0])})
                else:
                    first = model(input_ids=torch.tensor([prompt], device=device), use_cache=True)
                first_logp = torch.log_softmax(first.logits[0, -1].float(), dim=-1)
                totals = [float(first_logp[c[0]]) for c in conts]
                width = max(len(c) for c in conts) - 1
                if width > 0:
                    k = len(conts)
                    cache, keyword = _cache_of(first)
                    cache.batch_repeat_interleave(k)
                    ids = torch.full((k, width), pad_id, dtype=torch.long)
                    mask = torch.zeros((k, len(prompt) + width), dtype=torch.long)
                    mask[:, : len(prompt)] = 1
                    for row, c in enumerate(conts):
                        rest = c[:-1][:width]
                        ids[row, : len(rest)] = torch.tensor(rest, dtype=torch.long)
                        mask[row, len(prompt) : len(prompt) + len(rest)] = 1
                    logits = model(input_ids=ids.to(device), attention_mask=mask.to(device), use_cache=True, **{keyword: cache}).logits
                    logp = torch.log_softmax(logits.float(), dim=-1)
                    for row, c in enumerate(conts):
                        for t in range(1, len(c)):
                            totals[row] += float(logp[row, t - 1, c[t]])
            scores = dict(zip(labels, totals))
            best = max(range(len(labels)), key=lambda i: (totals[i], -i))
            out.append(LabelScores(labels[best], scores, len(prompt), time.perf_counter() - began, truncated))
            if progress is not None:
                progress(n + 1, len(conversations))
    finally:
        if was_training:
            model.train()
    return out
