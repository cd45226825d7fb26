"""Batched generation for evaluation: greedy, left-padded, KV cache, stop at the chat end token.

One function serves the base model, a model with a LoRA adapter, and RAG prompts: callers pass
chat conversations (lists of ``{"role", "content"}``) and get text back, with token counts and
time per item, so the evaluation contract can report latency and prompt cost.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from core.config import Problems

if TYPE_CHECKING:  # pragma: no cover
    from tuning.models import LoadedModel

Message = dict[str, str]
Conversation = list[Message]
ProgressFn = Callable[[int, int], None]


@dataclass
class GenerationSettings:
    """Generation settings: part of the frozen evaluation contract (every system uses the same)."""

    max_new_tokens: int = 64
    """Upper bound on generated tokens per answer."""
    batch_size: int = 16
    """Prompts decoded together (sorted by length to keep padding small)."""
    max_prompt_tokens: int = 1536
    """Longer prompts are cut from the left (the question at the end is kept)."""
    system_prompt: str | None = None
    """Prepended as a system message where a conversation has none (None: the template's default)."""
    stop_after_json: bool = False
    """Stop an answer once its first JSON object or array is closed (structured tasks; the evaluation sets it)."""

    def validate(self) -> None:
        problems = Problems("GenerationSettings")
        problems.check(self.max_new_tokens >= 1, f"`max_new_tokens >= 1` must hold, but got {self.max_new_tokens}")
        problems.check(self.batch_size >= 1, f"`batch_size >= 1` must hold, but got {self.batch_size}")
        problems.check(self.max_prompt_tokens >= 8, f"`max_prompt_tokens >= 8` must hold, but got {self.max_prompt_tokens}")
        problems.raise_if_any()


@dataclass
class Generation:
    """One generated answer with its cost."""

    text: str
    prompt_tokens: int
    completion_tokens: int
    seconds: float
    """Wall time of the batch this item was in, divided by the batch size."""
    truncated_prompt: bool = False


def with_system(conversation: Conversation, system_prompt: str | None) -> Conversation:
    """Add a system message when one is configured and the conversation has none."""
    if system_prompt and not (conversation and conversation[0].get("role") == "system"):
        return [{"role": "system", "content": system_prompt}, *conversation]
    return list(conversation)


def encode_prompts(tokenizer, conversations: Sequence[Conversation], settings: GenerationSettings) -> list[tuple[list[int], bool]]:
    """Chat-template each conversation (with the generation prompt) into token ids."""
    out = []
    for conv in conversations:
        ids = tokenizer.apply_chat_template(
            with_system(conv, settings.system_prompt), add_generation_prompt=True, tokenize=True
        )
        if isinstance(ids, dict) or hasattr(ids, "keys"):
            ids = ids["input_ids"]
        ids = list(ids)
        truncated = len(ids) > settings.max_prompt_tokens
        if truncated:
            ids = ids[-settings.max_prompt_tokens :]
        out.append((ids, truncated))
    return out


def json_closed(text: str) -> bool:
    """True once ``text`` holds a complete JSON object or array (braces balanced outside strings after the first opener)."""
    depth = 0
    opened = in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
            continue
        if ch == '"' and opened:
            in_string = True
        elif ch in "{[":
            depth += 1
            opened = True
        elif ch in "}]" and opened:
            depth -= 1
            if depth == 0:
                return True
    return False


class _JsonEnd:
    """A transformers stopping criterion: a row is done when its new text closes its first JSON value."""

    def __init__(self, tokenizer, width: int) -> None:
        self.tokenizer, self.width = tokenizer, width

    def __call__(self, input_ids, scores, **kwargs):
        import torch

        done = [json_closed(self.tokenizer.decode(row[self.width :].tolist(), skip_special_tokens=True)) for row in input_ids]
        return torch.tensor(done, dtype=torch.bool, device=input_ids.device)


def stop_token_ids(tokenizer) -> list[int]:
    """End-of-turn tokens: the tokenizer's eos plus the chat template's end marker where known."""
    ids = {tokenizer.eos_token_id} if tokenizer.eos_token_id is not None else set()
    for marker in ("<|im_end|>", "<|eot_id|>", "<|end|>", "</s>"):
        tid = tokenizer.convert_tokens_to_ids(marker)
        if isinstance(tid, int) and tid >= 0 and tid != tokenizer.unk_token_id:
            ids.add(tid)
    return sorted(ids)


def generate(
    loaded: "LoadedModel",
    conversations: Sequence[Conversation],
    settings: GenerationSettings | None = None,
    progress: ProgressFn | None = None,
) -> list[Generation]:
    """Greedy-decode every conversation in length-sorted batches; results keep the input order."""
    import torch

    settings = settings or GenerationSettings()
    settings.validate()
    model, tokenizer = loaded.model, loaded.tokenizer
    encoded = encode_prompts(tokenizer, conversations, settings)
    order = sorted(range(len(encoded)), key=lambda i: len(encoded[i][0]), reverse=True)
    results: list[Generation | None] = [None] * len(encoded)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    stops = stop_token_ids(tokenizer)
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    done = 0
    try:
        for start in range(0, len(order), settings.batch_size):
            batch = order[start : start + settings.batch_size]
            width = max(len(encoded[i][0]) for i in batch)
            input_ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
            attention = torch.zeros((len(batch), width), dtype=torch.long)
            for row, i in enumerate(batch):
                ids = encoded[i][0]
                input_ids[row, width - len(ids) :] = torch.tensor(ids, dtype=torch.long)
                attention[row, width - len(ids) :] = 1
            began = time.perf_counter()
            extra = {}
            if settings.stop_after_json:
                from transformers import StoppingCriteriaList

                extra["stopping_criteria"] = StoppingCriteriaList([_JsonEnd(tokenizer, width)])
            with torch.inference_mode():
                out = model.generate(
                    input_ids=input_ids.to(device),
                    attention_mask=attention.to(device),
                    max_new_tokens=settings.max_new_tokens,
                    do_sample=False,
                    num_beams=1,
                    use_cache=True,
                    eos_token_id=stops,
                    pad_token_id=pad_id,
                    **extra,
                )
            per_item = (time.perf_counter() - began) / len(batch)
            for row, i in enumerate(batch):
                new = out[row, width:].tolist()
                cut = next((k for k, t in enumerate(new) if t in stops), len(new))
                new = new[:cut]
                results[i] = Generation(
                    text=tokenizer.decode(new, skip_special_tokens=True).strip(),
                    prompt_tokens=len(encoded[i][0]),
                    completion_tokens=len(new),
                    seconds=per_item,
                    truncated_prompt=encoded[i][1],
                )
            done += len(batch)
            if progress is not None:
                progress(done, len(order))
    finally:
        if was_training:
            model.train()
    return [r for r in results if r is not None]
