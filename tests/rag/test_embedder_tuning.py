"""Embedder fine-tuning: training data (group-aware, own example stripped, hard negatives), the real
trainer on a tiny BERT, the saved folder's manifest and its refusal when corrupt or mismatched,
`rag build --embedder NAME`, the CLI, and the optional re-ranking stage."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from core.errors import ConfigError, ModelLoadError
from rag.config import RagConfig
from rag.embedder_tuning import EmbedderTuneConfig, build_examples, held_out_documents, strip_own_example
from tests.rag_fakes import FakeEncoder

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def tiny_st_dir(tmp_path_factory) -> Path:
    """A tiny random BERT sentence-transformer (MiniLM's tokenizer, 32 dims): trains in seconds."""
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Pooling, Transformer
    from transformers import AutoTokenizer, BertConfig, BertModel

    from rag.embedder import resolve_embedder

    _name, minilm = resolve_embedder(None)
    raw = tmp_path_factory.mktemp("tiny-bert")
    tokenizer = AutoTokenizer.from_pretrained(minilm)
    torch.manual_seed(0)
    config = BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=128)
    BertModel(config).save_pretrained(raw, safe_serialization=True)
    tokenizer.save_pretrained(raw)
    transformer = Transformer(str(raw), max_seq_length=64)
    model = SentenceTransformer(modules=[transformer, Pooling(32, "mean")], device="cpu")
    out = tmp_path_factory.mktemp("tiny-st")
    model.save(str(out), safe_serialization=True, create_model_card=False)
    return out


def _split(sample_pairs):
    from studies.data.datasets import load_pairs
    from studies.data.splits import make_split

    return make_split(load_pairs(sample_pairs), seed=0)


def test_strip_own_example_removes_the_pair_not_its_siblings():
    text = "tar: archive files\n- Create an archive from files:\n`tar cf target.tar file1`\n- Extract an archive:\n`tar xf source.tar`"
    out = strip_own_example(text, "Create an archive from files", "tar cf target.tar file1")
    assert "Create an archive" not in out and "tar cf" not in out
    assert "Extract an archive" in out and "tar xf source.tar" in out


def test_config_validation_names_fields():
    with pytest.raises(ConfigError) as err:
        EmbedderTuneConfig(batch_size=1, hard_negatives=3, mine_depth=2).validate()
    assert "batch_size" in str(err.value) and "mine_depth" in str(err.value)


def test_examples_are_group_aware_with_hard_negatives(workspace, sample_pages, sample_pairs):
    from rag.corpus import load_corpus
    from rag.index import build_index
    from rag.pipeline import RagPipeline
    from rag.retrieval_eval import gold_doc

    enc = FakeEncoder()
    build_index(workspace, "tl", load_corpus(sample_pages), enc, RagConfig())
    pipe = RagPipeline.open(workspace, "tl", encoder=enc)
    split = _split(sample_pairs)
    held = held_out_documents(split)
    assert held and {gold_doc(p) for p in split.test} <= held
    data = build_examples(split.train, pipe.index, pipe.retriever.search, held, EmbedderTuneConfig(hard_negatives=2))
    assert len(data.examples) > 0.8 * len(split.train)
    texts_by_doc = {c.doc_id: c.text for c in pipe.index.chunks}
    held_texts = {texts_by_doc[d] for d in held if d in texts_by_doc}
    for ex, pair in zip(data.examples[:50], split.train):
        assert ex.doc_id not in held
        assert len(ex.negatives) == 2 and not (set(ex.negatives) & held_texts)
        assert ex.positive not in ex.negatives
    first = split.train[0]
    ex = next(e for e in data.examples if e.anchor == first.input)
    assert first.input not in ex.positive  # own example stripped from its positive


@pytest.fixture
def tuned(workspace, sample_pages, sample_pairs, tiny_st_dir):
    from rag.corpus import load_corpus
    from rag.embedder import as_encoder
    from rag.embedder_tuning import tune_embedder
    from rag.index import build_index

    base = str(tiny_st_dir)
    build_index(workspace, "base", load_corpus(sample_pages), as_encoder(base), RagConfig(embedder=base))
    stages: list[str] = []
    cfg = EmbedderTuneConfig(base=base, max_pairs=64, batch_size=16, max_seq_length=64, query_prefix="query: ")
    result = tune_embedder(workspace, "ft", "base", _split(sample_pairs), cfg, progress=lambda s, d, t: stages.append(s))
    return workspace, result, stages


def test_tune_saves_safetensors_with_manifest_and_builds_an_index(tuned, sample_pages):
    from rag.corpus import load_corpus
    from rag.embedder import as_encoder
    from rag.embedder_store import MANIFEST, verify_folder
    from rag.index import build_index
    from rag.pipeline import RagPipeline

    ws, result, stages = tuned
    folder = Path(result.path)
    assert {"mine hard negatives", "train embedder"} <= set(stages)
    names = {p.name for p in folder.rglob("*")}
    assert "model.safetensors" in names and MANIFEST in names and not any(n.endswith(".bin") for n in names)
    m = verify_folder(folder)
    assert m.base == "tiny-st0" or m.base.startswith("tiny-st")
    assert m.data["pairs"] == 64 and m.data["split_version"] and m.hyperparameters["batch_size"] == 16
    assert m.training["steps"] == 4 and m.training["pairs_per_s"] > 0
    enc = as_encoder("ft", ws=ws)
    assert enc.name == m.encoder_name and enc.query_prefix == "query: "
    build_index(ws, "ft-idx", load_corpus(sample_pages), enc, RagConfig(embedder="ft"))
    pipe = RagPipeline.open(ws, "ft-idx")  # reopens the embedder by its workspace name
    row = pipe.describe()
    assert row["embedder"] == m.encoder_name and row["embedder_manifest"]["fingerprint"] == m.fingerprint
    assert row["query_prefix"] == "query: "
    assert pipe.retrieve(["extract a tar archive"], k=3)[0][0]


def test_corrupt_or_mismatched_embedder_is_refused(tuned):
    from rag.embedder import as_encoder

    ws, result, _stages = tuned
    folder = Path(result.path)
    weights = folder / "model.safetensors"
    original = weights.read_bytes()
    weights.write_bytes(original[:-16] + b"\0" * 16)
    with pytest.raises(ModelLoadError, match="checksum does not match"):
        as_encoder("ft", ws=ws)
    weights.write_bytes(original)
    (folder / "pytorch_model.bin").write_bytes(b"not loaded")
    with pytest.raises(ModelLoadError, match="pickle-format"):
        as_encoder("ft", ws=ws)
    (folder / "pytorch_model.bin").unlink()
    manifest = json.loads((folder / "advisor-embedder.json").read_text())
    manifest["dimension"] = 999
    (folder / "advisor-embedder.json").write_text(json.dumps(manifest))
    with pytest.raises(ModelLoadError, match="999"):
        as_encoder("ft", ws=ws)
    (folder / "advisor-embedder.json").write_text("{broken")
    with pytest.raises(ModelLoadError, match="unreadable"):
        as_encoder(str(folder))
    (folder / "advisor-embedder.json").unlink()
    manifest["dimension"] = 32
    copy = folder.parent / "other"
    shutil.copytree(folder, copy)
    (copy / "advisor-embedder.json").write_text(json.dumps(manifest))
    with pytest.raises(ModelLoadError, match="manifest names it 'ft'"):
        as_encoder("other", ws=ws)


def test_existing_embedder_kept_without_force(tuned, sample_pairs):
    from core.errors import RagError
    from rag.embedder_tuning import tune_embedder

    ws, _result, _stages = tuned
    with pytest.raises(RagError, match="already exists.*explicitly"):
        tune_embedder(ws, "ft", "base", _split(sample_pairs), EmbedderTuneConfig())


def test_index_of_another_embedder_refused_as_negative_miner(workspace, sample_pages, sample_pairs, tiny_st_dir):
    from core.errors import RagError
    from rag.corpus import load_corpus
    from rag.embedder_tuning import tune_embedder
    from rag.index import build_index

    build_index(workspace, "fake", load_corpus(sample_pages), FakeEncoder(), RagConfig())
    with pytest.raises(RagError, match="not comparable"):
        tune_embedder(workspace, "x", "fake", _split(sample_pairs), EmbedderTuneConfig(base=str(tiny_st_dir)))


def test_reranker_missing_is_said_and_skipped(workspace, sample_pages):
    from rag.corpus import load_corpus
    from rag.index import build_index
    from rag.pipeline import RagPipeline

    enc = FakeEncoder()
    build_index(workspace, "tl", load_corpus(sample_pages), enc, RagConfig())
    cfg = RagConfig(reranker=str(workspace.root / "no-such-cross-encoder"))
    with pytest.warns(UserWarning, match="re-ranking skipped"):
        pipe = RagPipeline.open(workspace, "tl", encoder=enc, config=cfg)
    assert "skipped" in pipe.rerank_note and pipe.retriever.name == "hybrid"
    assert pipe.describe()["reranker"] is None


def test_reranking_reorders_by_the_scorer(workspace, sample_pages):
    from rag.corpus import load_corpus
    from rag.index import build_index
    from rag.rerank import RerankingRetriever
    from rag.retrieve import make_retriever

    enc = FakeEncoder()
    cfg = RagConfig(rerank_candidates=5, max_chunks_per_doc=1)
    index = build_index(workspace, "tl", load_corpus(sample_pages), enc, cfg).index
    inner = make_retriever(index, enc, cfg)
    before = inner.search(["extract a tar archive"], 5)[0]
    target = before[-1].doc_id
    rr = RerankingRetriever(inner, lambda pairs: [10.0 if t == before[-1].text else 0.0 for _q, t in pairs], cfg)
    after = rr.search(["extract a tar archive"], 5)[0]
    assert after[0].doc_id == target and {h.doc_id for h in after} == {h.doc_id for h in before}


def test_cli_tune_embedder_help_and_bad_input(tmp_path):
    py = sys.executable
    out = subprocess.run([py, "-m", "advisor", "rag", "tune-embedder", "--help"], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0 and "--hard-negatives" in out.stdout
    out = subprocess.run([py, "-m", "advisor", "--workspace", str(tmp_path / "ws"), "rag", "tune-embedder", "--data",
                          str(ROOT / "data/sample/pairs.jsonl"), "--index", "missing", "--name", "x", "--batch-size", "1"],
                         cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 2 and "batch_size" in out.stderr and "Traceback" not in out.stderr


def test_rag_row_records_the_tuned_embedder_and_the_contract_checks_its_groups(tuned, sample_pages, sample_pairs):
    from types import SimpleNamespace

    from core.errors import EvaluationError
    from rag.corpus import load_corpus
    from rag.embedder import as_encoder
    from rag.index import build_index
    from studies.data.datasets import load_pairs
    from studies.data.splits import make_split
    from studies.evaluation.contract import check_contract
    from studies.evaluation.systems import RagSystem

    ws, result, _stages = tuned
    build_index(ws, "ft-idx", load_corpus(sample_pages), as_encoder("ft", ws=ws), RagConfig(embedder="ft"))
    system = RagSystem("ft-idx", ws, generator=SimpleNamespace(name="gen"))
    config = system.config()
    assert config["method"] == "rag+tuned-embedder"
    assert config["rag"]["embedder_manifest"]["fingerprint"] == result.manifest["fingerprint"]
    split = _split(sample_pairs)
    version, groups = system.trained_on()
    assert version == split.version and groups and groups <= split.groups("train")
    check_contract(system, split, "test")  # trained on train groups only: accepted
    other = make_split(load_pairs(sample_pairs), seed=1)
    with pytest.raises(EvaluationError):
        check_contract(system, other, "test")


def test_cli_build_with_a_workspace_embedder_and_list(tuned, sample_pages, sample_pairs, tiny_st_dir):
    ws, result, _stages = tuned
    py = sys.executable
    base = [py, "-m", "advisor", "--workspace", str(ws.root), "rag"]
    out = subprocess.run([*base, "tune-embedder", "--data", str(sample_pairs), "--index", "base", "--name", "ft2", "--base", str(tiny_st_dir),
                          "--max-pairs", "8", "--batch-size", "4", "--max-seq-length", "16", "--no-progress"],
                         cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    tuned2 = json.loads(out.stdout)
    assert tuned2["embedder"] == "ft2" and tuned2["pairs"] == 8 and tuned2["training"]["steps"] == 2
    again = subprocess.run([*base, "tune-embedder", "--data", str(sample_pairs), "--index", "base", "--name", "ft2", "--no-progress"],
                           cwd=ROOT, capture_output=True, text=True)
    assert again.returncode == 2 and "--force" in again.stderr and "Traceback" not in again.stderr  # the CLI names its flag
    out = subprocess.run([*base, "build", "--corpus", str(sample_pages), "--name", "cli-ft", "--embedder", "ft", "--no-progress"],
                         cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["embedder"] == f"ft@{result.manifest['fingerprint']}"
    listed = json.loads(subprocess.run([*base, "embedders"], cwd=ROOT, capture_output=True, text=True).stdout)
    assert [e["name"] for e in listed if e["ok"]] == ["ft", "ft2"]
    (Path(result.path) / "model.safetensors").write_bytes(b"corrupt")
    out = subprocess.run([*base, "build", "--corpus", str(sample_pages), "--name", "cli-ft2", "--embedder", "ft"], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 2 and "checksum does not match" in out.stderr and "Traceback" not in out.stderr


def test_local_cross_encoder_reranks(workspace, sample_pages, tmp_path):
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    from rag.corpus import load_corpus
    from rag.embedder import resolve_embedder
    from rag.index import build_index
    from rag.pipeline import RagPipeline

    _name, minilm = resolve_embedder(None)
    folder = tmp_path / "tiny-cross-encoder"
    tokenizer = AutoTokenizer.from_pretrained(minilm)
    torch.manual_seed(0)
    config = BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=128, num_labels=1)
    BertForSequenceClassification(config).save_pretrained(folder, safe_serialization=True)
    tokenizer.save_pretrained(folder)
    enc = FakeEncoder()
    build_index(workspace, "tl", load_corpus(sample_pages), enc, RagConfig())
    pipe = RagPipeline.open(workspace, "tl", encoder=enc, config=RagConfig(reranker=str(folder), rerank_candidates=5))
    assert pipe.retriever.name == "hybrid+rerank" and "cross-encoder" in pipe.rerank_note
    hits, _s = pipe.retrieve(["extract a tar archive"], k=3)
    assert len(hits[0]) == 3 and pipe.describe()["reranker"] == str(folder)
