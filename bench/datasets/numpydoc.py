"""Just enough of the numpydoc docstring format to read summaries, parameters and returns.

numpydoc is not a dependency of the product; its format is simple: a section title underlined
with dashes, then entries ``name : type`` at column 0 with their description indented below.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_UNDERLINE = re.compile(r"^-{3,}\s*$")


@dataclass(frozen=True)
class Entry:
    """One entry of a Parameters/Returns section."""

    name: str
    """The name (empty for a Returns entry that gives only a type)."""
    type: str
    description: str
    """The description lines joined with spaces."""

    @property
    def first_sentence(self) -> str:
        match = re.match(r"(.+?\.)(\s|$)", self.description)
        return (match.group(1) if match else self.description).strip()


@dataclass(frozen=True)
class Docstring:
    summary: str
    """The first paragraph (after a leading ``name(signature)`` line, if any), lines joined."""
    sections: dict[str, list[str]]
    """Raw lines of each titled section."""

    def entries(self, title: str) -> list[Entry]:
        """Entries of a section; a line without `` : `` is a type in Returns/Yields, else a name."""
        return parse_entries(self.sections.get(title, []), bare_is_type=title in ("Returns", "Yields"))


def parse(doc: str, name: str = "") -> Docstring:
    """Split a cleaned docstring (``inspect.getdoc``) into summary and titled sections."""
    lines = doc.splitlines()
    sections: dict[str, list[str]] = {}
    head: list[str] = []
    current: list[str] = head
    i = 0
    while i < len(lines):
        if i + 1 < len(lines) and lines[i].strip() and _UNDERLINE.match(lines[i + 1]) and not lines[i].startswith(" "):
            current = sections.setdefault(lines[i].strip(), [])
            i += 2
            continue
        current.append(lines[i])
        i += 1
    paragraphs = [p for p in "\n".join(head).split("\n\n") if p.strip()]
    if paragraphs and name and re.match(rf"{re.escape(name)}\s*\(", paragraphs[0].strip()):
        paragraphs = paragraphs[1:]  # ufuncs and numpy.random functions start with their signature
    summary = " ".join(paragraphs[0].split()) if paragraphs else ""
    return Docstring(summary, sections)


def parse_entries(lines: list[str], *, bare_is_type: bool = False) -> list[Entry]:
    entries: list[Entry] = []
    name = type_ = ""
    description: list[str] = []
    started = False
    for line in lines:
        if line and not line[0].isspace():
            if started:
                entries.append(Entry(name, type_, " ".join(description)))
            started, description = True, []
            left, sep, right = line.partition(" : ")
            if sep:
                name, type_ = left.strip(), right.strip()
            elif line.rstrip().endswith(":"):
                name, type_ = line.rstrip()[:-1].strip(), ""
            elif bare_is_type:
                name, type_ = "", line.strip()
            else:
                name, type_ = line.strip(), ""
        elif started and line.strip():
            description.append(line.strip())
    if started:
        entries.append(Entry(name, type_, " ".join(description)))
    return entries
