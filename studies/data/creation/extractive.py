"""Extractive generators: question/answer pairs read off a document's structure, no model needed.

Each rule finds one shape of structured content and keeps the character span of its answer, so a
reviewer sees the source and the grounding filter can check it:

* ``section``: a heading and the paragraph under it (Markdown ``#``, reST underlines);
* ``faq``: a heading or line that is itself a question, answered by what follows;
* ``definition``: definition lists (reST/Markdown ``term`` + indented or ``:`` definition,
  ``term: definition`` and ``**term** -- definition`` bullets);
* ``option``: option and parameter tables (``-x, --long  text`` help lines, numpy-style
  ``name : type`` parameters, Markdown tables whose first column is a name);
* ``code``: a code block with the sentence that introduces it.

Rules are registered by name (``EXTRACTIVE_RULES``), so a team can add its own.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from studies.data.creation.candidates import Candidate

Rule = Callable[["Text"], Iterator[tuple[str, str, int, int]]]
"""A rule yields ``(question, answer, start, end)`` with the answer's span in the document text."""

EXTRACTIVE_RULES: dict[str, Rule] = {}
MAX_ANSWER_CHARS = 600


def register_rule(name: str) -> Callable[[Rule], Rule]:
    def wrap(fn: Rule) -> Rule:
        EXTRACTIVE_RULES[name] = fn
        return fn

    return wrap


@dataclass
class Text:
    """A document's text with its title and pre-split lines (with offsets), shared by every rule."""

    text: str
    title: str

    def __post_init__(self) -> None:
        self.lines: list[tuple[int, str]] = []
        offset = 0
        for line in self.text.splitlines(keepends=True):
            self.lines.append((offset, line.rstrip("\r\n")))
            offset += len(line)
        self.section: list[str] = []
        """The heading each line sits under (lower case; "" before the first heading)."""
        current = ""
        headed = dict(_headings(self))
        for i, (_, line) in enumerate(self.lines):
            if i + 1 in headed and _RST_UNDERLINE.match(self.lines[i + 1][1]):
                current = headed[i + 1].lower()
            elif i in headed and _MD_HEADING.match(line):
                current = headed[i].lower()
            self.section.append(current)


_MD_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
DOCSTRING_SECTIONS = frozenset({"parameters", "other parameters", "returns", "yields", "raises", "warns", "examples",
                                "see also", "references", "notes", "warnings", "attributes", "methods", "receives"})
"""numpy/Google docstring section names: read by the option and returns rules, never asked about as topics."""
_TERM = re.compile(r"^[A-Za-z][\w .\-/+]{0,58}[\w)]$")
_RST_UNDERLINE = re.compile(r"^([=\-~^\"'`#*+])\1{2,}\s*$")
_FENCE = re.compile(r"^\s*(```|~~~)")


def _clean(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def _subject(text: str) -> str:
    """A heading or term as it reads in a question: markup and trailing punctuation removed."""
    return _clean(re.sub(r"[*`]+", "", text)).rstrip(":.").strip()


def _first_sentences(text: str, start: int, limit: int = MAX_ANSWER_CHARS) -> tuple[str, int, int]:
    """The leading whole sentences of ``text`` (from offset ``start``) up to ``limit`` characters."""
    body = text.rstrip()
    if len(body) <= limit:
        return body, start, start + len(body)
    cut = max(body.rfind(". ", 0, limit), body.rfind("? ", 0, limit), body.rfind("! ", 0, limit))
    end = cut + 1 if cut > 40 else limit
    return body[:end].rstrip(), start, start + len(body[:end].rstrip())


def _paragraph_after(doc: Text, index: int) -> tuple[str, int, int] | None:
    """The first non-empty, non-heading, non-code paragraph after line ``index`` (with its span)."""
    i = index + 1
    n = len(doc.lines)
    while i < n and (not doc.lines[i][1].strip() or _RST_UNDERLINE.match(doc.lines[i][1])):
        i += 1
    if i >= n or _MD_HEADING.match(doc.lines[i][1]) or _FENCE.match(doc.lines[i][1]):
        return None
    first = doc.lines[i][1]
    if i + 1 < n and _RST_UNDERLINE.match(doc.lines[i + 1][1]):
        return None  # the next thing is another heading
    if first[:1] in (" ", "\t", "|", "-", "*", "+", ">") or _NUMPY_PARAM.match(first) or (
        i + 1 < n and re.match(r"^( {2,}|\t|:\s)\S", doc.lines[i + 1][1])
    ):
        return None  # a list, table, quote or definition: the structured rules read those
    start = doc.lines[i][0]
    parts = []
    while i < n and doc.lines[i][1].strip() and not _MD_HEADING.match(doc.lines[i][1]) and not _FENCE.match(doc.lines[i][1]):
        parts.append(doc.lines[i][1])
        i += 1
    raw = "\n".join(parts)
    answer, s, e = _first_sentences(raw, start)
    return (_clean(answer), s, e) if len(_clean(answer)) >= 20 else None


def _headings(doc: Text) -> Iterator[tuple[int, str]]:
    """``(line index, heading text)`` for Markdown and reST headings."""
    in_fence = False
    for i, (_, line) in enumerate(doc.lines):
        if _FENCE.match(line):
            in_fence = not in_fence
            continue
        if in_fence:
            continue
        m = _MD_HEADING.match(line)
        if m:
            yield i, m.group(2)
        elif (i + 1 < len(doc.lines) and line.strip() and not line.startswith((" ", "\t"))
              and _RST_UNDERLINE.match(doc.lines[i + 1][1]) and len(doc.lines[i + 1][1].strip()) >= len(line.strip()) - 1):
            yield i + 1, line.strip()


@register_rule("summary")
def summary(doc: Text) -> Iterator[tuple[str, str, int, int]]:
    """A titled document's first prose paragraph answers "What does TITLE do?" (API pages, man pages)."""
    if not doc.title:
        return
    for i, (_, line) in enumerate(doc.lines):
        text = line.strip()
        if not text or _MD_HEADING.match(line) or text.lstrip("#").strip() == doc.title or doc.section[i]:
            continue
        if i + 1 < len(doc.lines) and _RST_UNDERLINE.match(doc.lines[i + 1][1]):
            return
        if text[0].isupper() and text.endswith(".") and len(text.split()) >= 3 and "(" not in text.split()[0]:
            found = _paragraph_after(doc, i - 1)
            if found:
                yield f"What does {_subject(doc.title)} do?", *found
            return


@register_rule("returns")
def returns(doc: Text) -> Iterator[tuple[str, str, int, int]]:
    """numpy/Google docstrings: the description under ``Returns``/``Yields``."""
    for i, (offset, line) in enumerate(doc.lines):
        if doc.section[i] not in ("returns", "yields") or not line.strip() or line.startswith((" ", "\t")):
            continue
        if _RST_UNDERLINE.match(line) or line.strip().lower().rstrip(":") in ("returns", "yields"):
            continue
        body, start, k = [], None, i + 1
        while k < len(doc.lines) and doc.lines[k][1].startswith((" ", "\t")) and doc.lines[k][1].strip():
            start = doc.lines[k][0] + len(doc.lines[k][1]) - len(doc.lines[k][1].lstrip()) if start is None else start
            body.append(doc.lines[k][1].strip())
            k += 1
        if body and start is not None and doc.title:
            answer, s, e = _first_sentences(" ".join(body), start)
            verb = "yield" if doc.section[i] == "yields" else "return"
            yield f"What does {_subject(doc.title)} {verb}?", _clean(answer), s, e
            return


@register_rule("section")
def sections(doc: Text) -> Iterator[tuple[str, str, int, int]]:
    for i, heading in _headings(doc):
        subject = _subject(heading)
        if (not subject or subject.endswith("?") or subject.lower() == _subject(doc.title).lower()
                or subject.lower() in DOCSTRING_SECTIONS):
            continue
        found = _paragraph_after(doc, i)
        if found:
            where = f" in {_subject(doc.title)}" if doc.title else ""
            yield f"What does the documentation{where} say about {subject}?", *found


@register_rule("faq")
def faqs(doc: Text) -> Iterator[tuple[str, str, int, int]]:
    for i, heading in _headings(doc):
        subject = _subject(heading)
        if subject.endswith("?") and len(subject) > 8:
            found = _paragraph_after(doc, i)
            if found:
                yield subject, *found
    for i, (_, line) in enumerate(doc.lines):
        m = re.match(r"^\s*(?:\*\*)?(?:Q|Question)\s*[:.](?:\*\*)?\s*(.+\?)\s*$", line)
        if not m:
            continue
        for j in range(i + 1, min(i + 4, len(doc.lines))):
            offset, nxt = doc.lines[j]
            a = re.match(r"^(\s*(?:\*\*)?(?:A|Answer)\s*[:.](?:\*\*)?\s*)(.+)$", nxt)
            if a:
                start = offset + len(a.group(1))
                answer, s, e = _first_sentences(a.group(2), start)
                yield _clean(m.group(1)), _clean(answer), s, e
                break


_DEF_INLINE = re.compile(r"^\s*[-*]\s+(?:\*\*|`)?([^:*`]{2,60}?)(?:\*\*|`)?\s*(?::|--|—|-)\s+(.{20,})$")


@register_rule("definition")
def definitions(doc: Text) -> Iterator[tuple[str, str, int, int]]:
    lines = doc.lines
    for i, (offset, line) in enumerate(lines):
        if doc.section[i] in DOCSTRING_SECTIONS:
            continue  # parameters are the option rule's; examples and notes hold code, not definitions
        m = _DEF_INLINE.match(line)
        if m and not m.group(1).strip().startswith("-"):
            term = _subject(m.group(1))
            start = offset + line.index(m.group(2))
            answer, s, e = _first_sentences(m.group(2), start)
            yield f"What is {term}?", _clean(answer), s, e
            continue
        # term on its own line, definition indented (reST) or starting with ": " (Markdown extra)
        if (line.strip() and not line.startswith((" ", "\t")) and i + 1 < len(lines) and len(line.strip()) <= 60
                and not _MD_HEADING.match(line) and not line.rstrip().endswith((".", ":", "::"))):
            nxt_offset, nxt = lines[i + 1]
            body = None
            if re.match(r"^:\s+\S", nxt):
                body, start = nxt[1:].strip(), nxt_offset + len(nxt) - len(nxt[1:].lstrip())
            elif re.match(r"^( {2,}|\t)\S", nxt) and not _RST_UNDERLINE.match(nxt) and ":" not in line:
                body, start = nxt.strip(), nxt_offset + len(nxt) - len(nxt.lstrip())
                k = i + 2
                while k < len(lines) and re.match(r"^( {2,}|\t)\S", lines[k][1]):
                    body += " " + lines[k][1].strip()
                    k += 1
            if body and len(body) >= 20 and not _option_name(line) and _TERM.match(line.strip()) and len(line.split()) <= 6:
                answer, s, e = _first_sentences(body, start)
                yield f"What is {_subject(line)}?", _clean(answer), s, e


def _option_name(text: str) -> str | None:
    m = re.match(r"^\s*((?:-{1,2}[A-Za-z0-9][\w-]*)(?:[ =][A-Z_<>\[\]]+)?(?:,\s*-{1,2}[A-Za-z0-9][\w-]*(?:[ =][A-Z_<>\[\]]+)?)*)", text)
    return m.group(1).strip() if m else None


_NUMPY_PARAM = re.compile(r"^(\s*)([A-Za-z_*][\w*]*)\s*:\s*(\S.*)?$")


@register_rule("option")
def options(doc: Text) -> Iterator[tuple[str, str, int, int]]:
    lines = doc.lines
    where = f" of {_subject(doc.title)}" if doc.title else ""
    in_params = False
    for i, (offset, line) in enumerate(lines):
        # CLI help: "  -x, --long VALUE    description"
        m = re.match(r"^\s{0,8}((?:-{1,2}[A-Za-z0-9][\w-]*)(?:[ =][A-Z_<>\[\]]+)?(?:,\s*-{1,2}[A-Za-z0-9][\w-]*(?:[ =][A-Z_<>\[\]]+)?)*)\s{2,}(\S.{15,})$", line)
        if m:
            start = offset + m.start(2)
            answer, s, e = _first_sentences(m.group(2), start)
            yield f"What does the {m.group(1).split(',')[-1].strip().split()[0]} option{where} do?", _clean(answer), s, e
            continue
        # numpy docstring sections: "Parameters\n----------\nname : type\n    description"
        if line.strip() in ("Parameters", "Other Parameters", "Attributes", "Keyword Arguments", "Args:", "Arguments:", "Parameters:"):
            in_params = True
            continue
        if in_params and line.strip() and not line.startswith((" ", "\t")) and not _RST_UNDERLINE.match(line) and not _NUMPY_PARAM.match(line):
            in_params = False
        p = _NUMPY_PARAM.match(line) if in_params else None
        if p and i + 1 < len(lines) and re.match(r"^\s+\S", lines[i + 1][1]) and len(lines[i + 1][1]) - len(lines[i + 1][1].lstrip()) > len(p.group(1)):
            indent = len(lines[i + 1][1]) - len(lines[i + 1][1].lstrip())
            body, start, k = lines[i + 1][1].strip(), lines[i + 1][0] + indent, i + 2
            while k < len(lines) and lines[k][1].strip() and len(lines[k][1]) - len(lines[k][1].lstrip()) >= indent:
                body += " " + lines[k][1].strip()
                k += 1
            if len(body) >= 15:
                answer, s, e = _first_sentences(body, start)
                yield f"What does the `{p.group(2)}` parameter{where} do?", _clean(answer), s, e
            continue
        # Markdown tables: | name | description | (body rows under a |---| rule)
        if line.strip().startswith("|") and _in_table(lines, i):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            name, desc = _subject(cells[0]), cells[-1]
            if len(cells) >= 2 and name and len(desc) >= 15:
                start = offset + line.index(desc)
                verb = f"What does {name}{where} do?" if name.startswith("-") else f"What is {name}" + (f" in {_subject(doc.title)}?" if doc.title else "?")
                yield verb, _clean(desc), start, start + len(desc)


def _in_table(lines: list[tuple[int, str]], i: int) -> bool:
    """True when line ``i`` is a body row of a Markdown table (a ``|---|`` rule above it)."""
    k = i - 1
    while k >= 0 and lines[k][1].strip().startswith("|"):
        if re.match(r"^\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?$", lines[k][1].strip()):
            return True
        k -= 1
    return False


@register_rule("code")
def code_blocks(doc: Text) -> Iterator[tuple[str, str, int, int]]:
    lines = doc.lines
    i = 0
    while i < len(lines):
        offset, line = lines[i]
        fence = _FENCE.match(line)
        literal = line.rstrip().endswith("::") and not line.strip().startswith("..")
        if not (fence or literal):
            i += 1
            continue
        intro = _intro_before(lines, i) if fence else (line.rstrip()[:-2].strip() or _intro_before(lines, i))
        j = i + 1
        if fence:
            while j < len(lines) and not _FENCE.match(lines[j][1]):
                j += 1
            body_lines = lines[i + 1:j]
            nxt = j + 1
        else:
            while j < len(lines) and not lines[j][1].strip():
                j += 1
            k = j
            while k < len(lines) and (not lines[k][1].strip() or lines[k][1].startswith((" ", "\t"))):
                k += 1
            body_lines = lines[j:k]
            nxt = k
        code = "\n".join(text for _, text in body_lines).strip("\n")
        if intro and code.strip() and len(code) <= MAX_ANSWER_CHARS and len(code.strip()) >= 3:
            start = body_lines[0][0] + (len(body_lines[0][1]) - len(body_lines[0][1].lstrip()) if not fence else 0)
            question = _question_from_intro(intro)
            if question:
                import textwrap

                yield question, textwrap.dedent(code).strip(), start, start + len(code.strip())
        i = max(nxt, i + 1)


def _intro_before(lines: list[tuple[int, str]], i: int) -> str:
    k = i - 1
    while k >= 0 and not lines[k][1].strip():
        k -= 1
    if k < 0:
        return ""
    sentence = lines[k][1].strip()
    return sentence if sentence.endswith(":") else ""


def _question_from_intro(intro: str) -> str | None:
    """``To list files, run:`` -> ``How do I list files?``; other intros become a quoted request."""
    text = _clean(re.sub(r"[*_`]", "", intro)).rstrip(":").strip()
    m = re.match(r"^(?:To|In order to)\s+(.+?)(?:,|\s+(?:use|run|type|call|write|do|try)\b).*$", text, re.I)
    if m and len(m.group(1)) >= 5:
        return f"How do I {m.group(1).strip()}?"
    if len(text) < 12 or len(text) > 200:
        return None
    return f"Show the code for: {text[0].lower() + text[1:]}"


def extract_candidates(doc_id: str, text: str, title: str = "", rules: list[str] | None = None) -> list[Candidate]:
    """Every candidate the named rules (default: all) find in one document, first occurrence of a question kept."""
    parsed = Text(text, title)
    out: list[Candidate] = []
    seen: set[str] = set()
    for name in rules or list(EXTRACTIVE_RULES):
        rule = EXTRACTIVE_RULES[name]
        for question, answer, start, end in rule(parsed):
            key = question.lower()
            if key in seen or not answer.strip():
                continue
            seen.add(key)
            out.append(Candidate(question=question, answer=answer, doc_id=doc_id, span=(start, end),
                                 generator=f"extractive:{name}", title=title))
    return out
