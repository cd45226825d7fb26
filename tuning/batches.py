"""From (input, output) pairs to training batches: chat formatting, response-only loss, packing.

Each pair is formatted with the model's own chat template (system prompt configurable). The
prompt part (system + user + assistant header) is tokenized apart from the response part, so the
boundary is exact: only response tokens (the answer and the template's end-of-turn marker) carry
loss. Examples longer than ``max_length`` are cut from the right and *counted*; an example left
with no response token is dropped and counted too; nothing is silent.

Batch layouts (``TrainConfig.packing``):

- ``packed``: examples are bin-packed (best fit, longest first) into rows of at most
  ``max_length`` tokens, ``micro_batch_size`` rows per forward pass; ``position_ids`` restart at 0
  for every example (and for the few padding slots closing a row) and no attention mask is passed,
  so transformers builds a block-diagonal causal mask (FlashAttention's varlen path on GPU): no
  token attends across an example boundary. Rows of ``max_length`` rather than one long row keep
  attention cost per token bounded (it is quadratic in the row length; one 512-token row spent a
  third of a CPU step in attention), and best-fit packing leaves only a few per cent padding.
- ``padding_free``: exactly ``micro_batch_size`` examples concatenated into a single row (no padding).
- ``length_grouped``: examples of similar length padded together (2D attention mask).
- ``padded``: every row padded to ``max_length``, as the tutorials do (the slow reference).

Every layout also carries ``keep``: the positions whose *next* token is a response token. The
model projects only those hidden states to the vocabulary (``logits_to_keep``), which skips the
large LM-head matmul on prompt and padding positions; the loss is the mean over response tokens.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:  # pragma: no cover
    import torch


class PairLike(Protocol):
    input: str
    output: str


@dataclass
class Encoded:
    """One tokenized example: ids and, per position, whether that token is a response token."""

    ids: list[int]
    response: list[bool]
    truncated: bool = False


@dataclass
class EncodeReport:
    """What formatting did to the examples (recorded in the run record)."""

    examples: int = 0
    truncated: int = 0
    """Examples cut at max_length (they still train on what remains)."""
    dropped: int = 0
    """Examples with no response token left after the cut (not trained on)."""
    tokens: int = 0
    response_tokens: int = 0

    def to_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


@dataclass
class Batch:
    """One forward pass worth of tokens."""

    input_ids: "torch.Tensor"
    position_ids: "torch.Tensor"
    attention_mask: "torch.Tensor | None"
    keep: "torch.Tensor"
    """Bool (rows, width): positions whose next token is a response token (the loss positions)."""
    targets: "torch.Tensor"
    """The next tokens at the ``keep`` positions, flattened in row-major order."""
    real_tokens: int
    """Non-padding tokens (what tokens/s counts)."""
    examples: int
    slots: int = 0
    """rows * width: the tokens the model actually computes (padding included)."""

    @property
    def loss_tokens(self) -> int:
        return int(self.targets.numel())

    def to(self, device: Any) -> "Batch":
        if str(device) == "cpu":
            return self
        return Batch(
            input_ids=self.input_ids.to(device),
            position_ids=self.position_ids.to(device),
            attention_mask=None if self.attention_mask is None else self.attention_mask.to(device),
            keep=self.keep.to(device),
            targets=self.targets.to(device),
            real_tokens=self.real_tokens,
            examples=self.examples,
            slots=self.slots,
        )


def chat_messages(user: str, system_prompt: str | None, assistant: str | None = None) -> list[dict[str, str]]:
    messages = []
    if system_prompt:
        messages.append({"role": "system", "content": system_prompt})
    messages.append({"role": "user", "content": user})
    if assistant is not None:
        messages.append({"role": "assistant", "content": assistant})
    return messages


def format_pair(tokenizer, user: str, answer: str, system_prompt: str | None) -> tuple[str, str]:
    """(prompt text incl. the assistant header, response text incl. the end-of-turn marker)."""
    prompt = tokenizer.apply_chat_template(chat_messages(user, system_prompt), add_generation_prompt=True, tokenize=False)
    full = tokenizer.apply_chat_template(chat_messages(user, system_prompt, answer), tokenize=False)
    if not full.startswith(prompt):
        # Templates that rewrite earlier turns: fall back to prompt + answer + eos.
        return prompt, answer + (tokenizer.eos_token or "")
    return prompt, full[len(prompt):]


def encode_examples(
    tokenizer, examples: Iterable[PairLike], max_length: int, system_prompt: str | None = None
) -> tuple[list[Encoded], EncodeReport]:
    """Tokenize pairs into :class:`Encoded` examples; truncation and drops are counted."""
    items = list(examples)
    report = EncodeReport(examples=len(items))
    if not items:
        return [], report
    texts = [format_pair(tokenizer, str(e.input), str(e.output), system_prompt) for e in items]
    prompts = tokenizer([t[0] for t in texts], add_special_tokens=False)["input_ids"]
    responses = tokenizer([t[1] for t in texts], add_special_tokens=False)["input_ids"]
    out: list[Encoded] = []
    for p_ids, r_ids in zip(prompts, responses):
        ids = list(p_ids) + list(r_ids)
        response = [False] * len(p_ids) + [True] * len(r_ids)
        truncated = len(ids) > max_length
        if truncated:
            ids, response = ids[:max_length], response[:max_length]
            report.truncated += 1
        # The first token can never be a target (nothing predicts it), so require a response token after it.
        if not any(response[1:]):
            report.dropped += 1
            continue
        out.append(Encoded(ids, response, truncated))
        report.tokens += len(ids)
        report.response_tokens += sum(response)
    return out, report


def pack_rows(lengths: Sequence[int], capacity: int) -> list[list[int]]:
    """Best-fit-decreasing bin packing: positions of ``lengths`` grouped into rows of <= ``capacity``.

    Each row starts with the longest example left and is topped up with the longest ones that still
    fit, found by bisection over the distinct lengths, so packing 100k examples stays well under a
    second. Ties keep the given order (the caller shuffles it), so the packing is seeded, not fixed.
    """
    import bisect

    buckets: dict[int, list[int]] = {}
    for pos in reversed(range(len(lengths))):  # reversed: pop() then yields the given order
        buckets.setdefault(min(int(lengths[pos]), capacity), []).append(pos)
    sizes = sorted(buckets)
    rows: list[list[int]] = []

    def take(j: int) -> int:
        size = sizes[j]
        pos = buckets[size].pop()
        if not buckets[size]:
            del buckets[size]
            sizes.pop(j)
        return pos

    while sizes:
        space = capacity - sizes[-1]
        row = [take(len(sizes) - 1)]
        while sizes:
            j = bisect.bisect_right(sizes, space) - 1
            if j < 0:
                break
            space -= sizes[j]
            row.append(take(j))
        rows.append(row)
    return rows


def _split_rows(items: Sequence[Encoded], capacity: int) -> list[list[Encoded]]:
    """Consecutive examples into rows of <= ``capacity`` tokens (next fit; the order is kept)."""
    rows: list[list[Encoded]] = []
    used = capacity + 1
    for e in items:
        if used + len(e.ids) > capacity:
            rows.append([])
            used = 0
        rows[-1].append(e)
        used += len(e.ids)
    return rows


def group_examples(
    encoded: Sequence[Encoded], packing: str, micro_batch_size: int, max_length: int, seed: int, shuffle: bool = True
) -> list[list[int]]:
    """Indices of the examples in each micro-batch, in training order (deterministic for a seed)."""
    order = list(range(len(encoded)))
    rng = random.Random(seed)
    if shuffle:
        rng.shuffle(order)
    groups: list[list[int]] = []
    if packing == "packed":
        rows = pack_rows([len(encoded[i].ids) for i in order], max_length)
        rows = [[order[j] for j in row] for row in rows]
        if shuffle:
            rng.shuffle(rows)
        # A micro-batch is its rows' examples in row order; collate() splits them back into rows.
        groups = [[i for row in rows[k : k + micro_batch_size] for i in row] for k in range(0, len(rows), micro_batch_size)]
    elif packing == "length_grouped":
        # Sort within windows of 50 micro-batches, so rows have similar lengths but the order stays random.
        window = micro_batch_size * 50
        for s in range(0, len(order), window):
            chunk = sorted(order[s : s + window], key=lambda i: len(encoded[i].ids))
            groups.extend(chunk[k : k + micro_batch_size] for k in range(0, len(chunk), micro_batch_size))
        if shuffle:
            rng.shuffle(groups)
    else:  # padding_free, padded
        groups = [order[k : k + micro_batch_size] for k in range(0, len(order), micro_batch_size)]
    return groups


def collate(encoded: Sequence[Encoded], indices: Sequence[int], packing: str, max_length: int, pad_id: int) -> Batch:
    """Build the tensors of one micro-batch in the given layout."""
    import torch

    items = [encoded[i] for i in indices]
    real = sum(len(e.ids) for e in items)
    if packing == "packed":
        return _collate_rows(_split_rows(items, max_length), pad_id, real)
    if packing == "padding_free":
        return _collate_rows([items], pad_id, real)  # one row, no padding
    width = max_length if packing == "padded" else max(len(e.ids) for e in items)
    rows = len(items)
    input_ids = torch.full((rows, width), pad_id, dtype=torch.long)
    attention = torch.zeros((rows, width), dtype=torch.long)
    keep_t = torch.zeros((rows, width), dtype=torch.bool)
    for r, e in enumerate(items):
        n = len(e.ids)
        input_ids[r, :n] = torch.tensor(e.ids, dtype=torch.long)  # right padding for training
        attention[r, :n] = 1
        keep_t[r, : n - 1] = torch.tensor(e.response[1:], dtype=torch.bool)
    position_ids = torch.arange(width, dtype=torch.long).unsqueeze(0).expand(rows, -1).contiguous()
    targets = input_ids[:, 1:][keep_t[:, :-1]]
    return Batch(input_ids, position_ids, attention, keep_t, targets, real, rows, slots=rows * width)


def _collate_rows(rows: list[list[Encoded]], pad_id: int, real: int) -> Batch:
    """Rows of concatenated examples, right-padded to the longest row.

    Positions restart at 0 for each example and for the padding run closing a row, so the
    block-diagonal mask transformers derives from ``position_ids`` keeps every example (and the
    padding) to itself; padding carries no loss.
    """
    import torch

    width = max(sum(len(e.ids) for e in row) for row in rows)
    input_ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    position_ids = torch.zeros((len(rows), width), dtype=torch.long)
    keep_t = torch.zeros((len(rows), width), dtype=torch.bool)
    examples = 0
    for r, row in enumerate(rows):
        col = 0
        for e in row:
            n = len(e.ids)
            input_ids[r, col : col + n] = torch.tensor(e.ids, dtype=torch.long)
            position_ids[r, col : col + n] = torch.arange(n)
            keep_t[r, col : col + n - 1] = torch.tensor(e.response[1:], dtype=torch.bool)
            col += n
            examples += 1
        position_ids[r, col:] = torch.arange(width - col)
    targets = input_ids[:, 1:][keep_t[:, :-1]]
    return Batch(input_ids, position_ids, None, keep_t, targets, real, examples, slots=len(rows) * width)


@dataclass
class BatchPlan:
    """Micro-batches of one epoch, grouped into optimizer steps."""

    steps: list[list[list[int]]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.steps)


def plan_epoch(encoded: Sequence[Encoded], packing: str, micro_batch_size: int, max_length: int, grad_accumulation: int, seed: int) -> BatchPlan:
    groups = group_examples(encoded, packing, micro_batch_size, max_length, seed)
    steps = [groups[k : k + grad_accumulation] for k in range(0, len(groups), grad_accumulation)]
    return BatchPlan(steps)
