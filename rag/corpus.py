"""Corpus ingest: tldr ``pages.jsonl``, a folder of .md/.txt/.rst files, or JSONL documents (id + text).

Unusable inputs (empty, binary, undecodable, bad JSONL lines) are reported in ``Corpus.skipped`` and
left out; a corpus with no usable document at all raises :class:`RagError`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from core.errors import DataError, RagError
from rag.tldr import TldrPage, looks_like_tldr_jsonl, normalise_placeholders, read_pages_jsonl

TEXT_SUFFIXES = (".md", ".markdown", ".txt", ".rst")
MAX_FILE_BYTES = 20_000_000
MAX_DOCUMENT_CHARS = 5_000_000
"""Longest single document (about 5,000 chunks of 256 tokens, minutes of embedding on a CPU); longer ones are
left out with the reason and the fix (split the document into several files), so one document cannot stall a build."""


@dataclass
class Document:
    """One source document; ``context`` (title, summary) is repeated at the top of each of its chunks."""

    id: str
    text: str
    title: str = ""
    context: str = ""
    source: str = ""


@dataclass
class Skipped:
    """An input left out of the corpus, and why."""

    source: str
    reason: str


@dataclass
class Corpus:
    """Documents ready for chunking, with what was skipped and where they came from."""

    documents: list[Document]
    skipped: list[Skipped] = field(default_factory=list)
    source: str = ""
    kind: str = "documents"
    """`tldr` (pages: gold documents known for pairs), `folder` or `documents`."""

    @property
    def content_hash(self) -> str:
        """sha256 over every document's id, context and text (order-independent)."""
        digest = hashlib.sha256()
        for doc in sorted(self.documents, key=lambda d: d.id):
            for part in (doc.id, doc.context, doc.text):
                digest.update(part.encode("utf-8"))
                digest.update(b"\x00")
        return digest.hexdigest()

    def doc_ids(self) -> set[str]:
        return {d.id for d in self.documents}


def _bounded(corpus: Corpus) -> Corpus:
    """Oversized documents move to ``skipped`` with a message saying how to split them."""
    kept = []
    for doc in corpus.documents:
        if len(doc.text) > MAX_DOCUMENT_CHARS:
            corpus.skipped.append(Skipped(doc.source or doc.id, (
                f"document {doc.id!r} is {len(doc.text):,} characters, over the {MAX_DOCUMENT_CHARS:,}-character limit per "
                "document; split it into several files (e.g. one per chapter) and build again")))
        else:
            kept.append(doc)
    corpus.documents = kept
    return corpus


def _require_documents(corpus: Corpus) -> Corpus:
    corpus = _bounded(corpus)
    if not corpus.documents:
        listing = "; ".join(f"{s.source}: {s.reason}" for s in corpus.skipped[:5]) or "no files found"
        raise RagError(
            f"Corpus {corpus.source or '(in memory)'} has no usable document ({listing}). "
            "Pass tldr pages.jsonl, a folder of .md/.txt/.rst files, or JSONL lines with `id` and `text`."
        )
    return corpus


def page_document(page: TldrPage, drop: set[tuple[str, str]] | frozenset = frozenset()) -> Document:
    """A tldr page as a document; ``drop`` removes (intent, command) examples (leakage control)."""
    head = normalise_placeholders(page.markdown.split("\n- ", 1)[0]).rstrip() if page.markdown.strip() else ""
    if not head:
        head = f"# {page.command}\n\n> {page.description}"
    body = "".join(f"\n\n- {intent}:\n\n`{command}`" for intent, command in page.examples if (intent, command) not in drop)
    text = head + body + "\n"
    context = f"{page.command}: {page.description}".strip()
    return Document(id=page.id, text=text, title=page.command, context=context, source=page.id)


def corpus_from_pages(
    pages: Iterable[TldrPage], drop: Mapping[str, set[tuple[str, str]]] | None = None, source: str = ""
) -> Corpus:
    """tldr pages as a corpus; ``drop[page_id]`` lists examples to remove from that page."""
    drop = drop or {}
    docs = [page_document(p, frozenset(drop.get(p.id, ()))) for p in pages]
    return _require_documents(Corpus(documents=docs, source=source, kind="tldr"))


def _read_text(path: Path) -> tuple[str | None, str]:
    """File text, or None and the reason it cannot be used."""
    try:
        size = path.stat().st_size
        if size == 0:
            return None, "empty file"
        if size > MAX_FILE_BYTES:
            return None, f"{size} bytes, over the {MAX_FILE_BYTES}-byte limit per file"
        data = path.read_bytes()
    except OSError as exc:
        return None, f"unreadable ({exc.strerror or exc})"
    if b"\x00" in data[:8192]:
        return None, "binary file (NUL bytes)"
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return None, f"not UTF-8 text (byte {exc.start})"
    if not text.strip():
        return None, "only whitespace"
    return text, ""


def _title_of(text: str, fallback: str) -> str:
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("# "):
            return line[2:].strip()
        if i + 1 < len(lines) and line.strip() and set(lines[i + 1].strip()) <= set("=-~^*#") and len(lines[i + 1].strip()) >= 3:
            return line.strip()
    return fallback


def load_folder(root: Path) -> Corpus:
    """Every .md/.txt/.rst file under ``root`` (sorted); the relative path without suffix is the id."""
    docs: list[Document] = []
    skipped: list[Skipped] = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = path.relative_to(root).as_posix()
        if any(part.startswith(".") for part in path.relative_to(root).parts):
            continue
        if path.suffix.lower() not in TEXT_SUFFIXES:
            skipped.append(Skipped(rel, f"unsupported type {path.suffix or '(none)'}; expected {', '.join(TEXT_SUFFIXES)}"))
            continue
        text, reason = _read_text(path)
        if text is None:
            skipped.append(Skipped(rel, reason))
            continue
        doc_id = rel.rsplit(".", 1)[0]
        title = _title_of(text, path.stem)
        docs.append(Document(id=doc_id, text=text, title=title, context=title, source=rel))
    return _require_documents(Corpus(documents=docs, skipped=skipped, source=str(root), kind="folder"))


def load_jsonl_documents(path: Path) -> Corpus:
    """JSONL lines with ``id`` and ``text`` (optional ``title``); bad lines are reported with their number."""
    docs: list[Document] = []
    skipped: list[Skipped] = []
    seen: set[str] = set()
    text, reason = _read_text(path)
    if text is None:
        return _require_documents(Corpus(documents=[], skipped=[Skipped(path.name, reason)], source=str(path)))
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path.name}:{lineno}"
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as exc:
            skipped.append(Skipped(where, f"not JSON ({exc.msg})"))
            continue
        except RecursionError:
            skipped.append(Skipped(where, "not JSON (nested too deeply)"))
            continue
        if not isinstance(rec, dict) or "id" not in rec or not isinstance(rec.get("text"), str):
            skipped.append(Skipped(where, "expected an object with `id` and string `text`"))
            continue
        doc_id = str(rec["id"])
        if not rec["text"].strip():
            skipped.append(Skipped(where, f"document {doc_id!r} has empty text"))
            continue
        if doc_id in seen:
            skipped.append(Skipped(where, f"duplicate id {doc_id!r} (first one kept)"))
            continue
        seen.add(doc_id)
        title = str(rec.get("title") or _title_of(rec["text"], doc_id))
        docs.append(Document(id=doc_id, text=rec["text"], title=title, context=title, source=where))
    return _require_documents(Corpus(documents=docs, skipped=skipped, source=str(path)))


def load_corpus(path: str | Path, drop: Mapping[str, set[tuple[str, str]]] | None = None) -> Corpus:
    """Read a corpus from tldr pages.jsonl, JSONL documents, a folder, or one text file."""
    if not str(path).strip():
        raise RagError("No corpus given (an empty path would mean the current folder): pass tldr pages.jsonl, "
                       "a JSONL file of documents, or a folder of .md/.txt/.rst files.")
    p = Path(path).expanduser()
    if p.is_dir():
        return load_folder(p)
    if not p.is_file():
        raise RagError(f"Corpus {p} does not exist: pass tldr pages.jsonl, a JSONL file of documents, or a folder of .md/.txt/.rst files.")
    if p.suffix.lower() in (".jsonl", ".json", ".ndjson"):
        if looks_like_tldr_jsonl(p):
            try:
                pages = [page for _line, page in read_pages_jsonl(p)]
            except DataError as exc:
                raise RagError(str(exc)) from exc
            except UnicodeDecodeError as exc:
                raise RagError(f"Corpus {p} is not UTF-8 text (byte {exc.start} of a line is {exc.object[exc.start:exc.start + 1]!r}); save it as UTF-8.") from exc
            return corpus_from_pages(pages, drop=drop, source=str(p.resolve()))
        return load_jsonl_documents(p)
    text, reason = _read_text(p)
    if text is None or p.suffix.lower() not in TEXT_SUFFIXES:
        why = reason or f"unsupported type {p.suffix or '(none)'}"
        return _require_documents(Corpus(documents=[], skipped=[Skipped(p.name, why)], source=str(p)))
    return _require_documents(Corpus(documents=[Document(id=p.stem, text=text, title=_title_of(text, p.stem), context=_title_of(text, p.stem),
                                                         source=p.name)], source=str(p.resolve()), kind="folder"))
