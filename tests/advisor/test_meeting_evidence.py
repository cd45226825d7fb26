"""The meeting evidence end to end on the tiny model: learning curve, oracle split and forgetting in the record."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def tiny_runs(tmp_path_factory, tiny_model_dir, sample_pairs, sample_pages):
    """base, RAG (fake embedder) and LoRA runs of the tiny model on the same 4 test items."""
    from core.workspace import Workspace
    from rag.config import RagConfig
    from rag.corpus import load_corpus
    from rag.index import build_index
    from studies.data.datasets import load_pairs
    from studies.data.splits import make_split, save_split
    from studies.evaluation.contract import evaluate
    from studies.evaluation.systems import BaseModelSystem, LoraSystem, RagSystem, record_trained_on
    from tests.rag_fakes import FakeEncoder
    from tuning.config import TrainConfig
    from tuning.generate import GenerationSettings
    from tuning.train import train

    ws = Workspace.resolve(tmp_path_factory.mktemp("ws-evidence")).ensure()
    split = make_split(load_pairs(sample_pairs), seed=0)
    save_split(ws, split)
    settings = GenerationSettings(max_new_tokens=4, batch_size=8)
    metrics = ["exact_match", "chrf"]
    build_index(ws, "sample", load_corpus(sample_pages), FakeEncoder(), RagConfig(chunk_size=48))
    base = evaluate(BaseModelSystem(ws, str(tiny_model_dir), device="cpu"), split, ws, settings, metrics=metrics, limit=4)
    rag = evaluate(RagSystem("sample", ws, model=str(tiny_model_dir), device="cpu", encoder=FakeEncoder()), split, ws, settings,
                   metrics=metrics, limit=4)
    config = TrainConfig(model=str(tiny_model_dir), rank=4, alpha=8, max_steps=2, micro_batch_size=4, eval_every=2,
                         eval_examples=8, max_length=64, device="cpu", precision="fp32", save_every=100)
    adapter = train(config, split.train, split.validation[:8], ws, "tiny-t1").adapter_dir
    record_trained_on(adapter, split)
    lora = evaluate(LoraSystem(adapter, ws, device="cpu"), split, ws, settings, metrics=metrics, limit=4)
    return ws, [base.run_id, rag.run_id, lora.run_id]


def test_every_part_is_measured_stored_and_shown(tiny_runs, monkeypatch):
    from advisor.meeting_evidence import EvidenceOptions
    from advisor.report import build_record, render_markdown
    from studies.governance.gate import check
    from tests.rag_fakes import FakeEncoder

    import rag.pipeline

    ws, runs = tiny_runs
    real_open = rag.pipeline.RagPipeline.open.__func__
    monkeypatch.setattr(rag.pipeline.RagPipeline, "open",
                        classmethod(lambda cls, w, name, generator=None, config=None, encoder=None: real_open(cls, w, name, generator, config, FakeEncoder())))
    options = EvidenceOptions(learning_curve=True, oracle=True, forgetting=True, general_limit=6, forgetting_tolerance=0.05)
    lines: list[str] = []
    record = build_record(ws, runs, primary="chrf", evidence=options, say=lines.append)
    lc, oracle, forgetting = record.evidence["learning_curve"], record.evidence["oracle"], record.evidence["forgetting"]
    assert "missing" not in lc, lc
    assert [p["n"] for p in lc["points"]][-1] > [p["n"] for p in lc["points"]][0] and lc["sentence"]
    assert "missing" not in oracle, oracle
    assert oracle["items"] == 4 and oracle["rag_correct"] + oracle["retrieval_failures"] + oracle["reading_failures"] == 4
    assert set(oracle["scores"]) == {"no context", "retrieval", "oracle"}
    (name, result), = forgetting.items()
    assert name.startswith("LoRA r=4, trial 1") and result["n"] == 6
    md = render_markdown(record)
    for heading in ("## At a glance", "## How much data would it take?", "## Knowledge or behaviour?", "## Forgetting"):
        assert heading in md
    assert "Of 4 items RAG" in md and f"{name} scores" in md
    verdict = check(ws, runs[2], record=False)
    assert ("check:forgetting" in verdict.failures) == (not result["passed"])
    # A second record measures nothing again: the stored results are read back.
    lines.clear()
    build_record(ws, runs, primary="chrf", evidence=options, say=lines.append)
    assert not any("retraining" in line or "oracle context:" in line or "general held-out" in line for line in lines)
