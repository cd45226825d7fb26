"""End to end with the real MiniLM (and SmolLM2 for answers): build -> query -> eval on the bundled sample."""

from __future__ import annotations

import json
import shutil

import pytest

from core.errors import RagError
from rag.config import RagConfig
from rag.corpus import load_corpus
from rag.index import INDEX_FILE, build_index, open_index
from rag.pipeline import RagPipeline
from rag.embedder import SentenceEncoder

pytestmark = pytest.mark.slow

TAR_QUESTION = "extract a gzipped tar archive into a directory"


@pytest.fixture(scope="module")
def sample_index(session_workspace, sample_pages, minilm):
    enc = SentenceEncoder(minilm)
    res = build_index(session_workspace, "sample-minilm", load_corpus(sample_pages), enc, RagConfig())
    return session_workspace, enc, res


@pytest.mark.parametrize("retriever", ["dense", "bm25", "hybrid"])
def test_tar_question_finds_tar_page_first(sample_index, retriever):
    ws, enc, _ = sample_index
    pipe = RagPipeline.open(ws, "sample-minilm", encoder=enc, config=RagConfig(retriever=retriever))
    hits, _s = pipe.retrieve([TAR_QUESTION], k=5)
    assert hits[0][0].doc_id == "common/tar", [h.doc_id for h in hits[0]]


def test_real_embedder_vectors_are_normalised(minilm):
    enc = SentenceEncoder(minilm)
    seen = []
    vecs = enc.embed(["a", "bb cc", "ddd"] * 5, batch_size=4, progress=lambda d, t: seen.append((d, t)))
    assert vecs.shape == (15, 384) and abs(float((vecs**2).sum(1).mean()) - 1.0) < 1e-4
    assert seen[-1] == (15, 15) and enc.count_tokens(["hello world"]) == [2]


def test_mismatched_and_corrupt_index_with_real_embedder(sample_index, tmp_path):
    ws, enc, res = sample_index
    from tests.rag_fakes import FakeEncoder

    with pytest.raises(RagError, match="all-MiniLM-L6-v2.*dimension 384"):
        open_index(ws, "sample-minilm", FakeEncoder("all-MiniLM-L6-v2-other", 384))
    copy = ws.path("indexes", "broken")
    shutil.copytree(res.index.path, copy)
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["name"] = "broken"
    (copy / "manifest.json").write_text(json.dumps(manifest))
    with (copy / INDEX_FILE).open("r+b") as handle:
        handle.truncate(100)
    with pytest.raises(RagError, match="corrupt or truncated"):
        open_index(ws, "broken", enc)


def test_cli_build_query_eval_end_to_end(session_workspace, sample_pages, sample_pairs, smollm2, capsys):
    from advisor.cli import main

    ws = str(session_workspace.root)
    assert main(["--workspace", ws, "rag", "build", "--corpus", str(sample_pages), "--name", "cli-sample", "--no-progress"]) == 0
    built = json.loads(capsys.readouterr().out)
    assert built["documents"] == 101 and built["index_type"] == "flat" and not built["reused"]
    assert main(["--workspace", ws, "rag", "build", "--corpus", str(sample_pages), "--name", "cli-sample", "--no-progress"]) == 0
    assert json.loads(capsys.readouterr().out)["reused"] is True
    assert main(["--workspace", ws, "rag", "query", "cli-sample", TAR_QUESTION, "--k", "3", "--answer"]) == 0
    queried = json.loads(capsys.readouterr().out)
    assert queried["hits"][0]["doc_id"] == "common/tar" and queried["answer"]
    assert main(["--workspace", ws, "rag", "eval", "cli-sample", "--data", str(sample_pairs), "--limit", "12", "--max-new-tokens", "24"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["eval_index"].startswith("cli-sample-eval-") and out["examples_removed"] >= 12
    assert out["leaks"]["answers_verbatim_in_own_page"] == 0
    assert 0.0 <= out["retrieval"]["hit@1"] <= out["retrieval"]["hit@10"] <= 1.0
    assert out["recorded"] and out["n"] == 12 and "command_program" in out["scores"]
    assert (session_workspace.root / "runs" / out["run_id"] / "retrieval.json").is_file()


def test_empty_corpus_cli_error(tmp_path, capsys):
    from advisor.cli import main

    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "empty.md").write_text("")
    assert main(["--workspace", str(tmp_path / "ws"), "rag", "build", "--corpus", str(tmp_path / "c")]) == 2
    assert "no usable document" in capsys.readouterr().err
