"""Fast rag tests: a hashed bag-of-words embedder stands in for MiniLM."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest

from core.errors import ConfigError, RagError
from rag.chunking import Block, chunk_corpus, chunk_document, chunk_document_blocks, split_blocks, split_list_items
from rag.config import RagConfig
from rag.corpus import Document, corpus_from_pages, load_corpus
from rag.index import CHUNKS_FILE, INDEX_FILE, MANIFEST, build_index, open_index
from rag.prompt import build_conversation, examples_from_hits
from rag.retrieval_eval import doc_ranking, find_leaks, item_scores, retrieval_metrics
from rag.retrieve import Hit, fuse_documents, make_retriever, pool_documents, retriever_names
from rag.tldr import read_pages_jsonl
from tests.rag_fakes import FakeEncoder


@pytest.fixture(scope="module")
def pages(sample_pages):
    return [p for _l, p in read_pages_jsonl(sample_pages)]


@pytest.fixture
def built(workspace, sample_pages):
    enc = FakeEncoder()
    res = build_index(workspace, "sample", load_corpus(sample_pages), enc, RagConfig(chunking="packed", chunk_size=48))
    return workspace, enc, res


# ------------------------------------------------------------------ config

def test_config_lists_every_problem():
    with pytest.raises(ConfigError) as exc:
        RagConfig(chunk_size=4, chunk_overlap=10, k=0, hybrid_dense_weight=2.0).validate()
    text = str(exc.value)
    assert "chunk_size" in text and "chunk_overlap" in text and "`k >= 1`" in text and "hybrid_dense_weight" in text


def test_config_from_dict_rejects_unknown_and_bad_literal():
    from core.config import from_dict

    with pytest.raises(ConfigError) as exc:
        from_dict(RagConfig, {"retriever": "magic", "chunksize": 3})
    assert "retriever" in str(exc.value) and "chunksize" in str(exc.value)


# ------------------------------------------------------------------ corpus

def test_folder_corpus_reports_and_skips_unusable_files(tmp_path):
    (tmp_path / "a.md").write_text("# Alpha\n\nFirst paragraph.\n\n## Part\n\nSecond.\n")
    (tmp_path / "b.txt").write_text("plain text document")
    (tmp_path / "c.rst").write_text("Title\n=====\n\nBody text.\n")
    (tmp_path / "empty.md").write_text("")
    (tmp_path / "blank.txt").write_text("  \n\n")
    (tmp_path / "bin.md").write_bytes(b"\x00\x01\x02binary")
    (tmp_path / "latin.txt").write_bytes("caf\xe9".encode("latin-1"))
    (tmp_path / "img.png").write_bytes(b"\x89PNG")
    corpus = load_corpus(tmp_path)
    assert sorted(d.id for d in corpus.documents) == ["a", "b", "c"]
    reasons = {s.source: s.reason for s in corpus.skipped}
    assert reasons["empty.md"] == "empty file"
    assert "whitespace" in reasons["blank.txt"]
    assert "binary" in reasons["bin.md"]
    assert "UTF-8" in reasons["latin.txt"]
    assert "unsupported" in reasons["img.png"]
    assert next(d for d in corpus.documents if d.id == "c").title == "Title"


def test_empty_corpus_is_a_clear_error(tmp_path):
    (tmp_path / "empty.md").write_text("")
    with pytest.raises(RagError, match="no usable document"):
        load_corpus(tmp_path)
    with pytest.raises(RagError, match="does not exist"):
        load_corpus(tmp_path / "missing.jsonl")


def test_jsonl_documents_with_bad_lines(tmp_path):
    path = tmp_path / "docs.jsonl"
    path.write_text('{"id": "1", "text": "hello world"}\nnot json\n{"id": "2"}\n{"id": "1", "text": "dup"}\n{"id": "3", "text": " "}\n')
    corpus = load_corpus(path)
    assert [d.id for d in corpus.documents] == ["1"]
    assert len(corpus.skipped) == 4 and corpus.skipped[0].source.endswith(":2")


def test_tldr_corpus_drops_examples(pages):
    tar = next(p for p in pages if p.id == "common/tar")
    intent, command = tar.examples[0]
    full = corpus_from_pages([tar])
    cut = corpus_from_pages([tar], drop={tar.id: {(intent, command)}})
    assert command in full.documents[0].text and command not in cut.documents[0].text
    assert tar.examples[1][1] in cut.documents[0].text
    assert full.content_hash != cut.content_hash and full.kind == "tldr"


# ------------------------------------------------------------------ chunking

def test_tldr_examples_stay_with_their_command(pages):
    tar = next(p for p in pages if p.id == "common/tar")
    doc = corpus_from_pages([tar]).documents[0]
    chunks = chunk_document(doc, chunk_size=30)
    assert [c.position for c in chunks] == list(range(len(chunks)))
    assert all(c.doc_id == "common/tar" and c.text.startswith("tar:") for c in chunks)
    for intent, command in tar.examples:
        holder = [c for c in chunks if f"- {intent}:" in c.text]
        assert holder and f"`{command}`" in holder[0].text
    assert all(c.tokens <= 30 for c in chunks if c.text.count("`") > 2)


def test_headings_start_chunks_and_overlap_repeats_paragraphs():
    text = "# Guide\n\n## Install\n\none two three\n\nfour five six\n\nseven eight nine\n\n## Use\n\nten eleven\n"
    doc = Document(id="g", text=text, title="Guide", context="Guide")
    chunks = chunk_document(doc, chunk_size=6, chunk_overlap=3)
    bodies = [c.text for c in chunks]
    assert all("Install" in b for b in bodies[:-1]) and "Use" in bodies[-1]
    assert "four five six" in bodies[0] and "four five six" in bodies[1]  # overlap
    assert "ten eleven" not in "".join(bodies[:-1])
    assert [b.heading for b in split_blocks(text) if b.heading] == ["Guide", "Install", "Use"]


def test_oversized_paragraph_is_split():
    doc = Document(id="x", text=" ".join(f"w{i}" for i in range(100)), context="")
    chunks = chunk_document(doc, chunk_size=20)
    assert len(chunks) == 5 and all(c.tokens <= 20 for c in chunks)


# ------------------------------------------------------------------ index

def test_build_open_and_reuse(built):
    ws, enc, res = built
    folder = ws.path("indexes", "sample")
    assert {p.name for p in folder.iterdir()} == {INDEX_FILE, CHUNKS_FILE, MANIFEST}
    manifest = json.loads((folder / MANIFEST).read_text())
    assert manifest["embedder"] == "fake-bow" and manifest["dimension"] == 64 and manifest["index_type"] == "flat"
    assert manifest["chunking"]["chunk_size"] == 48 and len(manifest["corpus"]["hash"]) == 64
    assert set(manifest["files"]) == {INDEX_FILE, CHUNKS_FILE}
    first = json.loads((folder / CHUNKS_FILE).read_text().splitlines()[0])
    assert {"id", "doc_id", "position", "text"} <= first.keys()
    calls = enc.calls
    again = build_index(ws, "sample", load_corpus_sample(), enc, RagConfig(chunking="packed", chunk_size=48))
    assert again.reused and enc.calls == calls
    changed = build_index(ws, "sample", load_corpus_sample(), enc, RagConfig(chunking="packed", chunk_size=32))
    assert not changed.reused and len(changed.index) > len(res.index)
    opened = open_index(ws, "sample", enc)
    assert len(opened) == len(changed.index)


def load_corpus_sample():
    from tests.conftest import SAMPLE

    return load_corpus(SAMPLE / "pages.jsonl")


def test_corrupt_and_truncated_index_refused(built):
    ws, enc, _ = built
    path = ws.path("indexes", "sample") / INDEX_FILE
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(RagError, match="corrupt or truncated.*--force"):
        open_index(ws, "sample", enc)
    path.write_bytes(data[:-1] + bytes([data[-1] ^ 1]))
    with pytest.raises(RagError, match="corrupt"):
        open_index(ws, "sample", enc)
    path.unlink()
    with pytest.raises(RagError, match="missing"):
        open_index(ws, "sample", enc)


def test_mismatched_embedder_refused(built):
    ws, _enc, _ = built
    with pytest.raises(RagError, match="built with embedder fake-bow .*dimension 64"):
        open_index(ws, "sample", FakeEncoder("other", 64))
    with pytest.raises(RagError, match="dimension 32"):
        open_index(ws, "sample", FakeEncoder("fake-bow", 32))


def test_unknown_and_unsafe_names(workspace):
    with pytest.raises(RagError, match="No index named"):
        open_index(workspace, "nope", FakeEncoder())
    with pytest.raises(RagError, match="not allowed"):
        open_index(workspace, "../etc", FakeEncoder())


@pytest.mark.parametrize("kind", ["hnsw", "ivf"])
def test_approximate_indexes_build_and_search(workspace, sample_pages, kind):
    enc = FakeEncoder()
    res = build_index(workspace, kind, load_corpus(sample_pages), enc, RagConfig(chunk_size=48, index_type=kind, ivf_nprobe=64))
    opened = open_index(workspace, kind, enc)
    assert opened.manifest.index_type == kind
    hits = make_retriever(opened, enc, RagConfig(retriever="dense")).search(["list docker containers"], 3)[0]
    assert len(hits) == 3 and len(res.index) == len(opened)


def test_block_chunks_one_per_tldr_example_with_context(pages):
    tar = next(p for p in pages if p.id == "common/tar")
    intent, command = tar.examples[0]
    doc = corpus_from_pages([tar], drop={tar.id: {(intent, command)}}).documents[0]
    chunks = chunk_document_blocks(doc, chunk_size=64)
    assert len(chunks) == len(tar.examples) - 1
    assert [c.position for c in chunks] == list(range(len(chunks))) and all(c.id == f"common/tar#{c.position}" for c in chunks)
    for chunk, (i, cmd) in zip(chunks, tar.examples[1:]):
        assert chunk.text == f"{doc.context}\n- {i}:\n`{cmd}`"  # context line, the intent, its command
    assert all(f"- {intent}:" not in c.text for c in chunks)  # the dropped example is nowhere


def test_block_chunks_split_markdown_lists_paragraphs_and_headings():
    text = ("# Guide\n\nIntro paragraph about the tool.\n\n## Install\n\n- first item\n- second item\n  continued here\n"
            "1. numbered one\n\n```sh\npip install x\n\npip check\n```\n\n## Long\n\n" + " ".join(f"w{i}" for i in range(25)) + "\n")
    doc = Document(id="g", text=text, title="Guide", context="Guide")
    chunks = chunk_document_blocks(doc, chunk_size=10)
    bodies = [c.text.split("\n", 1)[1] if c.text.startswith("Guide\n") else c.text for c in chunks]
    assert bodies[0] == "Intro paragraph about the tool."
    assert bodies[1:4] == ["Install\n- first item", "Install\n- second item\n  continued here", "Install\n1. numbered one"]
    assert bodies[4] == "Install\n```sh\npip install x\n\npip check\n```"  # a fence stays whole
    assert len(chunks) == 8 and all(c.text.startswith("Guide\nLong\n") and c.tokens <= 10 for c in chunks[5:])  # 25 words cut in 3
    assert chunk_corpus([doc], 10, chunking="blocks")[0].text == chunks[0].text
    assert len(chunk_corpus([doc], 64)) == 3  # packed (the other mode): intro, Install, Long
    empty = Document(id="e", text="# Only\n", title="Only", context="Only: a title")
    assert [c.text for c in chunk_document_blocks(empty, 10)] == ["Only: a title"]


def test_split_list_items_keeps_plain_paragraphs():
    assert [b.text for b in split_list_items(Block("- a\n- b\nmore\n* c", 0, 9))] == ["- a", "- b\nmore", "* c"]
    assert [b.text for b in split_list_items(Block("Text then\n- a\n- b", 0, 9))] == ["Text then\n- a\n- b"]
    assert [b.text for b in split_list_items(Block("- only one\nline", 0, 9))] == ["- only one\nline"]


def test_pool_documents_adds_the_next_best_chunks():
    doc_of = {0: "a", 1: "b", 2: "b", 3: "b", 4: "b", 5: "c"}.__getitem__
    ranked = [(0, 0.80), (1, 0.78), (2, 0.70), (3, 0.60), (4, 0.50), (5, 0.10)]
    best_only = pool_documents(ranked, doc_of)
    assert [d for d, _s, _c in best_only] == ["a", "b", "c"] and best_only[0][1] == pytest.approx(0.80)
    pooled = pool_documents(ranked, doc_of, pool=3, weight=0.2)
    assert [d for d, _s, _c in pooled] == ["b", "a", "c"]
    assert pooled[0][1] == pytest.approx(0.78 + 0.2 * (0.70 + 0.60))  # the 4th chunk is outside the pool
    assert [c for c, _s in pooled[0][2]] == [1, 2, 3, 4]  # every chunk of the document, best first


def test_fuse_documents_zscore_keeps_a_clear_lexical_winner():
    dense = [("a", 0.62, []), ("b", 0.61, []), ("c", 0.60, []), ("d", 0.20, [])]
    bm25 = [("b", 30.0, []), ("a", 5.0, []), ("e", 4.0, []), ("c", 3.0, [])]
    z = fuse_documents([dense, bm25], [0.5, 0.5], "zscore")
    assert max(z, key=z.get) == "b" and set(z) == {"a", "b", "c", "d", "e"}
    import statistics

    assert z["e"] == pytest.approx(0.5 * (4.0 - 10.5) / statistics.pstdev([30.0, 5.0, 4.0, 3.0]))  # missing from dense: 0 there
    r = fuse_documents([dense, bm25], [0.5, 0.5], "rrf", rrf_k=60)
    assert r["a"] == pytest.approx(0.5 / 61 + 0.5 / 62) and r["b"] == pytest.approx(0.5 / 62 + 0.5 / 61)
    assert fuse_documents([[], bm25], [0.9, 0.1])["b"] > 0 and fuse_documents([[("x", 1.0, [])]], [1.0]) == {"x": 0.0}


@pytest.mark.parametrize("name", ["dense", "bm25", "hybrid"])
def test_hits_come_grouped_by_document(workspace, sample_pages, name):
    enc = FakeEncoder()
    res = build_index(workspace, "blocks", load_corpus(sample_pages), enc, RagConfig(chunking="blocks"))
    assert res.index.manifest.chunking["mode"] == "blocks" and len(res.index) > 600  # about one chunk per example
    config = RagConfig(retriever=name, max_chunks_per_doc=2, doc_pool=3, doc_pool_weight=0.3)
    hits = make_retriever(res.index, enc, config).search(["create a tar archive from files", "list files in a zip archive"], 6)
    for row in hits:
        docs = [h.doc_id for h in row]
        assert len(row) == 6 and all(docs.count(d) <= 2 for d in docs)
        assert docs == sorted(docs, key=docs.index)  # a document's chunks are adjacent
    if name != "dense":  # the hashed bag-of-words stand-in confuses tar and zip; BM25 does not
        assert hits[0][0].doc_id == "common/tar" and hits[1][0].doc_id in ("common/zip", "common/unzip", "common/zipinfo")


def test_legacy_manifest_without_chunking_is_packed(built):
    ws, enc, res = built
    import json as _json

    path = res.index.path / MANIFEST
    data = _json.loads(path.read_text())
    data["config"].pop("chunking")
    path.write_text(_json.dumps(data))
    assert open_index(ws, "sample", enc).config.chunking == "packed"
    again = build_index(ws, "sample", load_corpus_sample(), enc, RagConfig(chunking="packed", chunk_size=48))
    assert again.reused


def test_auto_index_type_by_size():
    from rag.index import choose_index_type

    assert choose_index_type(10, RagConfig()) == "flat"
    assert choose_index_type(10, RagConfig(flat_max_vectors=5)) == "hnsw"
    assert choose_index_type(10, RagConfig(index_type="ivf")) == "ivf"


# ------------------------------------------------------------------ retrieval

@pytest.mark.parametrize("name", ["dense", "bm25", "hybrid"])
def test_retrievers_find_tar(built, name):
    ws, enc, res = built
    config = RagConfig(retriever=name, max_chunks_per_doc=1)
    hits = make_retriever(res.index, enc, config).search(["extract a gzipped tar archive into a directory", "zzz qqq"], 5)
    assert hits[0][0].doc_id == "common/tar", [h.doc_id for h in hits[0]]
    assert len({h.doc_id for h in hits[0]}) == len(hits[0])  # one chunk per document
    assert all(isinstance(h, Hit) and h.chunk_id.startswith(h.doc_id + "#") for h in hits[0])
    assert sorted(retriever_names()) == ["bm25", "dense", "hybrid"]


def test_unknown_retriever(built):
    _ws, enc, res = built
    with pytest.raises(RagError, match="Unknown retriever"):
        make_retriever(res.index, enc, RagConfig(), name="magic")


# ------------------------------------------------------------------ metrics and leaks

def test_retrieval_metrics():
    assert item_scores(["a", "b", "c"], {"b"}, ks=(1, 3)) == {"hit@1": 0.0, "recall@1": 0.0, "hit@3": 1.0, "recall@3": 1.0, "mrr": 0.5}
    m = retrieval_metrics([["a"], ["x", "y"]], [{"a"}, {"z"}], ks=(1,))
    assert m == {"hit@1": 0.5, "recall@1": 0.5, "mrr": 0.5}
    hits = [Hit("d1", "d1#0", 1, "", 0), Hit("d1", "d1#1", 0.9, "", 1), Hit("d2", "d2#0", 0.8, "", 0)]
    assert doc_ranking(hits) == ["d1", "d2"]


def test_find_leaks():
    @dataclass
    class C:
        id: str
        doc_id: str
        text: str

    chunks = [C("a#0", "a", "- Extract a gzipped archive into a directory:\n`tar xf x -C d`"), C("b#0", "b", "unrelated words here")]
    leaks = find_leaks(["extract a gzipped archive into a directory", "something else entirely new", "short"], chunks)
    assert [(lk.item, lk.doc_id, lk.containment) for lk in leaks] == [(0, "a", 1.0)]


# ------------------------------------------------------------------ prompts

def test_fewshot_prompt_puts_best_example_last(built):
    _ws, enc, res = built
    q = "extract a gzipped tar archive into a directory"
    hits = make_retriever(res.index, enc, RagConfig(retriever="bm25")).search([q], 3)[0]
    conv = build_conversation(q, hits, RagConfig(prompt_style="fewshot", max_examples=3))
    assert conv[0]["role"] == "system" and "backticks" in conv[0]["content"]
    assert [m["role"] for m in conv[1:]] == ["user", "assistant"] * 3 + ["user"] and conv[-1]["content"].startswith(q)
    assert "(Tool: tar:" in conv[-1]["content"]
    best = examples_from_hits(q, hits, 1)[0]
    assert conv[-3]["content"].startswith(best.intent) and conv[-2]["content"] == f"`{best.command}`"
    page = build_conversation(q, hits, RagConfig(prompt_style="page"))
    assert len(page) == 2 and "Documentation:" in page[1]["content"] and q in page[1]["content"]
    listing = build_conversation(q, hits, RagConfig(prompt_style="examples"))
    assert "Examples:" in listing[1]["content"] and listing[1]["content"].index(best.command) < len(listing[1]["content"])


def test_plain_documents_fall_back_to_page_context():
    hits = [Hit("guide", "guide#0", 1.0, "Guide\nInstall with pip install thing.", 0)]
    conv = build_conversation("how to install", hits, RagConfig())
    assert "Documentation:" in conv[-1]["content"]


# ------------------------------------------------------------------ pipeline with a tiny generator

def test_pipeline_answers_with_tiny_model(built, tiny_model_dir):
    from rag.pipeline import RagAnswer, RagPipeline
    from tuning.generate import GenerationSettings
    from tuning.models import load_base_model

    ws, enc, _ = built
    gen = load_base_model(str(tiny_model_dir), ws)
    pipe = RagPipeline.open(ws, "sample", generator=gen, encoder=enc)
    answers = pipe.answer(["list docker containers", "extract a tar archive"], GenerationSettings(max_new_tokens=4, batch_size=2))
    assert len(answers) == 2 and all(isinstance(a, RagAnswer) for a in answers)
    assert all(a.hits and a.prompt_tokens > 0 and a.retrieval_s >= 0 and a.generation_s > 0 for a in answers)
    assert pipe.manifest["embedder"] == "fake-bow" and pipe.describe()["retriever"] == "hybrid"
    with pytest.raises(RagError, match="no generator"):
        RagPipeline.open(ws, "sample", encoder=enc).answer(["x"])


def test_eval_index_removes_test_examples(workspace, sample_pages):
    from rag.retrieval_eval import prepare_eval_index, retrieval_report

    @dataclass
    class P:
        input: str
        output: str
        group: str
        meta: dict

    enc = FakeEncoder()
    build_index(workspace, "s", load_corpus(sample_pages), enc, RagConfig(chunk_size=48))
    pages = [p for _l, p in read_pages_jsonl(sample_pages)]
    tar = next(p for p in pages if p.id == "common/tar")
    test = [P(i, c, tar.id, {"page": tar.id}) for i, c in tar.examples[:2]]
    prepared = prepare_eval_index(workspace, "s", test, "abcdef123456789", encoder=enc)
    assert prepared.index_name == "s-eval-abcdef123456" and prepared.removed == 2
    opened = open_index(workspace, prepared.index_name, enc)
    text = "\n".join(c.text for c in opened.chunks if c.doc_id == tar.id)
    assert tar.examples[0][1] not in text and tar.examples[2][1] in text
    report = retrieval_report(workspace, prepared.index_name, test, encoder=enc)
    assert report["leaks"]["answers_verbatim_in_own_page"] == 0 and report["questions_with_gold"] == 2
    full = retrieval_report(workspace, "s", test, encoder=enc)
    assert full["leaks"]["answers_verbatim_in_own_page"] == 2


def test_leakage_control_finds_own_examples_and_is_idempotent(workspace, sample_pairs, sample_pages):
    from rag.corpus import load_corpus
    from rag.index import build_index
    from rag.retrieval_eval import leakage_control, own_examples_in_index
    from studies.data.datasets import load_pairs
    from studies.data.splits import make_split

    split = make_split(load_pairs(sample_pairs), seed=0)
    test = split.test[:10]
    enc = FakeEncoder()
    build_index(workspace, "pages", load_corpus(sample_pages), enc)
    assert own_examples_in_index(workspace, "pages", test) == list(range(10))
    assert own_examples_in_index(workspace, "pages", split.train[:0]) == []
    first = leakage_control(workspace, "pages", test, split.version, encoder=enc)
    assert first.index_name.startswith("pages-eval-") and first.removed == 10
    assert own_examples_in_index(workspace, first.index_name, test) == []
    again = leakage_control(workspace, first.index_name, test, split.version, encoder=enc)
    assert again.index_name == first.index_name and again.removed == 0 and "used as it is" in again.note
    wider = leakage_control(workspace, first.index_name, split.test[:20], split.version, encoder=enc)
    assert wider.index_name == first.index_name and own_examples_in_index(workspace, wider.index_name, split.test[:20]) == []
