"""Real systems (tiny model) through the contract: base, LoRA, RAG and RAG + LoRA, and the spec parser."""

from __future__ import annotations

import sys
import types
from dataclasses import dataclass

import pytest

from core.errors import EvaluationError
from studies.evaluation.contract import evaluate, read_predictions
from studies.results.leaderboard import Leaderboard
from studies.evaluation.systems import (
    BaseModelSystem,
    LoraSystem,
    RagLoraSystem,
    RagSystem,
    make_system,
    record_trained_on,
    system_kinds,
)
from tuning.generate import GenerationSettings

FAST = ["exact_match", "token_f1", "chrf", "command_flags"]
SETTINGS = GenerationSettings(max_new_tokens=6, batch_size=8)


@pytest.fixture(scope="module")
def split(sample_pairs):
    from studies.data.datasets import load_pairs
    from studies.data.splits import make_split

    return make_split(load_pairs(sample_pairs), seed=0)


@pytest.fixture(scope="module")
def trained(tmp_path_factory, tiny_model_dir, split):
    """A tiny LoRA adapter trained for two steps on the split's train part (provenance recorded)."""
    from core.workspace import Workspace
    from tuning.config import TrainConfig
    from tuning.train import train

    ws = Workspace.resolve(tmp_path_factory.mktemp("ws-lora")).ensure()
    config = TrainConfig(model=str(tiny_model_dir), rank=4, alpha=8, max_steps=2, micro_batch_size=4, eval_every=2,
                         eval_examples=8, max_length=64, device="cpu", precision="fp32", save_every=100)
    result = train(config, split.train[:16], split.validation[:8], ws, "tiny-adapter", data_version=split.version)
    record_trained_on(result.adapter_dir, split)
    return ws, result.adapter_dir


def test_spec_parser(workspace, tiny_model_dir):
    assert {"base", "lora", "rag", "rag+lora"} <= set(system_kinds())
    base = make_system(f"base:{tiny_model_dir}", workspace)
    assert isinstance(base, BaseModelSystem) and base.kind == "base" and base.trained_on() is None
    assert isinstance(make_system("rag:idx", workspace), RagSystem)
    for bad in ("gpt5", "lora", "lora:", "rag+lora:idx", "rag:"):
        with pytest.raises(Exception):
            make_system(bad, workspace)


def test_base_model_through_the_contract(workspace, tiny_model_dir, split):
    system = BaseModelSystem(workspace, str(tiny_model_dir), device="cpu")
    result = evaluate(system, split, workspace, SETTINGS, metrics=FAST, limit=6)
    row = Leaderboard(workspace).get(result.run_id)
    assert row["kind"] == "base" and row["method"] == "prompt" and row["base_model"] == tiny_model_dir.name
    assert row["config"]["system_prompt"].startswith("You are a command-line assistant")
    items = read_predictions(workspace, result.run_id)
    assert len(items) == 6 and all(0 < r["completion_tokens"] <= 6 and r["prompt_tokens"] > 0 for r in items)
    assert row["environment"]["device"] == "cpu" and row["latency_s"] > 0


def test_lora_through_the_contract(trained, split):
    ws, adapter = trained
    system = LoraSystem.from_adapter(adapter, ws, device="cpu")
    assert system.trained_on()[0] == split.version
    result = evaluate(system, split, ws, SETTINGS, metrics=FAST, limit=4)
    row = Leaderboard(ws).get(result.run_id)
    assert row["kind"] == "lora" and row["method"] == "lora" and row["train_tokens"] > 0
    assert row["artifacts"]["adapter_dir"] == str(adapter) and row["config"]["adapter"] == "tiny-adapter"


def test_lora_without_provenance_is_refused(trained, split, tmp_path):
    import shutil

    ws, adapter = trained
    copy = ws.dir("adapters") / "no-provenance"
    if not copy.exists():
        shutil.copytree(adapter, copy)
        (copy / "trained_on.json").unlink()
    with pytest.raises(EvaluationError, match="record_trained_on"):
        evaluate(LoraSystem("no-provenance", ws), split, ws, SETTINGS, metrics=FAST, limit=2)
    leaky = ws.dir("adapters") / "leaky"
    if not leaky.exists():
        shutil.copytree(adapter, leaky)
    record_trained_on(leaky, split, parts=("train", "test"))
    with pytest.raises(EvaluationError, match="memorisation"):
        evaluate(LoraSystem("leaky", ws), split, ws, SETTINGS, metrics=FAST, limit=2)


@dataclass
class _Hit:
    doc_id: str
    chunk_id: int
    score: float
    text: str
    position: int


@dataclass
class _Answer:
    text: str
    hits: list
    prompt_tokens: int
    completion_tokens: int
    retrieval_s: float
    generation_s: float


class _Pipeline:
    """Stands in for rag.pipeline.RagPipeline (agreed interface) until the retrieval engine lands."""

    opened: list = []

    def __init__(self, generator):
        self.generator = generator
        self.config = {"k": 3}

    @classmethod
    def open(cls, ws, index_name, generator=None):
        cls.opened.append((index_name, generator.name))
        return cls(generator)

    def answer(self, questions, settings):
        from tuning.generate import generate

        gens = generate(self.generator, [[{"role": "user", "content": f"context\n\n{q}"}] for q in questions], settings)
        return [_Answer(g.text, [_Hit("common/ls", 0, 0.9, "ls", 0)], g.prompt_tokens, g.completion_tokens, 0.002, g.seconds) for g in gens]


@pytest.fixture
def fake_pipeline(monkeypatch):
    module = types.ModuleType("rag.pipeline")
    module.RagPipeline = _Pipeline
    _Pipeline.opened = []
    monkeypatch.setitem(sys.modules, "rag.pipeline", module)
    return _Pipeline


def test_rag_and_rag_lora_through_the_contract(trained, split, tiny_model_dir, fake_pipeline):
    ws, adapter = trained
    rag = RagSystem("tldr", ws, model=str(tiny_model_dir), device="cpu")
    result = evaluate(rag, split, ws, SETTINGS, metrics=FAST, limit=3)
    row = Leaderboard(ws).get(result.run_id)
    assert row["kind"] == "rag" and row["method"] == "rag" and row["config"]["index"] == "tldr"
    item = read_predictions(ws, result.run_id)[0]
    assert item["context"][0]["doc_id"] == "common/ls" and item["retrieval_s"] == pytest.approx(0.002)
    assert item["latency_s"] > item["retrieval_s"]

    both = RagLoraSystem("tldr", adapter, ws, device="cpu")
    assert both.trained_on()[0] == split.version
    result = evaluate(both, split, ws, SETTINGS, metrics=FAST, limit=3)
    row = Leaderboard(ws).get(result.run_id)
    assert row["kind"] == "rag+lora" and row["method"] == "rag+lora" and row["train_tokens"] > 0
    assert fake_pipeline.opened[-1][1].endswith("+tiny-adapter")


def test_real_rag_pipeline_through_the_contract(workspace, split, tiny_model_dir, sample_pages):
    """The retrieval engine's RagPipeline (fake embedder, tiny generator) as a `rag` system."""
    from rag.config import RagConfig
    from rag.corpus import load_corpus
    from rag.index import build_index
    from tests.rag_fakes import FakeEncoder

    build_index(workspace, "sample", load_corpus(sample_pages), FakeEncoder(), RagConfig(chunk_size=48))
    system = RagSystem("sample", workspace, model=str(tiny_model_dir), device="cpu", encoder=FakeEncoder())
    result = evaluate(system, split, workspace, SETTINGS, metrics=FAST, limit=3)
    row = Leaderboard(workspace).get(result.run_id)
    assert row["kind"] == "rag" and row["config"]["index_manifest"] and row["system"] == "rag:sample"
    # the contract's leakage control: the evaluated items' own examples were removed from their pages
    assert row["config"]["rag"]["index"].startswith("sample-eval-") and "removed" in row["config"]["leakage_control"]
    item = read_predictions(workspace, result.run_id)[0]
    assert item["context"] and item["context"][0]["doc_id"] and item["retrieval_s"] > 0


def test_system_device_reads_the_public_loaded_model_without_loading(workspace):
    from studies.evaluation.systems import system_device

    @dataclass
    class Loaded:
        info: dict

        @property
        def model(self):
            raise AttributeError("no weights in this stand-in")

    base = BaseModelSystem(workspace, "no-such-model-folder-is-loaded")
    assert base.model_if_loaded is None and system_device(base) == "cpu"  # nothing loaded, nothing loads
    base.model_if_loaded = Loaded({"device": "cuda:1"})
    assert system_device(base) == "cuda:1"
    rag = RagSystem("idx", workspace, device="cuda:0")
    assert rag.generator_if_loaded is None and system_device(rag) == "cuda:0"
    rag.generator_if_loaded = Loaded({"device": "cuda:2"})
    assert system_device(rag) == "cuda:2"
