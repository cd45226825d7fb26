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

    def markdown_without(self, drop: set[tuple[str, str]]) -> str:
        """The page text with the given (intent, command) examples removed (leakage control)."""
        if not drop:
            return self.markdown
        keep = [ex for ex in self.examples if ex not in drop]
        head = self.markdown.split("\n- ", 1)[0].rstrip()
        body = "".join(f"\n\n- {intent}:\n\n`{command}`" for intent, command in keep)
        return head + body + "\n"


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


def read_pages_jsonl(path: Path) -> Iterator[tuple[int, TldrPage]]:
    """Yield ``(line_number, page)`` from a pages.jsonl extract; bad lines raise with their number."""
    with path.open("r", encoding="utf-8") as handle:
        for lineno, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
                examples = [(str(e["intent"]), str(e["command"])) for e in rec.get("examples", [])]
                yield lineno, TldrPage(
                    id=str(rec["id"]),
                    command=str(rec.get("command") or rec["id"]),
                    description=str(rec.get("description", "")),
                    markdown=str(rec.get("markdown") or ""),
                    examples=examples,
                    platform=str(rec.get("platform", "")),
                )
            except (json.JSONDecodeError, KeyError, TypeError, AttributeError, RecursionError) as exc:
                raise DataError(f"{path}:{lineno}: not a tldr page record ({exc}); expected id, command, examples, markdown.") from exc


def read_pages_folder(root: Path) -> Iterator[TldrPage]:
    """Yield pages from a tldr checkout-like folder (``<platform>/<command>.md``), sorted by path."""
    for md in sorted(root.rglob("*.md")):
        platform = md.parent.name if md.parent != root else ""
        page_id = f"{platform}/{md.stem}" if platform else md.stem
        yield parse_markdown(md.read_text(encoding="utf-8"), page_id, platform)


def looks_like_tldr_jsonl(path: Path) -> bool:
    """True when the first record of a JSONL file has tldr page fields."""
    try:
        with path.open("r", encoding="utf-8") as handle:
            for line in handle:
                if line.strip():
                    rec = json.loads(line)
                    return isinstance(rec, dict) and {"id", "examples", "markdown"} <= rec.keys()
    except (OSError, ValueError, RecursionError):  # ValueError covers UnicodeDecodeError and JSONDecodeError
        return False
    return False


def normalise_placeholders(text: str) -> str:
    """tldr's ``{{placeholder}}`` and ``{{[-a|--all]}}`` syntax as plain text (first alternative kept)."""
    return _normalise(text)
