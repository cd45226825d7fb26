"""One huge document, probed from outside: chunking is linear in the document's size with bounded memory,
every chunk fits its token and character budget, and a corpus document over the limit is refused with a
message that says how to split it. Timing is a benchmark (bench/bench_chunking.py), not asserted here: the
test counts work instead (characters handed to the token counter, the largest single text it sees).
"""

from __future__ import annotations

import tracemalloc
from collections import Counter

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from tests.reliability._util import examples, record_figure


class CountingCounter:
    """Whitespace token counting that records how much text it was handed, and the longest text."""

    def __init__(self, per_char: bool = False) -> None:
        self.chars = 0
        self.longest = 0
        self.calls = 0
        self.per_char = per_char

    def __call__(self, texts):
        self.calls += 1
        out = []
        for text in texts:
            self.chars += len(text)
            self.longest = max(self.longest, len(text))
            out.append(len(text) if self.per_char else len(text.split()))  # per_char: every character a token (CJK, bytes)
        return out


def _one_line(chars: int, spaces: bool = True) -> str:
    unit = "lorem ipsum dolor sit amet " if spaces else "loremipsumdolorsitamet"
    return (unit * (chars // len(unit) + 1))[:chars]


def test_chunking_one_huge_line_is_linear_and_bounded():
    from rag.chunking import chunk_document, chunk_document_blocks, window_chars
    from rag.corpus import Document

    figures = []
    for mode in ("packed", "blocks"):
        for spaces, per_char in ((True, False), (False, False), (False, True)):
            work = []
            for size in (250_000, 1_000_000, 4_000_000):
                count = CountingCounter(per_char)
                doc = Document(id="big", text=_one_line(size, spaces), title="big", context="big")
                tracemalloc.start()
                chunks = (chunk_document(doc, 256, 32, count) if mode == "packed" else chunk_document_blocks(doc, 256, count))
                _current, peak = tracemalloc.get_traced_memory()
                tracemalloc.stop()
                assert chunks and all(c.tokens <= 256 for c in chunks), (mode, spaces)
                assert max(len(c.text) for c in chunks) <= window_chars(256) + 300, (mode, spaces)  # + context line
                assert count.longest <= window_chars(256), "the token counter was handed an unbounded text"
                assert peak < 40 * size + 50_000_000, f"{mode}: peak {peak / 1e6:.0f} MB for {size / 1e6:.1f} MB"
                work.append(count.chars / size)
                figures.append({"mode": mode, "spaces": spaces, "mb": size / 1e6, "chunks": len(chunks), "counted_chars_per_char": round(count.chars / size, 2),
                                "peak_mb": round(peak / 1e6)})
            assert max(work) <= 1.5 * min(work) + 0.1, f"work per character grows with size: {work}"
    record_figure("huge_document.chunking", cases=len(figures), figures=figures)


def test_chunking_any_text_keeps_every_chunk_within_budget():
    """Property: any text (any whitespace, headings, list items, no spaces, unicode) chunks into pieces within budget."""
    from rag.chunking import chunk_document, chunk_document_blocks, window_chars
    from rag.corpus import Document

    outcomes: Counter = Counter()
    pieces = st.one_of(st.text(max_size=40), st.sampled_from(["\n", "\n\n", "# Head\n", "- item:\n", "`cmd`\n", "```\n", "====\n", " ", "x" * 3000, "字" * 500]))

    @settings(max_examples=examples() // 4, deadline=None, database=None, suppress_health_check=list(HealthCheck),
              phases=[Phase.explicit, Phase.generate])
    @given(parts=st.lists(pieces, max_size=60), size=st.sampled_from([8, 64, 256]), per_char=st.booleans())
    def check(parts, size, per_char):
        doc = Document(id="d", text="".join(parts), title="t", context="t")
        for chunks in (chunk_document(doc, size, size // 4, CountingCounter(per_char)), chunk_document_blocks(doc, size, CountingCounter(per_char))):
            assert all(c.tokens <= size for c in chunks)
            assert all(len(c.text) <= window_chars(size) + 300 for c in chunks)
        outcomes["ok"] += 1

    check()
    record_figure("huge_document.property", cases=sum(outcomes.values()), failures=0)


def test_corpus_refuses_an_oversized_document_with_a_message(tmp_path):
    import json

    import pytest

    from core.errors import RagError
    from rag.corpus import MAX_DOCUMENT_CHARS, load_corpus

    big = tmp_path / "book.txt"
    big.write_text(_one_line(MAX_DOCUMENT_CHARS + 10))
    with pytest.raises(RagError, match="split it into several files"):
        load_corpus(big)
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "book.md").write_text(_one_line(MAX_DOCUMENT_CHARS + 10))
    (folder / "small.md").write_text("# Small\n\nA small document.\n")
    corpus = load_corpus(folder)
    assert [d.id for d in corpus.documents] == ["small"] and "split it into several files" in corpus.skipped[0].reason
    lines = tmp_path / "docs.jsonl"
    lines.write_text(json.dumps({"id": "huge", "text": _one_line(MAX_DOCUMENT_CHARS + 1)}) + "\n" + json.dumps({"id": "ok", "text": "fine"}) + "\n")
    corpus = load_corpus(lines)
    assert [d.id for d in corpus.documents] == ["ok"] and "huge" in corpus.skipped[-1].reason
    with pytest.raises(RagError, match="current folder"):
        load_corpus("")
    record_figure("huge_document.refusal", cases=4, failures=0)


def test_a_heading_of_thousands_of_characters_does_not_blow_its_chunks_past_the_budget():
    """Found by the property above: a 3,000-character line underlined like a reST heading became every
    chunk's section line; heading lines repeated in chunks are cut like the context line."""
    from rag.chunking import CONTEXT_CHARS, chunk_document, chunk_document_blocks, window_chars
    from rag.corpus import Document

    doc = Document(id="d", text="x" * 3000 + "\n====\n\nbody text here\n\nmore body text", title="t", context="t")
    for chunks in (chunk_document(doc, 64, 16), chunk_document_blocks(doc, 64)):
        assert chunks and all(len(c.text) <= window_chars(64) + CONTEXT_CHARS + 10 for c in chunks)
