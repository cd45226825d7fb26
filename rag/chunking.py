"""Chunking that respects headings and paragraphs, sized in tokens of the embedder's tokenizer.

A document is cut into blocks (paragraphs; a paragraph ending with ``:`` stays with the next one, so a
tldr example keeps its command; fenced code stays whole). Blocks are packed greedily up to
``chunk_size`` body tokens; a new heading starts a new chunk; ``chunk_overlap`` tokens of trailing
blocks are repeated at the start of the next chunk of the same section. Every chunk carries its
document's context line (title, summary) and section heading, so a chunk is understandable alone.

``chunking: blocks`` (:func:`chunk_document_blocks`) instead makes one chunk per block: a paragraph,
a list item with what is attached to it (a tldr example and its command), a fenced block.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from rag.corpus import Document

CountFn = Callable[[Sequence[str]], list[int]]
CONTEXT_CHARS = 240
"""Context lines longer than this are cut (they are repeated in every chunk)."""

_HEADING = re.compile(r"^(#{1,6})\s+(.*)$")
_RST_UNDERLINE = re.compile(r"^([=\-~^*#+`])\1{2,}\s*$")


@dataclass
class Chunk:
    """A piece of one document: what is embedded, and where it came from."""

    id: str
    doc_id: str
    position: int
    """Ordinal of the chunk within its document (0-based)."""
    text: str
    """Context line + section heading + body: what is embedded and shown."""
    start: int
    """Character offset of the body's first block in the document text."""
    end: int
    tokens: int
    """Body tokens (embedder tokenizer)."""

    def to_record(self) -> dict[str, object]:
        return {"id": self.id, "doc_id": self.doc_id, "position": self.position, "text": self.text,
                "start": self.start, "end": self.end, "tokens": self.tokens}

    @classmethod
    def from_record(cls, rec: dict) -> "Chunk":
        return cls(id=str(rec["id"]), doc_id=str(rec["doc_id"]), position=int(rec["position"]), text=str(rec["text"]),
                   start=int(rec["start"]), end=int(rec["end"]), tokens=int(rec["tokens"]))


@dataclass
class Block:
    text: str
    start: int
    end: int
    heading: str | None = None
    """Set for heading blocks (the heading text); they start a section and are not body."""


def whitespace_count(texts: Sequence[str]) -> list[int]:
    """Token count fallback: whitespace-separated words."""
    return [len(t.split()) for t in texts]


def split_blocks(text: str) -> list[Block]:
    """Paragraph blocks with character offsets; headings become their own blocks."""
    blocks: list[Block] = []
    lines = text.splitlines(keepends=True)
    pos = 0
    cur: list[str] = []
    cur_start = 0
    in_fence = False

    def flush(end: int) -> None:
        nonlocal cur
        body = "".join(cur).strip()
        if body:
            blocks.append(Block(body, cur_start, end))
        cur = []

    for i, line in enumerate(lines):
        stripped = line.strip()
        if stripped.startswith("```"):
            in_fence = not in_fence
        if not in_fence and not stripped.startswith("```"):
            m = _HEADING.match(stripped)
            nxt = lines[i + 1].strip() if i + 1 < len(lines) else ""
            if m or (stripped and _RST_UNDERLINE.match(nxt) and not _RST_UNDERLINE.match(stripped)):
                flush(pos)
                title = m.group(2).strip() if m else stripped
                blocks.append(Block(stripped, pos, pos + len(line), heading=title))
                pos += len(line)
                cur_start = pos
                continue
            if _RST_UNDERLINE.match(stripped) and blocks and blocks[-1].heading is not None and not cur:
                pos += len(line)
                cur_start = pos
                continue
            if not stripped:
                flush(pos)
                pos += len(line)
                cur_start = pos
                continue
        if not cur:
            cur_start = pos
        cur.append(line)
        pos += len(line)
    flush(pos)
    # keep "intro:" paragraphs with what follows (tldr: "- intent:" + "`command`")
    merged: list[Block] = []
    for block in blocks:
        prev = merged[-1] if merged else None
        if prev is not None and prev.heading is None and block.heading is None and prev.text.rstrip().endswith(":"):
            merged[-1] = Block(prev.text + "\n" + block.text, prev.start, block.end)
        else:
            merged.append(block)
    return merged


def _drop_leading_context(blocks: list[Block], doc: Document) -> list[Block]:
    """The document's title heading and a summary already in its context line are not repeated as body."""
    out = list(blocks)
    if out and out[0].heading is not None and doc.context and out[0].heading.strip() in doc.context:
        out = out[1:]
    while out and out[0].heading is None and out[0].text.startswith(">"):
        quote = out[0].text.lstrip("> ").splitlines()[0][:30]
        if quote and quote in doc.context:
            out = out[1:]
        else:
            break
    return out


def _split_long(block: Block, tokens: int, size: int) -> list[tuple[Block, int]]:
    """Cut an oversized block into word windows of about ``size`` tokens."""
    words = block.text.split()
    per_word = max(tokens / max(len(words), 1), 1e-6)
    step = max(1, int(size / per_word))
    pieces = []
    for i in range(0, len(words), step):
        part = " ".join(words[i : i + step])
        pieces.append((Block(part, block.start, block.end), min(size, int(len(words[i : i + step]) * per_word) + 1)))
    return pieces


def chunk_document(doc: Document, chunk_size: int, chunk_overlap: int = 0, count: CountFn = whitespace_count) -> list[Chunk]:
    """Chunks of one document (see the module docstring for the rules)."""
    blocks = _drop_leading_context(split_blocks(doc.text), doc)
    context = doc.context.strip()
    if len(context) > CONTEXT_CHARS:
        context = context[: CONTEXT_CHARS - 3].rstrip() + "..."
    body_blocks = [b for b in blocks if b.heading is None]
    counts = iter(count([b.text for b in body_blocks]) if body_blocks else [])
    sized: list[tuple[Block, int]] = []
    for block in blocks:
        if block.heading is not None:
            sized.append((block, 0))
            continue
        n = next(counts)
        sized.extend(_split_long(block, n, chunk_size) if n > chunk_size else [(block, n)])

    chunks: list[Chunk] = []
    section: str | None = None
    current: list[tuple[Block, int]] = []

    def emit() -> None:
        if not current:
            return
        head = "\n".join(x for x in (context, section if section and section not in context else None) if x)
        body = "\n\n".join(b.text for b, _ in current)
        chunks.append(Chunk(
            id=f"{doc.id}#{len(chunks)}", doc_id=doc.id, position=len(chunks),
            text=f"{head}\n{body}" if head else body,
            start=current[0][0].start, end=current[-1][0].end, tokens=sum(n for _, n in current),
        ))

    for block, n in sized:
        if block.heading is not None:
            emit()
            current = []
            section = block.heading
            continue
        used = sum(m for _, m in current)
        if current and used + n > chunk_size:
            emit()
            carry: list[tuple[Block, int]] = []
            kept = 0
            for prev, m in reversed(current):
                if kept + m > chunk_overlap or kept + m + n > chunk_size:
                    break
                carry.insert(0, (prev, m))
                kept += m
            current = carry
        current.append((block, n))
    emit()
    if not chunks and context:  # a document with a title and nothing else still gets found
        chunks.append(Chunk(id=f"{doc.id}#0", doc_id=doc.id, position=0, text=context, start=0, end=len(doc.text), tokens=0))
    return chunks


_LIST_ITEM = re.compile(r"^\s{0,3}(?:[-*+]|\d{1,3}[.)])\s+\S")


def split_list_items(block: Block) -> list[Block]:
    """A paragraph made of list items (``- a`` / ``* b`` / ``1. c`` lines) as one block per item.

    Continuation lines stay with their item; a paragraph that does not start with a list item is kept whole.
    """
    lines = block.text.split("\n")
    if len(lines) < 2 or not _LIST_ITEM.match(lines[0]) or sum(bool(_LIST_ITEM.match(ln)) for ln in lines) < 2:
        return [block]
    items: list[list[str]] = []
    for line in lines:
        if _LIST_ITEM.match(line) or not items:
            items.append([line])
        else:
            items[-1].append(line)
    return [Block("\n".join(item).strip(), block.start, block.end) for item in items]


def chunk_document_blocks(doc: Document, chunk_size: int, count: CountFn = whitespace_count) -> list[Chunk]:
    """One chunk per block: a paragraph, a list item (with the code or text attached to it), a fenced block.

    Small, self-contained chunks (each with the document's context line and section heading) match
    short questions far better than packed windows; the retriever scores documents from several of
    their chunks (see ``rag.retrieve``). Blocks over ``chunk_size`` tokens are cut into word windows.
    A document with no body keeps one chunk with its context line.
    """
    blocks = _drop_leading_context(split_blocks(doc.text), doc)
    context = doc.context.strip()
    if len(context) > CONTEXT_CHARS:
        context = context[: CONTEXT_CHARS - 3].rstrip() + "..."
    units: list[Block] = []
    for block in blocks:
        units.extend([block] if block.heading is not None else split_list_items(block))
    body = [b for b in units if b.heading is None]
    counts = iter(count([b.text for b in body]) if body else [])
    chunks: list[Chunk] = []
    section: str | None = None
    for block in units:
        if block.heading is not None:
            section = block.heading
            continue
        n = next(counts)
        head = "\n".join(x for x in (context, section if section and section not in context else None) if x)
        for piece, m in _split_long(block, n, chunk_size) if n > chunk_size else [(block, n)]:
            chunks.append(Chunk(
                id=f"{doc.id}#{len(chunks)}", doc_id=doc.id, position=len(chunks),
                text=f"{head}\n{piece.text}" if head else piece.text,
                start=piece.start, end=piece.end, tokens=m,
            ))
    if not chunks and context:
        chunks.append(Chunk(id=f"{doc.id}#0", doc_id=doc.id, position=0, text=context, start=0, end=len(doc.text), tokens=0))
    return chunks


CHUNKINGS = ("blocks", "packed")


def chunk_corpus(
    documents: Sequence[Document], chunk_size: int, chunk_overlap: int = 0, count: CountFn = whitespace_count, chunking: str = "packed"
) -> list[Chunk]:
    """Chunks of every document, in document order: ``packed`` (blocks packed up to ``chunk_size``, with
    overlap) or ``blocks`` (one chunk per paragraph / list item; ``chunk_overlap`` unused)."""
    out: list[Chunk] = []
    for doc in documents:
        if chunking == "blocks":
            out.extend(chunk_document_blocks(doc, chunk_size, count))
        else:
            out.extend(chunk_document(doc, chunk_size, chunk_overlap, count))
    return out
