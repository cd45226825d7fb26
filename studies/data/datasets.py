"""Pair data sets: load, validate and version input -> output examples.

Accepted sources (see ``docs/data.md``):

- JSONL, JSON (an array of objects, or ``{"data": [...]}``) and CSV/TSV with ``input`` and
  ``output`` fields, optional ``group`` and ``id``; other column names through ``mapping``
  (``{"input": "question", "output": "answer"}``). Other fields are kept in ``Pair.meta``.
- tldr ``pairs.jsonl`` (input, output, command, page): the page becomes the group.
- tldr ``pages.jsonl`` or a folder of tldr Markdown pages: each example becomes a pair
  (intent -> command), grouped by page; ``meta`` keeps the command and the page id, which is
  also the retrieval ground truth.

Every problem is collected into one :class:`ValidationReport` with line numbers. The content
hash (sha256 over the normalised pairs, in order) is the data set version.
"""

from __future__ import annotations

import hashlib
import json
import os
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.atomic import atomic_directory
from core.errors import DataError
from core.workspace import Workspace, safe_name, slugify
from rag.tldr import looks_like_tldr_jsonl
from studies.data import formats
from studies.data.pair import Pair
from studies.data.validation import (
    CONFLICT,
    DUPLICATE,
    DUPLICATE_ID,
    MISSING_FIELD,
    NO_RECORDS,
    WRONG_TYPE,
    InvalidDataError,
    Limits,
    Problem,
    ValidationReport,
)

__all__ = [
    "FIELDS",
    "LoadedDataset",
    "Limits",
    "Pair",
    "Problem",
    "ValidationReport",
    "InvalidDataError",
    "content_hash",
    "load_pairs",
    "parse_mapping",
    "save_dataset",
]

FIELDS = ("input", "output", "group", "id")
"""Fields a mapping may rename: ``input`` and ``output`` are required, ``group`` and ``id`` optional."""
SYNONYMS = {
    "input": ("question", "prompt", "instruction", "query", "text", "sentence", "description", "message", "request",
              "source", "document", "content"),
    "output": ("answer", "completion", "response", "label", "target", "category", "class", "intent", "summary",
               "result", "reply", "sql", "json"),
}
"""Common names for the two fields, most specific first: what a mapping guess (:func:`suggest_mapping`) tries."""
_TLDR_PAIR_KEYS = {"input", "output", "command", "page"}


@dataclass
class LoadedDataset:
    """A validated data set: its pairs, the validation report and its version (content hash)."""

    name: str
    """Short name (from the file name unless given), safe as a workspace name."""
    pairs: list[Pair]
    """The valid pairs, in file order."""
    report: ValidationReport
    """Every problem found (errors and warnings)."""
    content_hash: str
    """sha256 over the normalised pairs: the data set version."""
    source: str
    """The file or folder it was read from."""

    @property
    def version(self) -> str:
        return self.content_hash

    def __len__(self) -> int:
        return len(self.pairs)


def normalise(text: str) -> str:
    """Text as hashed and compared: Unicode NFC, Unix newlines, no surrounding whitespace."""
    if "\r" in text:
        text = text.replace("\r\n", "\n")
    if not unicodedata.is_normalized("NFC", text):
        text = unicodedata.normalize("NFC", text)
    return text.strip()


_ROW_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def content_hash(pairs: list[Pair]) -> str:
    """sha256 over (id, input, output, group) of every pair, in order, after :func:`normalise`."""
    digest = hashlib.sha256()
    for pair in pairs:
        row = [pair.id, normalise(pair.input), normalise(pair.output), pair.group]
        digest.update((_ROW_ENCODER.encode(row) + "\n").encode("utf-8"))
    return digest.hexdigest()


def parse_mapping(text: str | None) -> dict[str, str] | None:
    """Parse ``input=question,output=answer`` into a mapping; errors name the bad item."""
    if not text:
        return None
    mapping: dict[str, str] = {}
    for item in text.split(","):
        ours, sep, theirs = item.partition("=")
        if not sep or not ours.strip() or not theirs.strip():
            raise DataError(f"Bad column mapping item {item!r}: write FIELD=COLUMN, e.g. input=question,output=answer.")
        mapping[ours.strip()] = theirs.strip()
    return check_mapping(mapping)


def check_mapping(mapping: dict[str, str] | None) -> dict[str, str] | None:
    if not mapping:
        return None
    unknown = sorted(set(mapping) - set(FIELDS))
    if unknown:
        raise DataError(
            f"Unknown field(s) in the column mapping: {', '.join(unknown)}. Map our fields "
            f"({', '.join(FIELDS)}) to your column names, e.g. {{'input': 'question', 'output': 'answer'}}."
        )
    return dict(mapping)


def load_pairs(
    path: str | os.PathLike[str],
    mapping: dict[str, str] | None = None,
    *,
    name: str | None = None,
    limits: Limits | None = None,
    format: str | None = None,
    strict: bool = True,
) -> LoadedDataset:
    """Load and validate a pair data set (format detected from the file unless ``format`` is given).

    With ``strict`` (the default) a data set with errors raises :class:`InvalidDataError`, whose
    message lists every error with its line number and whose ``report`` holds them all. With
    ``strict=False`` the valid pairs and the full report come back (``report.ok`` tells).
    Unreadable files (missing, over the size limit, binary) always raise :class:`DataError`.
    """
    limits = limits or Limits()
    limits.validate()
    mapping = check_mapping(mapping)
    chosen = safe_name(name) if name else None
    source = Path(path).expanduser()
    if source.is_dir():
        from studies.data.tldr import pairs_from_markdown_folder

        report = ValidationReport(str(source), "tldr-markdown")
        pairs = pairs_from_markdown_folder(source, report, limits)
    else:
        data = formats.read_bytes(source, limits)
        fmt = format or formats.detect_format(source, data)
        if format is None and fmt == "jsonl" and looks_like_tldr_jsonl(data):
            fmt = "tldr-pages"
        report = ValidationReport(str(source), fmt)
        if fmt == "tldr-pages":
            from studies.data.tldr import pairs_from_pages_jsonl

            pairs = pairs_from_pages_jsonl(source, data, report, limits)
        else:
            records = formats.read_records(source, fmt, data, report)
            if mapping is None and records and _TLDR_PAIR_KEYS <= records[0].fields.keys() and "group" not in records[0].fields:
                report.format = "tldr-pairs"
            pairs = pairs_from_records(records, mapping, report, limits, tldr=report.format == "tldr-pairs")
    if report.records == 0 and not report.errors:
        report.add(NO_RECORDS, "no records found; expected one input/output example per line (JSONL), item (JSON) or row (CSV)")
    find_duplicates(pairs, report)
    report.valid = len(pairs)
    report.sort()
    dataset = LoadedDataset(
        name=chosen or slugify(_stem(source), default="dataset"),
        pairs=pairs,
        report=report,
        content_hash=content_hash(pairs),
        source=str(source),
    )
    if strict and not report.ok:
        raise InvalidDataError(report)
    return dataset


def _stem(path: Path) -> str:
    return path.name if path.is_dir() else path.stem


def suggest_mapping(columns: Any) -> dict[str, str] | None:
    """``{"input": column, "output": column}`` when common names (text/label, question/answer, prompt/completion,
    ...) identify both fields, else None: a file with other names gets a concrete fix in its error, not a riddle."""
    lower = {str(c).strip().lower(): str(c) for c in columns}
    picked: dict[str, str] = {}
    for ours, names in SYNONYMS.items():
        found = lower.get(ours) or next((lower[n] for n in names if n in lower), None)
        if found is None:
            return None
        picked[ours] = found
    return picked if picked["input"] != picked["output"] else None


def _missing_fields(report: ValidationReport, columns: Any, missing: list[str], line: int | None) -> None:
    """One error for fields no record has, with the mapping that would fix it when the names are common ones."""
    guess = suggest_mapping(columns)
    report.suggested_mapping = guess
    fix = (f"give the column mapping {','.join(f'{k}={v}' for k, v in guess.items())} (guessed from the names)" if guess
           else "give a column mapping such as input=COLUMN,output=COLUMN")
    absent = " or ".join(missing)
    where = (f"the header has no {absent} column; columns are" if report.format in ("csv", "tsv")
             else f"no record has the {absent} field; fields are")
    report.add(MISSING_FIELD, f"{where}: {', '.join(map(str, columns))}. Rename them or {fix}", line)


def pairs_from_records(
    records: list[formats.Record],
    mapping: dict[str, str] | None,
    report: ValidationReport,
    limits: Limits,
    *,
    tldr: bool = False,
) -> list[Pair]:
    """Check fields record by record and build pairs; every problem goes to ``report``."""
    names = {f: (mapping or {}).get(f, f) for f in FIELDS}
    if tldr and mapping is None:
        names["group"] = "page"
    if records:
        tabular = report.format in ("csv", "tsv")
        missing = [f"{ours!r} (column {theirs!r})" if ours != theirs else repr(ours) for ours, theirs in names.items()
                   if ours in ("input", "output") and all(theirs not in r.fields for r in (records[:1] if tabular else records))]
        if missing and tabular:  # a header without the column: one error, not one per row
            _missing_fields(report, list(records[0].fields), missing, 1)
            return []
        seen = list(dict.fromkeys(k for r in records[:50] for k in r.fields)) if missing else []
        if missing and suggest_mapping(seen):  # a field no record has, under a common other name: the fix once, then per line
            _missing_fields(report, seen, missing, None)
    pairs: list[Pair] = []
    seen_ids: dict[str, int] = {}
    page_counts: dict[str, int] = {}
    used = {names[f] for f in FIELDS}
    for number, record in enumerate(records, start=1):
        fields, line = record.fields, record.line
        ok = True
        texts: dict[str, str] = {}
        for ours in ("input", "output"):
            theirs = names[ours]
            label = ours if ours == theirs else f"{ours} (field {theirs!r})"
            if theirs not in fields:
                report.add(MISSING_FIELD, f"missing field {label}", line, field=ours)
                ok = False
                continue
            value = fields[theirs]
            if not isinstance(value, str):
                report.add(WRONG_TYPE, f"field {label} must be a string, got {json.dumps(value)[:60]}", line, field=ours)
                ok = False
                continue
            text = value.strip()
            if not report.check_text(text, f"field {label}", limits, line, field=ours):
                ok = False
            elif "\ufffd" in text and report.format in ("csv", "tsv", "json"):
                ok = False  # already reported as not-utf8 for its line
            texts[ours] = text
        group = _optional_str(fields.get(names["group"]), "group", names["group"], line, report)
        given_id = _optional_str(fields.get(names["id"]), "id", names["id"], line, report)
        if group is False or given_id is False:
            ok = False
        if not ok:
            continue
        if given_id:
            pair_id = given_id
        elif tldr and group:
            page_counts[group] = page_counts.get(group, 0) + 1
            pair_id = f"{group}#{page_counts[group]}"
        else:
            pair_id = str(number)
        if pair_id in seen_ids:
            report.add(DUPLICATE_ID, f"id {pair_id!r} is already used on line {seen_ids[pair_id]}; ids must be unique", line, field="id")
            continue
        seen_ids[pair_id] = line
        meta = {k: v for k, v in fields.items() if k not in used}
        if isinstance(meta.get("meta"), dict):  # our own canonical JSONL (saved data sets, splits)
            meta = {**{k: v for k, v in meta.items() if k != "meta"}, **meta["meta"]}
        if tldr:
            meta = {"command": fields.get("command"), "page": fields.get("page"), **meta}
        meta["line"] = line
        pairs.append(Pair(pair_id, texts["input"], texts["output"], group or None, meta))
    return pairs


def _optional_str(value: Any, ours: str, theirs: str, line: int, report: ValidationReport) -> str | None | bool:
    """An optional ``group``/``id`` value as text; numbers are accepted, other types are an error (False)."""
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        label = ours if ours == theirs else f"{ours} (field {theirs!r})"
        report.add(WRONG_TYPE, f"field {label} must be a string or number, got {json.dumps(value)[:60]}", line, field=ours)
        return False
    text = str(value).strip()
    return text or None


def find_duplicates(pairs: list[Pair], report: ValidationReport) -> None:
    """Warn about exact duplicates (same input and output) and conflicts (same input, other output)."""
    first_exact: dict[tuple[str, str], Pair] = {}
    outputs: dict[str, dict[str, Pair]] = {}
    keys = [normalise(pair.input) for pair in pairs]
    for pair, key_in in zip(pairs, keys):
        key_out = normalise(pair.output)
        earlier = first_exact.get((key_in, key_out))
        if earlier is not None:
            report.duplicates += 1
            report.add(DUPLICATE, f"exact duplicate of {_where(earlier)} (same input and output)", _line(pair), file=_file(pair))
        else:
            first_exact[(key_in, key_out)] = pair
        outputs.setdefault(key_in, {}).setdefault(key_out, pair)
    for per_output in outputs.values():
        if len(per_output) < 2:
            continue
        report.conflicting_inputs += 1
        first = next(iter(per_output.values()))
        others = list(per_output.values())[1:]
        for pair in others:
            report.add(
                CONFLICT,
                f"same input as {_where(first)} but a different output ({len(per_output)} different outputs for this input)",
                _line(pair),
                file=_file(pair),
            )
    report.conflicting_records = sum(1 for key in keys if len(outputs[key]) > 1)


def _line(pair: Pair) -> int | None:
    return pair.meta.get("line")


def _file(pair: Pair) -> str | None:
    return pair.meta.get("file")


def _where(pair: Pair) -> str:
    line, file = _line(pair), _file(pair)
    if file:
        return f"{file} line {line}" if line else file
    return f"line {line}" if line else f"pair {pair.id}"


def save_dataset(workspace: Workspace, dataset: LoadedDataset, name: str | None = None, extra: dict[str, Any] | None = None) -> Path:
    """Write the pairs (canonical JSONL) and ``dataset.json`` to ``<ws>/datasets/<name>/``, atomically.

    ``extra``: more manifest fields (a generated data set records its review counts and reviewers).
    """
    target = workspace.path("datasets", name or dataset.name)
    with atomic_directory(target) as tmp:
        with open(tmp / "pairs.jsonl", "w", encoding="utf-8") as handle:
            for pair in dataset.pairs:
                handle.write(json.dumps(pair.to_dict(), ensure_ascii=False, sort_keys=True) + "\n")
        (tmp / "dataset.json").write_text(
            json.dumps(
                {
                    "name": name or dataset.name,
                    "content_hash": dataset.content_hash,
                    "source": dataset.source,
                    "format": dataset.report.format,
                    "pairs": len(dataset.pairs),
                    "groups": len({p.group_key for p in dataset.pairs}),
                    **(extra or {}),
                },
                indent=2,
                sort_keys=True,
            )
            + "\n",
            encoding="utf-8",
        )
    return target
