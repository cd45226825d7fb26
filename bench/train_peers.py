"""The peers ``bench/bench_train.py`` races our LoRA engine against, one runner each.

- ``tutorial``: ``Trainer`` + peft as the tutorials write it (padded to 128, fp32, batch 8, LoRA dropout
  0.05, loss over prompt and response): the 5.8x baseline of issue 3.
- ``trainer-flat``: the strongest plain-``Trainer`` setup: ``DataCollatorWithFlattening`` (each batch one
  padding-free row, sequences kept apart by position ids), labels -100 on prompt tokens (response-only
  loss), bf16 autocast, LoRA dropout 0, as many examples per step as fill our token budget.
- ``trl``: TRL's ``SFTTrainer`` as its docs recommend for speed: prompt/completion data (completion-only
  loss), ``packing=True`` with best-fit decreasing rows of ``max_length``, ``padding_free=True``, bf16,
  LoRA through ``peft_config``; gradient checkpointing off (TRL turns it on by default, to save memory
  at the cost of speed; our engine does not checkpoint by default either).

Every runner trains one epoch over the same pairs and returns the real (non-padding) tokens it trained
on, wall and CPU seconds of ``trainer.train()`` alone, the load average around it and the trained model
(for the held-out loss, computed by the caller outside the timing). Needs the ``bench`` extra (TRL).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

LORA = {"r": 8, "lora_alpha": 16, "target_modules": ["q_proj", "v_proj"], "task_type": "CAUSAL_LM"}


def load_avg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def body_params(model) -> int:
    """Parameters of the transformer blocks (no embedding / LM head): 2 FLOPs each per token forward."""
    return sum(p.numel() for n, p in model.named_parameters() if ".layers." in n and "lora_" not in n)


def lora_config(dropout: float):
    from peft import LoraConfig

    return LoraConfig(lora_dropout=dropout, **LORA)


def training_args(cls, name: str, batch: int, lr: float, seed: int, warmup: float = 0.05, **extra):
    """The settings every peer shares (one epoch, cosine, 5% warm-up, no saving, CPU)."""
    return cls(
        output_dir=tempfile.mkdtemp(prefix=f"bench-{name}-"),
        per_device_train_batch_size=batch,
        num_train_epochs=1,
        learning_rate=lr,
        lr_scheduler_type="cosine",
        warmup_steps=warmup,  # a float below 1 is a ratio of the total steps
        logging_steps=5,
        save_strategy="no",
        report_to="none",
        use_cpu=True,
        seed=seed,
        disable_tqdm=True,
        **extra,
    )


def timed_train(trainer, tokenizer, real_tokens: int, slots: int, loss_tokens: int | None, **info) -> dict:
    """Run ``trainer.train()`` and measure it; the model stays in the result for the held-out loss."""
    load_before = load_avg()
    cpu_started = time.process_time()
    started = time.perf_counter()
    trainer.train()
    seconds = time.perf_counter() - started
    cpu_seconds = time.process_time() - cpu_started
    tokenizer.padding_side = "left"
    mixed = trainer.accelerator.mixed_precision  # what the Trainer actually ran under ("no", "bf16", ...)
    return {
        "model": trainer.model,
        "tokenizer": tokenizer,
        "real_tokens": real_tokens,
        "slots": slots,
        "loss_tokens": loss_tokens,
        "seconds": seconds,
        "tokens_per_s": real_tokens / seconds,
        "steps": trainer.state.global_step,
        "cpu_seconds": cpu_seconds,
        "tokens_per_cpu_s": real_tokens / cpu_seconds,
        "load_before": load_before,
        "load_after": load_avg(),
        "body_params": body_params(trainer.model),
        "precision": "fp32" if mixed == "no" else f"{mixed} autocast",
        "attention": getattr(trainer.model.config, "_attn_implementation", None),
        **info,
    }


def run_reference(ws, train_pairs, lr: float, seed: int, micro_batch_size: int = 4, max_length: int = 128) -> dict:
    """The tutorial: Trainer + peft, padded to 128, fp32, batch 8, loss over prompt and response."""
    from peft import get_peft_model
    from transformers import DataCollatorForLanguageModeling, Trainer, TrainingArguments

    from tuning.batches import format_pair
    from tuning.models import load_base_model

    loaded = load_base_model(None, ws)
    tok = loaded.tokenizer
    tok.padding_side = "right"
    texts = ["".join(format_pair(tok, p.input, p.output, None)) for p in train_pairs]
    enc = tok(texts, add_special_tokens=False, padding="max_length", truncation=True, max_length=max_length)
    dataset = [{"input_ids": i, "attention_mask": m} for i, m in zip(enc["input_ids"], enc["attention_mask"])]
    real_tokens = sum(sum(m) for m in enc["attention_mask"])
    model = get_peft_model(loaded.model, lora_config(0.05))
    args = training_args(TrainingArguments, "ref", 8, lr, seed, warmup=max(1, round(0.05 * len(train_pairs) / 8)))  # as session 2 ran it
    trainer = Trainer(model=model, args=args, train_dataset=dataset, data_collator=DataCollatorForLanguageModeling(tok, mlm=False))
    return timed_train(trainer, tok, real_tokens, len(dataset) * max_length, real_tokens, dropout=0.05, batch=8)


def run_trainer_flat(ws, train_pairs, lr: float, seed: int, micro_batch_size: int = 4, max_length: int = 128, compile: bool = False) -> dict:
    """Trainer + DataCollatorWithFlattening (padding-free), response-only labels, bf16, LoRA dropout 0.

    The batch holds as many examples as fill ``micro_batch_size * max_length`` tokens on average (our
    packed budget per step); the examples are the ones our engine trains on (``encode_examples``).
    """
    from peft import get_peft_model
    from transformers import DataCollatorWithFlattening, Trainer, TrainingArguments

    from tuning.batches import encode_examples
    from tuning.models import load_base_model

    loaded = load_base_model(None, ws)
    tok = loaded.tokenizer
    encoded, _ = encode_examples(tok, train_pairs, max_length)
    dataset = [{"input_ids": e.ids, "labels": [t if r else -100 for t, r in zip(e.ids, e.response)]} for e in encoded]
    real_tokens = sum(len(e.ids) for e in encoded)
    loss_tokens = sum(sum(e.response[1:]) for e in encoded)  # the collator masks each sequence's first label
    batch = max(1, round(micro_batch_size * max_length * len(encoded) / max(real_tokens, 1)))
    model = get_peft_model(loaded.model, lora_config(0.0))
    args = training_args(TrainingArguments, "flat", batch, lr, seed, bf16=True, torch_compile=compile)
    trainer = Trainer(model=model, args=args, train_dataset=dataset, data_collator=DataCollatorWithFlattening())
    return timed_train(trainer, tok, real_tokens, real_tokens, loss_tokens, dropout=0.0, batch=batch, compiled=compile)


def run_trainer_flat_compiled(ws, train_pairs, lr: float, seed: int, micro_batch_size: int = 4, max_length: int = 128) -> dict:
    """``run_trainer_flat`` with ``torch_compile=True`` (what its docs offer for speed); its flattened rows vary
    in length, so dynamo compiles for dynamic shapes. Compilation counts in its time (in round 1; later rounds
    of the same process reuse the compiled code)."""
    return run_trainer_flat(ws, train_pairs, lr, seed, micro_batch_size, max_length, compile=True)


def run_trl(ws, train_pairs, lr: float, seed: int, micro_batch_size: int = 4, max_length: int = 128) -> dict:
    """TRL SFTTrainer: prompt/completion pairs, best-fit packing into rows of ``max_length``, padding-free,
    completion-only loss, bf16, LoRA dropout 0; ``micro_batch_size`` packed rows per step (our budget).

    The pairs are formatted with our chat template (``format_pair``); TRL tokenizes them itself and
    appends its eos to each completion (one token per pair more than ours), so the real tokens are
    counted from the dataset it actually trains on.
    """
    from datasets import Dataset
    from trl import SFTConfig, SFTTrainer

    from tuning.batches import format_pair
    from tuning.models import load_base_model

    loaded = load_base_model(None, ws)
    tok = loaded.tokenizer
    rows = [dict(zip(("prompt", "completion"), format_pair(tok, p.input, p.output, None))) for p in train_pairs]
    args = training_args(
        SFTConfig, "trl", micro_batch_size, lr, seed,
        bf16=True, packing=True, packing_strategy="bfd", padding_free=True, completion_only_loss=True,
        max_length=max_length, gradient_checkpointing=False,
    )
    trainer = SFTTrainer(model=loaded.model, args=args, train_dataset=Dataset.from_list(rows), processing_class=tok, peft_config=lora_config(0.0))
    data = trainer.train_dataset
    real_tokens = sum(len(ids) for ids in data["input_ids"])
    loss_tokens = None
    if "labels" in data.column_names:
        loss_tokens = sum(sum(1 for t in labels if t != -100) for labels in data["labels"])
    return timed_train(trainer, tok, real_tokens, real_tokens, loss_tokens, dropout=0.0, batch=micro_batch_size, packed_rows=len(data))


PEERS = {"tutorial": run_reference, "trainer-flat": run_trainer_flat, "trainer-flat-compiled": run_trainer_flat_compiled, "trl": run_trl}
