"""tldr pages as a pair data set: each example (intent -> command) is a pair, grouped by page.

``meta`` keeps the page's ``command`` and ``page`` id: the page is the retrieval ground truth
for RAG (the document that answers the pair). Parsing lives in :mod:`rag.tldr`; this module
adds the validation (every bad line or page reported, not only the first).
"""

from __future__ import annotations

from pathlib import Path

from core.errors import DataError
from rag.tldr import TldrPage, page_from_record, parse_markdown
from studies.data import formats
from studies.data.pair import Pair
from studies.data.validation import (
    BAD_PAGE,
    NOT_UTF8,
    Limits,
    ValidationReport,
)


def pairs_from_pages(pages: list[tuple[int | None, str | None, TldrPage]], report: ValidationReport, limits: Limits) -> list[Pair]:
    """Pairs from ``(line, file, page)`` triples; empty or over-long examples are reported.

    For Markdown files (``file`` set) each example's own line in the file is used.
    """
    pairs: list[Pair] = []
    for page_line, file, page in pages:
        for n, (intent, command) in enumerate(page.examples, start=1):
            line = _example_line(page.markdown, intent) if file else page_line
            report.records += 1
            checked = [
                report.check_text(text, f"page {page.id}, example {n}: {name}", limits, line, field=name, file=file)
                for name, text in (("input", intent.strip()), ("output", command.strip()))
            ]
            if not all(checked):
                continue
            meta = {"command": page.command, "page": page.id, "line": line}
            if file:
                meta["file"] = file
            pairs.append(Pair(f"{page.id}#{n}", intent.strip(), command.strip(), page.id, meta))
    return pairs


def pairs_from_pages_jsonl(path: Path, data: bytes, report: ValidationReport, limits: Limits) -> list[Pair]:
    """Pairs from a tldr ``pages.jsonl`` extract (id, command, examples [{intent, command}], markdown)."""
    lines, bad = formats.decode_lines(data, report)
    pages: list[tuple[int | None, str | None, TldrPage]] = []
    for number, rec in formats.json_lines(lines, bad, report):
        page = _page(rec, number, report)
        if page is not None:
            pages.append((number, None, page))
    return pairs_from_pages(pages, report, limits)


def _page(rec: object, line: int, report: ValidationReport) -> TldrPage | None:
    try:
        return page_from_record(rec)
    except DataError as exc:
        report.add(BAD_PAGE, str(exc), line)
        return None


def pairs_from_markdown_folder(root: Path, report: ValidationReport, limits: Limits) -> list[Pair]:
    """Pairs from a folder of tldr Markdown pages (``<platform>/<command>.md``, as in a tldr checkout)."""
    files = sorted(root.rglob("*.md"))
    if not files:
        raise DataError(
            f"{root} is a folder with no .md files. Pass a JSONL/JSON/CSV file, a tldr pages.jsonl, "
            "or a folder of tldr Markdown pages."
        )
    pages: list[tuple[int | None, str | None, TldrPage]] = []
    for md in files:
        rel = str(md.relative_to(root))
        platform = md.parent.name if md.parent != root else ""
        page_id = f"{platform}/{md.stem}" if platform else md.stem
        try:
            text = md.read_bytes().decode("utf-8")
        except UnicodeDecodeError as exc:
            report.add(NOT_UTF8, f"not valid UTF-8 (byte {exc.start + 1}); save the page as UTF-8", None, file=rel)
            continue
        except OSError as exc:
            report.add(BAD_PAGE, f"cannot read: {exc}", None, file=rel)
            continue
        try:
            page = parse_markdown(text, page_id, platform)
        except DataError as exc:
            report.add(BAD_PAGE, str(exc), 1, file=rel)
            continue
        pages.append((None, rel, page))
    return pairs_from_pages(pages, report, limits)


def _example_line(markdown: str, intent: str) -> int | None:
    """1-based line of the ``- intent`` bullet in a Markdown page (None if not found)."""
    at = markdown.find(f"- {intent}")
    return markdown.count("\n", 0, at) + 1 if at >= 0 else None
