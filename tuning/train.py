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
- ``runs/<name>/record.json``: the run record (:class:`tuning.record.TrainRecord`).

``train`` is a loop over named steps (prepare, start or resume, optimizer step, evaluate, report,
checkpoint, finish) that share one typed :class:`tuning.record.TrainState` (what a checkpoint saves)
and one :class:`_Run` (what stays fixed while training).
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.atomic import atomic_write_json
from core.config import from_dict, to_dict
from core.errors import TrainingError
from core.workspace import Workspace, safe_name
from tuning.batches import Encoded, EncodeReport, collate, encode_examples, group_examples, plan_epoch
from tuning.checkpoint import Checkpoint, config_fingerprint, load_trainable, trainable_state
from tuning.config import TrainConfig
from tuning.loss import forward_loss, head_fusable
from tuning.distributed import Dist, check_layout, local_share, process_device, session, wrap_ddp
from tuning.device import choose_attention, choose_precision, oom_as_error, peak_memory_mb, release_memory, reset_peak_memory, resolve_device, seed_everything
from tuning.record import BaseModelRef, EvalPoint, Progress, TrainRecord, TrainResult, TrainState
from tuning.static_graph import CompileChoice, choose_compile, compiled_decoder, padding_batch, static_batch, warm_up

if TYPE_CHECKING:  # pragma: no cover
    from tuning.models import LoadedModel

__all__ = ["EvalCallback", "Progress", "ProgressCallback", "TrainRecord", "TrainResult", "evaluate_loss", "forward_loss", "train", "wrap_model"]

log = logging.getLogger(__name__)

EvalCallback = Callable[[int, float, int], None]
"""on_eval(step, eval_loss, tokens_seen); raising stops the run (the sweep pruner uses this)."""
ProgressCallback = Callable[[Progress], None]


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


def evaluate_loss(model, encoded: Sequence[Encoded], config: TrainConfig, precision, device: str, pad_id: int, dist: Dist | None = None) -> float:
    """Mean response-token cross-entropy over ``encoded`` (no dropout, no gradients); under torchrun each
    process scores its share of the micro-batches and the sums are added up."""
    import torch

    if not encoded:
        return float("nan")
    dist = dist or Dist()
    packing = config.packing if config.packing != "padded" else "length_grouped"
    groups = local_share(group_examples(encoded, packing, config.micro_batch_size, config.max_length, seed=0, shuffle=False), dist)
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
    total, count = dist.sum([total, count])
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


@dataclass
class _Run:
    """What a run holds while it trains: built once by :func:`_prepare`; only the best weights and this
    process's throughput counters change."""

    config: TrainConfig
    name: str
    device: str
    dist: Dist
    precision: Any
    loaded: "LoadedModel"
    model: Any
    """The trainable model (peft or full); what is saved and evaluated."""
    ddp: Any
    """What training steps call: ``model`` itself, or its DistributedDataParallel wrapper under torchrun."""
    params: list[Any]
    optimizer: Any
    scheduler: Any
    scaler: Any
    train_enc: list[Encoded]
    val_enc: list[Encoded]
    train_report: EncodeReport
    val_report: EncodeReport
    pad_id: int
    schedule: list[list[list[int]]]
    """Per optimizer step, the example indices of each micro-batch (deterministic for the seed)."""
    steps_per_epoch: int
    run_dir: Path
    adapter_dir: Path
    checkpoint: Checkpoint
    on_eval: EvalCallback | None
    progress: ProgressCallback | None
    wall_started: float
    compile_choice: CompileChoice
    """Whether ``compile`` applies to this run and why; becomes "compiling failed" when ``auto`` falls back."""
    decoder: Any = None
    """The compiled decoder stack the training step calls (None: the eager model)."""
    compile_seconds: float = 0.0
    best_weights: dict[str, Any] | None = None
    session_tokens: int = 0
    session_seconds: float = 0.0

    @property
    def total_steps(self) -> int:
        return len(self.schedule)


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
    config = from_dict(TrainConfig, to_dict(config))  # validated, with canonical types (alpha: 16 -> 16.0)
    safe_name(name)
    try:
        return _train(config, train_examples, val_examples, workspace, name, on_eval, progress, data_version, resume, loaded)
    finally:
        release_memory(config.device if config.device != "auto" else None)  # the run's model and activations, now garbage


def _train(config: TrainConfig, train_examples: Sequence[Any], val_examples: Sequence[Any], workspace: Workspace, name: str,
           on_eval: EvalCallback | None, progress: ProgressCallback | None, data_version: str | None, resume: bool,
           loaded: "LoadedModel | None") -> TrainResult:
    wall_started = time.perf_counter()
    with session(resolve_device(config.device)) as dist:
        run = _prepare(config, train_examples, val_examples, workspace, name, loaded, on_eval, progress, wall_started, dist)
        _compile_if_chosen(run)
        state = _start_or_resume(run, resume)
        reset_peak_memory(run.device)
        with oom_as_error(config):
            while state.step < run.total_steps and not state.stopped_early:
                step_loss = _optimizer_step(run, state)
                eval_loss = _evaluate_if_due(run, state)
                _report_progress(run, state, step_loss, eval_loss)
                _checkpoint_if_due(run, state)
            if not state.stopped_early and not state.evaluated_at(state.step):
                _evaluate(run, state)
        record = _finish(run, state, data_version)
    return TrainResult(adapter_dir=run.adapter_dir, record=record)


def _prepare(config: TrainConfig, train_examples: Sequence[Any], val_examples: Sequence[Any], workspace: Workspace, name: str,
             loaded: "LoadedModel | None", on_eval: EvalCallback | None, progress: ProgressCallback | None, wall_started: float,
             dist: Dist) -> _Run:
    """Device, base model, encoded examples, the whole step schedule, the wrapped model and its optimizer."""
    import torch

    check_layout(config.grad_accumulation, dist)
    device = process_device(resolve_device(config.device), dist)
    precision = choose_precision(config.precision, device)
    if config.threads:
        torch.set_num_threads(config.threads)
    seed_everything(config.seed)
    if loaded is None:
        loaded = _load_base(config, workspace, device, precision)
    _set_attention(loaded.model, choose_attention(config.attention, device))
    tokenizer = loaded.tokenizer
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    train_enc, train_report = encode_examples(tokenizer, train_examples, config.max_length, config.system_prompt)
    val_enc, val_report = encode_examples(tokenizer, list(val_examples)[: config.eval_examples], config.max_length, config.system_prompt)
    if not train_enc:
        raise TrainingError(f"No trainable examples: {train_report.examples} given, {train_report.dropped} dropped (no response token within max_length={config.max_length}).")
    if train_report.truncated:
        log.warning("%d of %d training examples were longer than max_length=%d and were cut.", train_report.truncated, train_report.examples, config.max_length)
    schedule, steps_per_epoch = _plan_schedule(config, train_enc)

    seed_everything(config.seed)  # adapter initialisation does not depend on how the data was planned
    model = wrap_model(loaded, config)
    model.train()
    ddp = wrap_ddp(model, device, dist)
    params = [p for p in model.parameters() if p.requires_grad]
    # Fused AdamW on CUDA: one kernel for every adapter tensor instead of a loop of small ones.
    fused = True if device.startswith("cuda") else None
    optimizer = torch.optim.AdamW(params, lr=config.learning_rate, weight_decay=config.weight_decay, fused=fused)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, _lr_lambda(config, len(schedule)))
    run_dir = workspace.path("runs", name)
    choice = choose_compile(config, device, dist, sum(len(step) for step in schedule), head_fusable(model))
    return _Run(
        compile_choice=choice,
        config=config, name=name, device=device, dist=dist, precision=precision, loaded=loaded, model=model, ddp=ddp, params=params,
        optimizer=optimizer, scheduler=scheduler, scaler=torch.amp.GradScaler("cuda") if precision.use_scaler else None,
        train_enc=train_enc, val_enc=val_enc, train_report=train_report, val_report=val_report, pad_id=pad_id,
        schedule=schedule, steps_per_epoch=steps_per_epoch, run_dir=run_dir, adapter_dir=workspace.path("adapters", name),
        checkpoint=Checkpoint(run_dir), on_eval=on_eval if dist.is_main else None,
        progress=progress if dist.is_main else None, wall_started=wall_started,
    )


def _compile_if_chosen(run: _Run) -> None:
    """Compile the decoder for the run's one micro-batch shape and time it on a padding-only batch.

    The warm-up's gradients are all zero and are dropped; the random state is put back, so a compiled
    run draws the same dropout masks as an eager one. ``compile: auto`` falls back to eager when
    compiling fails; ``compile: on`` stops with the reason.
    """
    import torch

    if not run.compile_choice.enabled:
        log.info("training forward not compiled: %s", run.compile_choice.reason)
        return
    config = run.config
    padding = padding_batch(config.micro_batch_size, config.max_length, run.pad_id).to(run.device)
    decoder = compiled_decoder(run.model)
    device = torch.device(run.device)
    cuda = [device.index if device.index is not None else torch.cuda.current_device()] if device.type == "cuda" else []
    try:
        with torch.random.fork_rng(devices=cuda):  # CPU and this GPU's random state come back as they were
            run.compile_seconds = warm_up(lambda: forward_loss(run.model, padding, run.precision, decoder).backward())
        run.decoder = decoder
        log.info("training forward compiled in %.1f s (%s)", run.compile_seconds, run.compile_choice.reason)
    except TrainingError as exc:
        if config.compile == "on":
            raise
        log.warning("%s Training continues uncompiled.", exc)
        run.compile_choice = CompileChoice(False, f"auto: compiling failed, trained uncompiled ({exc})"[:500])
    finally:
        run.optimizer.zero_grad(set_to_none=True)


def _load_base(config: TrainConfig, workspace: Workspace, device: str, precision) -> "LoadedModel":
    from tuning.models import load_base_model

    # A frozen base needs no fp32 master copy: holding it in bf16 saves autocast from re-casting
    # every weight in every forward and backward pass (~30% of a CPU step). Adapters stay fp32.
    frozen_bf16 = precision.name == "bf16" and config.method in ("lora", "dora")
    return load_base_model(
        config.model,
        workspace,
        dtype="bfloat16" if frozen_bf16 else "float32",
        device=device,
        quantization="nf4" if config.method == "qlora" else None,
    )


def _plan_schedule(config: TrainConfig, train_enc: Sequence[Encoded]) -> tuple[list[list[list[int]]], int]:
    """The whole schedule, deterministic for the seed (resuming only needs the step index); and the steps per epoch."""
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
    return schedule[:total_steps], steps_per_epoch


def _start_or_resume(run: _Run, resume: bool) -> TrainState:
    """A fresh state, or the checkpoint's (weights, optimizer and RNG restored) when resuming the same config."""
    fingerprint = config_fingerprint(run.config)
    # Every process decides from the same files: none may look while rank 0 removes a stale checkpoint.
    found = run.dist.broadcast_flag(run.checkpoint.exists())
    if resume and found:
        state, run.best_weights = run.checkpoint.load(run.model, run.optimizer, run.scheduler, run.scaler, fingerprint, rank=run.dist.rank)
        state.resumed_from = [*state.resumed_from, state.step]
        if run.dist.is_main:
            log.info("Resuming run %s from step %d", run.name, state.step)
        run.dist.barrier()
        return state
    if found and run.dist.is_main:
        run.checkpoint.remove()
    run.dist.barrier()
    return TrainState(fingerprint=fingerprint)


def _optimizer_step(run: _Run, state: TrainState) -> float:
    """Forward and backward over the step's micro-batches, one optimizer step; returns the step's mean token loss."""
    import torch

    config, scaler, dist = run.config, run.scaler, run.dist
    began = time.perf_counter()
    groups = run.schedule[state.step]
    # The whole step's loss-token count (every process knows all examples), so the processes' shares add up
    # to one process's mean; DDP averages gradients over processes, hence the world_size factor.
    loss_tokens = sum(sum(run.train_enc[i].response[1:]) for g in groups for i in g)
    weight = dist.world_size
    mine = local_share(groups, dist)
    batches = [collate(run.train_enc, g, config.packing, config.max_length, run.pad_id) for g in mine]
    if run.decoder is not None:  # one shape for the whole run, so the compiled graph is reused
        batches = [static_batch(b, config.micro_batch_size, config.max_length, run.pad_id) for b in batches]
    if not batches:  # a short last step: take part in the gradient exchange with a zero contribution
        batches, weight = [collate(run.train_enc, groups[0], config.packing, config.max_length, run.pad_id)], 0
    step_loss = 0.0
    for k, batch in enumerate(batches):
        batch = batch.to(run.device)
        sync = k == len(batches) - 1 or not dist.enabled  # DDP exchanges gradients once, after the last micro-batch
        with contextlib.nullcontext() if sync else run.ddp.no_sync():
            loss = forward_loss(run.ddp, batch, run.precision, run.decoder) / max(loss_tokens, 1)
            if dist.enabled:
                loss = loss * weight
            if scaler is not None:
                scaler.scale(loss).backward()
            else:
                loss.backward()
        step_loss += float(loss.detach()) / dist.world_size
    if scaler is not None:
        scaler.unscale_(run.optimizer)
    if config.max_grad_norm > 0:
        torch.nn.utils.clip_grad_norm_(run.params, config.max_grad_norm)
    if scaler is not None:
        scaler.step(run.optimizer)
        scaler.update()
    else:
        run.optimizer.step()
    run.scheduler.step()
    run.optimizer.zero_grad(set_to_none=True)
    counted = batches if weight else []
    step_loss, real, slots = dist.sum([step_loss, sum(b.real_tokens for b in counted), sum(b.slots for b in counted)])
    real, slots = int(real), int(slots)
    elapsed = time.perf_counter() - began
    state.step += 1
    state.tokens_seen += real
    state.loss_tokens_seen += loss_tokens
    state.slots_seen += slots
    state.train_seconds += elapsed
    state.train_losses.append(round(step_loss, 5))
    run.session_tokens += real
    run.session_seconds += elapsed
    return step_loss


def _evaluate_if_due(run: _Run, state: TrainState) -> float | None:
    """The validation loss every ``eval_every`` steps (the last step is evaluated after the loop); decides early stopping."""
    config = run.config
    if not (config.eval_every and state.step % config.eval_every == 0 and state.step < run.total_steps):
        return None
    eval_loss = _evaluate(run, state)
    if config.early_stopping_patience and state.evals_since_best >= config.early_stopping_patience:
        state.stopped_early = True
        log.info("Early stopping at step %d (best eval loss %.4f at step %s)", state.step, state.best_eval_loss, state.best_step)
    return eval_loss


def _evaluate(run: _Run, state: TrainState) -> float | None:
    """One validation pass: history, best weights, then ``on_eval`` (which may raise to stop the run)."""
    if not run.val_enc:
        return None
    eval_loss = evaluate_loss(run.model, run.val_enc, run.config, run.precision, run.device, run.pad_id, run.dist)
    state.history.append(EvalPoint(step=state.step, eval_loss=eval_loss, tokens_seen=state.tokens_seen))
    if state.best_eval_loss is None or eval_loss < state.best_eval_loss:
        state.best_eval_loss, state.best_step, state.evals_since_best = eval_loss, state.step, 0
        if run.config.keep_best:
            run.best_weights = trainable_state(run.model)
    else:
        state.evals_since_best += 1
    _call_on_eval(run, state, eval_loss)
    return eval_loss


def _call_on_eval(run: _Run, state: TrainState, eval_loss: float) -> None:
    """``on_eval`` runs on rank 0; when it raises (a pruner), every process stops at the same step."""
    if not run.dist.enabled:
        if run.on_eval is not None:
            run.on_eval(state.step, eval_loss, state.tokens_seen)
        return
    error: BaseException | None = None
    if run.on_eval is not None:
        try:
            run.on_eval(state.step, eval_loss, state.tokens_seen)
        except BaseException as exc:  # noqa: BLE001 - re-raised below, after telling the other processes
            error = exc
    if run.dist.broadcast_flag(error is not None):
        if error is not None:
            raise error
        raise TrainingError(f"Run {run.name} stopped by rank 0 at step {state.step} (its on_eval callback raised).")


def _report_progress(run: _Run, state: TrainState, step_loss: float, eval_loss: float | None) -> None:
    if run.progress is not None:
        tokens_per_s = run.session_tokens / max(run.session_seconds, 1e-9)
        run.progress(Progress(state.step, run.total_steps, step_loss, tokens_per_s, state.tokens_seen, eval_loss))


def _checkpoint_if_due(run: _Run, state: TrainState) -> None:
    save_every = run.config.save_every
    if save_every and state.step % save_every == 0 and state.step < run.total_steps and not state.stopped_early:
        rng = run.dist.gather(_rng_state())
        if run.dist.is_main:
            run.checkpoint.save(run.model, run.optimizer, run.scheduler, run.scaler, state, run.best_weights, rank_rng=rng)
        run.dist.barrier()


def _rng_state():
    import torch

    return torch.get_rng_state()


def _finish(run: _Run, state: TrainState, data_version: str | None) -> TrainRecord:
    """Keep the best weights (``keep_best``), write the adapter, its metadata and the run record; drop the checkpoint."""
    used_best = run.config.keep_best and run.best_weights is not None and state.best_step != state.step
    if used_best:
        load_trainable(run.model, run.best_weights)
    record = _record(run, state, data_version, used_best)
    if run.dist.is_main:
        from tuning.adapters import save_trained

        save_trained(run.model, run.loaded, run.config, run.adapter_dir, run=run.name, data_version=data_version, metrics=record.summary())
        atomic_write_json(run.run_dir / "record.json", record.to_dict())
        run.checkpoint.remove()
    run.dist.barrier()
    return record


def _record(run: _Run, state: TrainState, data_version: str | None, used_best: bool) -> TrainRecord:
    import torch

    config, model = run.config, run.model
    tail = state.train_losses[-10:]
    return TrainRecord(
        name=run.name,
        kind="full" if config.method == "full" else "adapter",
        config=config,
        data_version=data_version,
        base_model=BaseModelRef(name=run.loaded.name, path=run.loaded.path),
        device=run.device,
        precision=run.precision.name,
        attention=getattr(run.loaded.model.config, "_attn_implementation", None),
        threads=torch.get_num_threads(),
        torch=torch.__version__,
        train_data=run.train_report,
        validation_data=run.val_report,
        steps=state.step,
        total_steps=run.total_steps,
        steps_per_epoch=run.steps_per_epoch,
        epochs_completed=state.step / max(run.steps_per_epoch, 1),
        tokens_seen=state.tokens_seen,
        loss_tokens_seen=state.loss_tokens_seen,
        slots_seen=state.slots_seen,
        padding_fraction=1 - state.tokens_seen / max(state.slots_seen, 1),
        tokens_per_s=state.tokens_seen / max(state.train_seconds, 1e-9),
        train_seconds=state.train_seconds,
        wall_seconds=time.perf_counter() - run.wall_started,
        peak_memory_mb=peak_memory_mb(run.device),
        world_size=run.dist.world_size,
        compiled=run.decoder is not None,
        compile_reason=run.compile_choice.reason,
        compile_seconds=round(run.compile_seconds, 2),
        trainable_params=sum(p.numel() for p in run.params),
        total_params=sum(p.numel() for p in model.parameters()),
        final_train_loss=sum(tail) / len(tail) if tail else None,
        first_train_loss=state.train_losses[0] if state.train_losses else None,
        final_eval_loss=state.history[-1].eval_loss if state.history else None,
        best_eval_loss=state.best_eval_loss,
        best_step=state.best_step,
        weights_from_step=state.best_step if used_best else state.step,
        stopped_early=state.stopped_early,
        resumed_from=state.resumed_from,
        eval_history=state.history,
        train_loss_history=state.train_losses,
        adapter_dir=str(run.adapter_dir),
        finished_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    )
