"""The training loop: LoRA / DoRA / QLoRA / full fine-tuning of a causal LM on (input, output) pairs.

Why hand-written rather than transformers ``Trainer`` / TRL ``SFTTrainer``: the speed target
(>= 5x the tutorial ``Trainer`` setup in real tokens/s on a 2-core CPU, bench/bench_train.py)
needs three things at once that the stock loop does not combine here: packed rows with
per-example ``position_ids`` (no padding compute), logits only at response positions (the
49k-vocabulary LM head is ~20% of SmolLM2's FLOPs and prompts are most tokens), and bf16
autocast on CPU. TRL is not installed here and ``Trainer`` computes logits at every position.
The loop is small; peft does the adapters, transformers the attention masking.

``train(...)`` writes, under the workspace:

- ``runs/<name>/checkpoint/`` while running (every ``save_every`` steps; removed on success):
  trainable weights (safetensors) and optimizer/scheduler/RNG state (``torch.load(weights_only=True)``).
  Calling ``train`` again with the same name and config resumes from it.
- ``adapters/<name>/``: the PEFT adapter (or full weights) and ``metadata.json`` (see adapters.py).
- ``runs/<name>/record.json``: the run record.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.atomic import atomic_directory, atomic_write_json
from core.config import from_dict, to_dict
from core.errors import TrainingError
from core.workspace import Workspace, safe_name
from tuning.batches import Batch, Encoded, collate, encode_examples, group_examples, plan_epoch
from tuning.config import TrainConfig
from tuning.device import choose_attention, choose_precision, oom_as_error, peak_memory_mb, reset_peak_memory, resolve_device, seed_everything

if TYPE_CHECKING:  # pragma: no cover
    from tuning.models import LoadedModel

log = logging.getLogger(__name__)

EvalCallback = Callable[[int, float, int], None]
"""on_eval(step, eval_loss, tokens_seen); raising stops the run (the sweep pruner uses this)."""
ProgressCallback = Callable[["Progress"], None]


@dataclass
class Progress:
    """What a progress bar shows after each optimizer step."""

    step: int
    total_steps: int
    loss: float
    tokens_per_s: float
    tokens_seen: int
    eval_loss: float | None = None


@dataclass
class TrainResult:
    """Where the trained weights are and what happened."""

    adapter_dir: Path
    record: dict[str, Any]


def _config_fingerprint(config: TrainConfig) -> str:
    # Fields that may change between a kill and a resume without changing the run.
    data = {k: v for k, v in to_dict(config).items() if k not in {"threads", "device", "eval_every", "save_every", "attention"}}
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


def wrap_model(loaded: "LoadedModel", config: TrainConfig):
    """Apply the method (peft adapter or full fine-tuning) to the loaded base model; returns the model to train."""
    model = loaded.model
    if config.method == "full":
        for p in model.parameters():
            p.requires_grad_(True)
        if config.gradient_checkpointing:
            model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        return model
    from peft import LoraConfig, get_peft_model

    if config.method == "qlora":
        from peft import prepare_model_for_kbit_training

        # bitsandbytes repacks 4-bit weights for a CPU inference kernel the first time a layer runs in
        # eval mode without gradients (our validation passes); the repacked layout has no autograd
        # kernel, so later training steps would backpropagate through it wrongly. Keep the training layout.
        for module in model.modules():
            if hasattr(module, "support_avx512bf16_for_cpu"):
                module.support_avx512bf16_for_cpu = False

        model = prepare_model_for_kbit_training(
            model,
            use_gradient_checkpointing=config.gradient_checkpointing,
            gradient_checkpointing_kwargs={"use_reentrant": False},
        )
    elif config.gradient_checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    targets = config.target_modules if isinstance(config.target_modules, str) else list(config.target_modules)
    lora = LoraConfig(
        r=config.rank,
        lora_alpha=config.alpha,
        lora_dropout=config.dropout,
        target_modules=targets,
        use_dora=config.method == "dora",
        task_type="CAUSAL_LM",
        bias="none",
    )
    try:
        return get_peft_model(model, lora)
    except ValueError as exc:
        raise TrainingError(f"Cannot attach LoRA to {loaded.name}: {exc}. Check `target_modules` (e.g. [q_proj, v_proj] or all-linear).") from exc


def _set_attention(model, implementation: str) -> None:
    """Switch the attention kernel of a loaded model (models that cannot switch keep theirs, logged)."""
    current = getattr(model.config, "_attn_implementation", None)
    if current == implementation or not hasattr(model, "set_attn_implementation"):
        return
    try:
        model.set_attn_implementation(implementation)
    except (ValueError, ImportError) as exc:  # pragma: no cover - model-specific
        log.warning("Keeping %s attention (cannot switch to %s: %s)", current, implementation, exc)


def forward_loss(model, batch: Batch, precision) -> "Any":
    """Sum of cross-entropy over the batch's response tokens (logits computed only there)."""
    import torch.nn.functional as F

    with precision.autocast():
        out = model(
            input_ids=batch.input_ids,
            position_ids=batch.position_ids,
            attention_mask=batch.attention_mask,
            logits_to_keep=batch.keep,
            use_cache=False,
        )
    logits = out.logits.reshape(-1, out.logits.shape[-1])
    if logits.shape[0] != batch.targets.numel():  # pragma: no cover - a model ignoring logits_to_keep
        logits = out.logits[batch.keep].reshape(-1, out.logits.shape[-1])
    return F.cross_entropy(logits.float(), batch.targets, reduction="sum")


def evaluate_loss(model, encoded: Sequence[Encoded], config: TrainConfig, precision, device: str, pad_id: int) -> float:
    """Mean response-token cross-entropy over ``encoded`` (no dropout, no gradients)."""
    import torch

    if not encoded:
        return float("nan")
    packing = config.packing if config.packing != "padded" else "length_grouped"
    groups = group_examples(encoded, packing, config.micro_batch_size, config.max_length, seed=0, shuffle=False)
    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    try:
        with torch.no_grad():
            for g in groups:
                batch = collate(encoded, g, packing, config.max_length, pad_id).to(device)
                total += float(forward_loss(model, batch, precision))
                count += batch.loss_tokens
    finally:
        if was_training:
            model.train()
    return total / max(count, 1)


def _lr_lambda(config: TrainConfig, total_steps: int) -> Callable[[int], float]:
    warmup = int(round(config.warmup_ratio * total_steps))

    def fn(step: int) -> float:
        if warmup and step < warmup:
            return (step + 1) / warmup
        if config.lr_scheduler == "constant":
            return 1.0
        progress = (step - warmup) / max(1, total_steps - warmup)
        if config.lr_scheduler == "linear":
            return max(0.0, 1.0 - progress)
        return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))

    return fn


def _trainable_state(model) -> dict[str, Any]:
    return {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}


def _load_trainable(model, state: dict[str, Any]) -> None:
    import torch

    params = dict(model.named_parameters())
    missing = [n for n in state if n not in params]
    if missing:
        raise TrainingError(f"Checkpoint does not match the model ({len(missing)} unknown tensors, e.g. {missing[0]}).")
    with torch.no_grad():
        for n, t in state.items():
            params[n].copy_(t)


class _Checkpoint:
    """Resumable training state in ``runs/<name>/checkpoint`` (safetensors + weights-only torch file)."""

    def __init__(self, run_dir: Path) -> None:
        self.dir = run_dir / "checkpoint"

    def exists(self) -> bool:
        return (self.dir / "state.pt").is_file() and (self.dir / "trainable.safetensors").is_file()

    def save(self, model, optimizer, scheduler, scaler, state: dict[str, Any], best: dict[str, Any] | None) -> None:
        import torch
        from safetensors.torch import save_file

        with atomic_directory(self.dir) as tmp:
            save_file({n: t.contiguous() for n, t in _trainable_state(model).items()}, str(tmp / "trainable.safetensors"))
            if best is not None:
                save_file({n: t.contiguous() for n, t in best.items()}, str(tmp / "best.safetensors"))
            payload = {
                "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(),
                "scaler": scaler.state_dict() if scaler is not None else None,
                "rng_torch": torch.get_rng_state(),
                "rng_cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
                "state": json.dumps(state),
            }
            torch.save(payload, tmp / "state.pt")

    def load(self, model, optimizer, scheduler, scaler, fingerprint: str) -> tuple[dict[str, Any], dict[str, Any] | None]:
        import torch
        from safetensors.torch import load_file

        try:
            payload = torch.load(self.dir / "state.pt", weights_only=True, map_location="cpu")
        except (OSError, RuntimeError, ValueError) as exc:
            raise TrainingError(f"Checkpoint {self.dir} is unreadable ({exc}); delete it to start the run over.") from exc
        state = json.loads(payload["state"])
        if state.get("fingerprint") != fingerprint:
            raise TrainingError(
                f"A checkpoint of a different configuration exists at {self.dir}. "
                "Use another --name, or delete that folder to start over."
            )
        try:
            _load_trainable(model, load_file(str(self.dir / "trainable.safetensors")))
        except (OSError, RuntimeError, ValueError) as exc:
            raise TrainingError(f"Checkpoint {self.dir} is unreadable ({exc}); delete it to start the run over.") from exc
        optimizer.load_state_dict(payload["optimizer"])
        scheduler.load_state_dict(payload["scheduler"])
        if scaler is not None and payload.get("scaler"):
            scaler.load_state_dict(payload["scaler"])
        torch.set_rng_state(payload["rng_torch"])
        if payload.get("rng_cuda") and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(payload["rng_cuda"])
        best_path = self.dir / "best.safetensors"
        best = load_file(str(best_path)) if best_path.is_file() else None
        return state, best

    def remove(self) -> None:
        import shutil

        shutil.rmtree(self.dir, ignore_errors=True)


def train(
    config: TrainConfig,
    train_examples: Sequence[Any],
    val_examples: Sequence[Any],
    workspace: Workspace,
    name: str,
    on_eval: EvalCallback | None = None,
    progress: ProgressCallback | None = None,
    *,
    data_version: str | None = None,
    resume: bool = True,
    loaded: "LoadedModel | None" = None,
) -> TrainResult:
    """Fine-tune ``config.model`` on ``train_examples`` (objects with ``.input`` and ``.output``).

    Validation loss is computed every ``config.eval_every`` steps and passed to ``on_eval``; if
    ``on_eval`` raises, nothing more is saved and the exception propagates. ``loaded`` lets a
    caller pass an already loaded base model (it is modified in place).
    """
    import torch

    config = from_dict(TrainConfig, to_dict(config))  # validated, with canonical types (alpha: 16 -> 16.0)
    safe_name(name)
    wall_started = time.perf_counter()
    device = resolve_device(config.device)
    precision = choose_precision(config.precision, device)
    if config.threads:
        torch.set_num_threads(config.threads)
    seed_everything(config.seed)
    run_dir = workspace.path("runs", name)
    adapter_dir = workspace.path("adapters", name)
    checkpoint = _Checkpoint(run_dir)

    if loaded is None:
        from tuning.models import load_base_model

        # A frozen base needs no fp32 master copy: holding it in bf16 saves autocast from re-casting
        # every weight in every forward and backward pass (~30% of a CPU step). Adapters stay fp32.
        frozen_bf16 = precision.name == "bf16" and config.method in ("lora", "dora")
        loaded = load_base_model(
            config.model,
            workspace,
            dtype="bfloat16" if frozen_bf16 else "float32",
            device=device,
            quantization="nf4" if config.method == "qlora" else None,
        )
    _set_attention(loaded.model, choose_attention(config.attention, device))
    tokenizer = loaded.tokenizer
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    train_enc, train_report = encode_examples(tokenizer, train_examples, config.max_length, config.system_prompt)
    val_enc, val_report = encode_examples(tokenizer, list(val_examples)[: config.eval_examples], config.max_length, config.system_prompt)
    if not train_enc:
        raise TrainingError(f"No trainable examples: {train_report.examples} given, {train_report.dropped} dropped (no response token within max_length={config.max_length}).")
    if train_report.truncated:
        log.warning("%d of %d training examples were longer than max_length=%d and were cut.", train_report.truncated, train_report.examples, config.max_length)

    # The whole schedule, deterministic for the seed: resuming only needs the step index.
    epoch_plans = [plan_epoch(train_enc, config.packing, config.micro_batch_size, config.max_length, config.grad_accumulation, config.seed)]
    steps_per_epoch = len(epoch_plans[0])
    total_steps = config.max_steps if config.max_steps is not None else max(1, int(round(config.epochs * steps_per_epoch)))
    schedule: list[list[list[int]]] = []
    epoch = 0
    while len(schedule) < total_steps:
        if epoch >= len(epoch_plans):
            epoch_plans.append(plan_epoch(train_enc, config.packing, config.micro_batch_size, config.max_length, config.grad_accumulation, config.seed + epoch))
        schedule.extend(epoch_plans[epoch].steps)
        epoch += 1
    schedule = schedule[:total_steps]

    seed_everything(config.seed)  # adapter initialisation does not depend on how the data was planned
    model = wrap_model(loaded, config)
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    n_trainable = sum(p.numel() for p in params)
    n_total = sum(p.numel() for p in model.parameters())
    optimizer = torch.optim.AdamW(params, lr=config.learning_rate, weight_decay=config.weight_decay)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, _lr_lambda(config, total_steps))
    scaler = torch.amp.GradScaler("cuda") if precision.use_scaler else None

    fingerprint = _config_fingerprint(config)
    state: dict[str, Any] = {
        "step": 0,
        "tokens_seen": 0,
        "loss_tokens_seen": 0,
        "slots_seen": 0,
        "train_seconds": 0.0,
        "best_eval_loss": None,
        "best_step": None,
        "evals_since_best": 0,
        "history": [],
        "train_losses": [],
        "fingerprint": fingerprint,
        "resumed_from": [],
    }
    best_weights: dict[str, Any] | None = None
    if resume and checkpoint.exists():
        state, best_weights = checkpoint.load(model, optimizer, scheduler, scaler, fingerprint)
        state["resumed_from"] = [*state.get("resumed_from", []), state["step"]]
        log.info("Resuming run %s from step %d", name, state["step"])
    elif checkpoint.exists():
        checkpoint.remove()

    def run_eval(step: int) -> float | None:
        nonlocal best_weights
        if not val_enc:
            return None
        eval_loss = evaluate_loss(model, val_enc, config, precision, device, pad_id)
        state["history"].append({"step": step, "eval_loss": eval_loss, "tokens_seen": state["tokens_seen"]})
        if state["best_eval_loss"] is None or eval_loss < state["best_eval_loss"]:
            state["best_eval_loss"], state["best_step"], state["evals_since_best"] = eval_loss, step, 0
            if config.keep_best:
                best_weights = _trainable_state(model)
        else:
            state["evals_since_best"] += 1
        if on_eval is not None:
            on_eval(step, eval_loss, state["tokens_seen"])
        return eval_loss

    reset_peak_memory(device)
    session_tokens, session_seconds = 0, 0.0
    stopped_early = False
    last_eval_step = state["history"][-1]["step"] if state["history"] else None
    with oom_as_error(config):
        while state["step"] < total_steps:
            step_groups = schedule[state["step"]]
            began = time.perf_counter()
            batches = [collate(train_enc, g, config.packing, config.max_length, pad_id) for g in step_groups]
            loss_tokens = sum(b.loss_tokens for b in batches)
            step_loss = 0.0
            for batch in batches:
                batch = batch.to(device)
                loss = forward_loss(model, batch, precision) / max(loss_tokens, 1)
                if scaler is not None:
                    scaler.scale(loss).backward()
                else:
                    loss.backward()
                step_loss += float(loss.detach())
            if scaler is not None:
                scaler.unscale_(optimizer)
            if config.max_grad_norm > 0:
                torch.nn.utils.clip_grad_norm_(params, config.max_grad_norm)
            if scaler is not None:
                scaler.step(optimizer)
                scaler.update()
            else:
                optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            elapsed = time.perf_counter() - began
            real = sum(b.real_tokens for b in batches)
            state["step"] += 1
            state["tokens_seen"] += real
            state["loss_tokens_seen"] += loss_tokens
            state["slots_seen"] += sum(b.slots for b in batches)
            state["train_seconds"] += elapsed
            state["train_losses"].append(round(step_loss, 5))
            session_tokens += real
            session_seconds += elapsed
            step = state["step"]
            eval_loss = None
            if config.eval_every and step % config.eval_every == 0 and step < total_steps:
                eval_loss = run_eval(step)
                last_eval_step = step
                if config.early_stopping_patience and state["evals_since_best"] >= config.early_stopping_patience:
                    stopped_early = True
            if progress is not None:
                progress(Progress(step, total_steps, step_loss, session_tokens / max(session_seconds, 1e-9), state["tokens_seen"], eval_loss))
            if config.save_every and step % config.save_every == 0 and step < total_steps and not stopped_early:
                checkpoint.save(model, optimizer, scheduler, scaler, state, best_weights)
            if stopped_early:
                log.info("Early stopping at step %d (best eval loss %.4f at step %s)", step, state["best_eval_loss"], state["best_step"])
                break
        if last_eval_step != state["step"] and not stopped_early:
            run_eval(state["step"])

    final_eval = state["history"][-1]["eval_loss"] if state["history"] else None
    used_best = False
    if config.keep_best and best_weights is not None and state["best_step"] != state["step"]:
        _load_trainable(model, best_weights)
        used_best = True
    tail = state["train_losses"][-10:]
    record: dict[str, Any] = {
        "name": name,
        "kind": "full" if config.method == "full" else "adapter",
        "config": to_dict(config),
        "data_version": data_version,
        "base_model": {"name": loaded.name, "path": loaded.path},
        "device": device,
        "precision": precision.name,
        "attention": getattr(loaded.model.config, "_attn_implementation", None),
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "train_data": train_report.to_dict(),
        "validation_data": val_report.to_dict(),
        "steps": state["step"],
        "total_steps": total_steps,
        "steps_per_epoch": steps_per_epoch,
        "epochs_completed": state["step"] / max(steps_per_epoch, 1),
        "tokens_seen": state["tokens_seen"],
        "loss_tokens_seen": state["loss_tokens_seen"],
        "slots_seen": state["slots_seen"],
        "padding_fraction": 1 - state["tokens_seen"] / max(state["slots_seen"], 1),
        "tokens_per_s": state["tokens_seen"] / max(state["train_seconds"], 1e-9),
        "train_seconds": state["train_seconds"],
        "wall_seconds": time.perf_counter() - wall_started,
        "peak_memory_mb": peak_memory_mb(device),
        "trainable_params": n_trainable,
        "total_params": n_total,
        "final_train_loss": sum(tail) / len(tail) if tail else None,
        "first_train_loss": state["train_losses"][0] if state["train_losses"] else None,
        "final_eval_loss": final_eval,
        "best_eval_loss": state["best_eval_loss"],
        "best_step": state["best_step"],
        "weights_from_step": state["best_step"] if used_best else state["step"],
        "stopped_early": stopped_early,
        "resumed_from": state["resumed_from"],
        "eval_history": state["history"],
        "train_loss_history": state["train_losses"],
        "adapter_dir": str(adapter_dir),
        "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    from tuning.adapters import save_trained

    save_trained(model, loaded, config, adapter_dir, record)
    atomic_write_json(run_dir / "record.json", record)
    checkpoint.remove()
    return TrainResult(adapter_dir=adapter_dir, record=record)
