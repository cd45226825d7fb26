"""tldr pages: one format detector and one page parser, shared by the RAG corpus and the pair data sets."""

from __future__ import annotations

import json

import pytest

from core.errors import DataError, RagError
from rag.corpus import load_corpus
from rag.tldr import looks_like_tldr_jsonl, page_from_record, read_pages_jsonl
from studies.data.datasets import load_pairs

PAGE = {"id": "common/tar", "command": "tar", "description": "Archive files.", "examples": [{"intent": "Extract", "command": "tar xf {{file}}"}]}


def _write(tmp_path, *records):
    path = tmp_path / "pages.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def test_pages_without_markdown_are_tldr_pages_for_the_corpus_and_the_data_set(tmp_path):
    """The markdown field is optional (the page's head is rebuilt from command and description)."""
    path = _write(tmp_path, PAGE)
    assert looks_like_tldr_jsonl(path) and looks_like_tldr_jsonl(path.read_bytes())
    corpus = load_corpus(path)
    assert corpus.kind == "tldr" and [d.id for d in corpus.documents] == ["common/tar"]
    assert "tar xf file" in corpus.documents[0].text or "tar xf {{file}}" in corpus.documents[0].text
    data = load_pairs(path)
    assert data.report.format == "tldr-pages" and [p.group for p in data.pairs] == ["common/tar"]


def test_detector_refuses_other_jsonl(tmp_path):
    docs = tmp_path / "docs.jsonl"
    docs.write_text(json.dumps({"id": "a", "text": "hello"}) + "\n", encoding="utf-8")
    assert not looks_like_tldr_jsonl(docs) and not looks_like_tldr_jsonl(docs.read_bytes())
    assert not looks_like_tldr_jsonl(b"{oops\n") and not looks_like_tldr_jsonl(b"\n\n")


@pytest.mark.parametrize(
    "record",
    [
        {**PAGE, "id": ""},
        {**PAGE, "id": 7},
        {**PAGE, "examples": "nope"},
        {**PAGE, "examples": [{"intent": "only an intent"}]},
        ["not", "an", "object"],
    ],
)
def test_one_parser_refuses_the_same_bad_records(tmp_path, record):
    with pytest.raises(DataError, match="tldr page"):
        page_from_record(record)
    path = _write(tmp_path, PAGE, record)
    with pytest.raises(DataError, match=r"pages.jsonl:2: "):
        list(read_pages_jsonl(path))
    with pytest.raises(RagError, match=r"pages.jsonl:2: "):
        load_corpus(path)
    report = load_pairs(path, strict=False).report
    assert [(p.kind, p.line) for p in report.errors] == [("bad-page", 2)]


def test_parser_reads_a_good_record():
    page = page_from_record({**PAGE, "platform": "common", "markdown": "# tar\n"})
    assert (page.id, page.command, page.description, page.platform) == ("common/tar", "tar", "Archive files.", "common")
    assert page.examples == [("Extract", "tar xf {{file}}")]
    assert page_from_record({"id": "x", "examples": []}).command == "x"
