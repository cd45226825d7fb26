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


def short_line(text: str, limit: int = CONTEXT_CHARS) -> str:
    """A context or heading line repeated at the top of chunks, cut to ``limit`` characters (a garbled
    "heading" of thousands of characters must not blow every chunk of its section past the budget)."""
    return text if len(text) <= limit else text[: limit - 3].rstrip() + "..."

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
    # (parts are joined once per merged block: a long run of "x:" paragraphs stays linear)
    merged: list[tuple[list[str], Block]] = []
    for block in blocks:
        prev = merged[-1] if merged else None
        if prev is not None and prev[1].heading is None and block.heading is None and prev[0][-1].rstrip().endswith(":"):
            prev[0].append(block.text)
            prev[1].end = block.end
        else:
            merged.append(([block.text], block))
    for parts, block in merged:
        if len(parts) > 1:
            block.text = "\n".join(parts)
    return [block for _, block in merged]


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


WINDOW_CHARS = 8192
"""Blocks are cut into windows of at most ``max(8192, 32 * chunk_size)`` characters *before* their tokens are
counted, so the tokenizer never sees more than a few thousand characters at once: chunking stays linear in the
document's length and its memory bounded, even for one 20 MB line. Ordinary paragraphs are far shorter (unchanged)."""

COUNT_BATCH = 256
"""Texts per call of the token counter (bounds the token ids held at once)."""


def _cut(text: str, lo: int, hi: int) -> int:
    """The end of a window in ``text[lo:hi]``: the last whitespace in its second half, else ``hi`` (a hard cut)."""
    if hi >= len(text):
        return len(text)
    mid = lo + (hi - lo) // 2
    best = max(text.rfind(" ", mid, hi), text.rfind("\n", mid, hi), text.rfind("\t", mid, hi))
    return best if best > lo else hi


def windows(block: Block, max_chars: int) -> list[Block]:
    """``block`` as pieces of at most ``max_chars`` characters, cut at whitespace where there is some (linear)."""
    text = block.text
    if len(text) <= max_chars:
        return [block]
    out: list[Block] = []
    pos = 0
    while pos < len(text):
        end = _cut(text, pos, pos + max_chars)
        piece = text[pos:end].strip()
        if piece:
            out.append(Block(piece, block.start + pos, block.start + end))
        pos = end
    return out


def count_batched(count: CountFn, texts: Sequence[str]) -> list[int]:
    """``count`` over ``texts`` in batches of :data:`COUNT_BATCH`."""
    out: list[int] = []
    for start in range(0, len(texts), COUNT_BATCH):
        out.extend(count(texts[start : start + COUNT_BATCH]))
    return out


def _split_long(block: Block, tokens: int, size: int) -> list[tuple[Block, int]]:
    """Cut an oversized block (at most a window long) into pieces of about ``size`` tokens.

    Word windows where the text has words; character windows where it does not (one long "word":
    a hash, minified code, a language written without spaces), so every piece fits.
    """
    text = block.text
    words = text.split()
    per_word = tokens / max(len(words), 1)
    pieces: list[tuple[Block, int]] = []
    if len(words) > 1 and per_word <= size:
        step = max(1, int(size / max(per_word, 1e-6)))
        for i in range(0, len(words), step):
            part = words[i : i + step]
            pieces.append((Block(" ".join(part), block.start, block.end), min(size, int(len(part) * per_word) + 1)))
        return pieces
    per_char = tokens / max(len(text), 1)
    step = max(1, int(size / max(per_char, 1e-6)))
    for i in range(0, len(text), step):
        part = text[i : i + step]
        if part.strip():
            pieces.append((Block(part, block.start + i, block.start + i + len(part)), min(size, int(len(part) * per_char) + 1)))
    return pieces


def window_chars(chunk_size: int) -> int:
    """Most characters of one window, and of one chunk's body (a tokenizer may count a long run as 1 token)."""
    return max(WINDOW_CHARS, 32 * chunk_size)


def _sized(blocks: list[Block], chunk_size: int, count: CountFn) -> list[tuple[Block, int]]:
    """Body blocks cut into windows, counted in batches, and split where still over ``chunk_size``; headings pass with 0."""
    limit = window_chars(chunk_size)
    units: list[Block] = []
    for block in blocks:
        units.extend([block] if block.heading is not None else windows(block, limit))
    body = [b.text for b in units if b.heading is None]
    counts = iter(count_batched(count, body))
    sized: list[tuple[Block, int]] = []
    for block in units:
        if block.heading is not None:
            sized.append((block, 0))
            continue
        n = next(counts)
        sized.extend(_split_long(block, n, chunk_size) if n > chunk_size else [(block, n)])
    return sized


def chunk_document(doc: Document, chunk_size: int, chunk_overlap: int = 0, count: CountFn = whitespace_count) -> list[Chunk]:
    """Chunks of one document (see the module docstring for the rules)."""
    blocks = _drop_leading_context(split_blocks(doc.text), doc)
    context = doc.context.strip()
    if len(context) > CONTEXT_CHARS:
        context = context[: CONTEXT_CHARS - 3].rstrip() + "..."
    sized = _sized(blocks, chunk_size, count)

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

    used = chars = 0
    most_chars = window_chars(chunk_size)
    for block, n in sized:
        if block.heading is not None:
            emit()
            current, used, chars = [], 0, 0
            section = short_line(block.heading)
            continue
        # Characters are bounded too: a tokenizer may count a long unknown run as one token.
        if current and (used + n > chunk_size or chars + len(block.text) > most_chars):
            emit()
            carry: list[tuple[Block, int]] = []
            kept = kept_chars = 0
            for prev, m in reversed(current):
                if kept + m > chunk_overlap or kept + m + n > chunk_size or kept_chars + len(prev.text) + len(block.text) > most_chars:
                    break
                carry.append((prev, m))
                kept += m
                kept_chars += len(prev.text)
            current, used, chars = carry[::-1], kept, kept_chars
        current.append((block, n))
        used += n
        chars += len(block.text)
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
    chunks: list[Chunk] = []
    section: str | None = None
    for piece, m in _sized(units, chunk_size, count):
        if piece.heading is not None:
            section = short_line(piece.heading)
            continue
        head = "\n".join(x for x in (context, section if section and section not in context else None) if x)
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
