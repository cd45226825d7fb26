"""An accepted tiny LoRA adapter in a fresh workspace: what the export tests start from."""

from __future__ import annotations

from pathlib import Path

import pytest

SYSTEM_PROMPT = "Answer with one command."


def accepted_tiny_adapter(root: Path, tiny_model_dir: Path, sample_pairs: Path, n_items: int) -> tuple[object, str, str]:
    """Train a 1-step LoRA on the tiny Llama, evaluate it on ``n_items`` test items, accept it as ``tiny-v1``.

    Returns ``(workspace, accepted run id, a second run id left as a candidate)``. The gate is stubbed:
    its own tests live with it; here only the export matters.
    """
    from core.workspace import Workspace
    from studies.data.datasets import load_pairs
    from studies.data.splits import make_split, save_split
    from studies.evaluation.contract import evaluate
    from studies.evaluation.systems import LoraSystem, record_trained_on
    from studies.governance import gate, registry
    from tuning.config import TrainConfig
    from tuning.generate import GenerationSettings
    from tuning.train import train

    ws = Workspace.resolve(root).ensure()
    split = make_split(load_pairs(sample_pairs), seed=0)
    save_split(ws, split)
    config = TrainConfig(model=str(tiny_model_dir), rank=4, alpha=8, max_steps=1, micro_batch_size=4, eval_every=1,
                         eval_examples=4, max_length=64, device="cpu", precision="fp32", system_prompt=SYSTEM_PROMPT)
    result = train(config, split.train[:8], split.validation[:4], ws, "tiny-lora", data_version=split.version)
    record_trained_on(result.adapter_dir, split)
    metrics = ["exact_match", "chrf"]
    run = evaluate(LoraSystem(result.adapter_dir, ws, device="cpu"), split, ws,
                   GenerationSettings(max_new_tokens=6, batch_size=4), metrics=metrics, limit=n_items)
    candidate = evaluate(LoraSystem(result.adapter_dir, ws, device="cpu"), split, ws,
                         GenerationSettings(max_new_tokens=2), metrics=metrics, limit=2)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(gate, "check", lambda ws_, run_id, **kw: gate.GateVerdict(passed=True, failures=[], waivers={},
                                                                              run_id=run_id, verdict_id="v-test"))
        registry.accept(ws, run.run_id, "ana", "tiny test adapter", name="tiny-v1")
    return ws, run.run_id, candidate.run_id
