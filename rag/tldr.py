"""tldr-pages readers: the ``pages.jsonl`` extract and a folder of tldr Markdown pages.

Both the RAG corpus (pages as documents) and the pair data sets (examples as input -> output,
the page as group and retrieval ground truth) are built from these pages, so the parsing lives
here, in the lowest layer that needs it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from core.errors import DataError

_EXAMPLE_RE = re.compile(r"^- (?P<intent>.+?):?\s*\n\s*\n`(?P<command>.+)`\s*$", re.MULTILINE)


@dataclass
class TldrPage:
    """One tldr page: a command, its description, and its examples."""

    id: str
    command: str
    description: str
    markdown: str
    examples: list[tuple[str, str]] = field(default_factory=list)
    platform: str = ""


def _normalise(text: str) -> str:
    text = re.sub(r"\{\{\[([^|\]]+)\|[^\]]*\]\}\}", r"\1", text)
    return text.replace("{{", "").replace("}}", "")


def parse_markdown(text: str, page_id: str, platform: str = "") -> TldrPage:
    """Parse one tldr Markdown page (``# title``, ``> description`` lines, ``- intent:`` + backticked command)."""
    lines = text.splitlines()
    title = next((ln[2:].strip() for ln in lines if ln.startswith("# ")), "")
    if not title:
        raise DataError(f"tldr page {page_id} has no '# title' line; is this a tldr page?")
    desc = " ".join(ln[1:].strip() for ln in lines if ln.startswith(">") and "More information" not in ln)
    examples = [(m["intent"].strip(), _normalise(m["command"].strip())) for m in _EXAMPLE_RE.finditer(text)]
    return TldrPage(id=page_id, command=title, description=desc, markdown=_normalise(text), examples=examples, platform=platform)


def page_from_record(rec: object) -> TldrPage:
    """One ``pages.jsonl`` record as a page: ``id`` (a non-empty string) and ``examples`` (a list of
    ``{intent, command}`` objects) are required; ``command``, ``description``, ``markdown``, ``platform`` are
    optional. Raises :class:`DataError` saying what is wrong (the callers add the file and line)."""
    if not isinstance(rec, dict) or not isinstance(rec.get("id"), str) or not rec["id"].strip():
        raise DataError("not a tldr page record: expected an object with id, command, examples, markdown")
    examples = rec.get("examples")
    if not isinstance(examples, list) or not all(isinstance(e, dict) and "intent" in e and "command" in e for e in examples):
        raise DataError(f"tldr page {rec['id']}: `examples` must be a list of {{intent, command}} objects")
    return TldrPage(
        id=rec["id"],
        command=str(rec.get("command") or rec["id"]),
        description=str(rec.get("description", "")),
        markdown=str(rec.get("markdown") or ""),
        examples=[(str(e["intent"]), str(e["command"])) for e in examples],
        platform=str(rec.get("platform", "")),
    )


def read_pages_jsonl(path: Path) -> Iterator[tuple[int, TldrPage]]:
    """Yield ``(line_number, page)`` from a pages.jsonl extract; bad lines raise with their number."""
    with path.open("r", encoding="utf-8") as handle:
        for lineno, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                yield lineno, page_from_record(json.loads(line))
            except (json.JSONDecodeError, RecursionError) as exc:
                raise DataError(f"{path}:{lineno}: not valid JSON ({exc}); expected one tldr page record per line.") from exc
            except DataError as exc:
                raise DataError(f"{path}:{lineno}: {exc}.") from exc


def is_page_record(rec: object) -> bool:
    """True when a decoded JSON record has the keys of a tldr page (``id`` and ``examples``)."""
    return isinstance(rec, dict) and {"id", "examples"} <= rec.keys()


def looks_like_tldr_jsonl(source: Path | bytes) -> bool:
    """True when the first record of a JSONL file (a path, or its bytes) is a tldr page (:func:`is_page_record`)."""
    try:
        if isinstance(source, bytes):
            first = next((raw for raw in source.split(b"\n") if raw.strip()), None)
        else:
            with source.open("r", encoding="utf-8") as handle:
                first = next((line for line in handle if line.strip()), None)
        return first is not None and is_page_record(json.loads(first))
    except (OSError, ValueError, RecursionError):  # ValueError covers UnicodeDecodeError and JSONDecodeError
        return False


def normalise_placeholders(text: str) -> str:
    """tldr's ``{{placeholder}}`` and ``{{[-a|--all]}}`` syntax as plain text (first alternative kept)."""
    return _normalise(text)
