"""File formats for pair data sets: JSONL, JSON (array, or ``{"data": [...]}``) and CSV/TSV.

Readers turn a file into raw records ``(line, dict)`` and add every problem they meet (bad
JSON, non-UTF-8 bytes, malformed rows) to a :class:`ValidationReport` instead of stopping at
the first one. Field checks (missing, empty, too long) happen one level up, in
:mod:`studies.data.datasets`, the same way for every format.
"""

from __future__ import annotations

import bisect
import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.errors import DataError
from studies.data.validation import (
    BAD_JSON,
    BAD_RECORD,
    NOT_UTF8,
    Limits,
    ValidationReport,
)

FORMATS = ("jsonl", "json", "csv", "tsv")
_EXTENSIONS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "json", ".csv": "csv", ".tsv": "tsv"}
_SNIFF_BYTES = 8192


@dataclass
class Record:
    """One raw record: where it starts, where it ends, and its fields."""

    line: int
    end_line: int
    fields: dict[str, Any]


def read_bytes(path: Path, limits: Limits) -> bytes:
    """Read a data file after the size and binary checks; errors say what to do."""
    if not path.exists():
        raise DataError(f"Data file {path} does not exist. Check the path.")
    if not path.is_file():
        raise DataError(f"{path} is not a file (pass a JSONL, JSON or CSV file, or a folder of tldr pages).")
    size = path.stat().st_size
    if size > limits.max_file_bytes:
        raise DataError(
            f"{path} is {size:,} bytes; the limit is {limits.max_file_bytes:,} bytes. Split the file, or raise "
            "the limit (--max-bytes) if this really is one data set."
        )
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DataError(f"Cannot read {path}: {exc}.") from exc
    head = data[:_SNIFF_BYTES]
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise DataError(f"{path} is UTF-16 text; save it as UTF-8 (JSONL, JSON or CSV) and try again.")
    if b"\x00" in head:
        raise DataError(
            f"{path} looks like a binary file (it contains NUL bytes), not JSONL, JSON or CSV text. "
            "Is this the right file? (Compressed files must be decompressed first.)"
        )
    return data


def detect_format(path: Path, data: bytes) -> str:
    """Pick the format from the extension, else from the first non-blank character."""
    fmt = _EXTENSIONS.get(path.suffix.lower())
    if fmt == "json" and _looks_like_jsonl(data):
        return "jsonl"  # a .json file holding one object per line is common; read it as such
    if fmt:
        return fmt
    stripped = data.lstrip(b"\xef\xbb\xbf \t\r\n")
    if stripped.startswith(b"["):
        return "json"
    if stripped.startswith(b"{"):
        return "jsonl" if _looks_like_jsonl(data) else "json"
    return "csv"


def _looks_like_jsonl(data: bytes) -> bool:
    for raw in data.splitlines():
        if raw.strip():
            try:
                return isinstance(json.loads(raw), dict) and len(data.strip().splitlines()) > 1
            except (ValueError, UnicodeDecodeError, RecursionError):
                return False
    return False


def decode_lines(data: bytes, report: ValidationReport) -> tuple[list[str], set[int]]:
    """Decode line by line, reporting each non-UTF-8 line; returns (lines with U+FFFD, bad line numbers)."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    lines: list[str] = []
    bad: set[int] = set()
    for number, raw in enumerate(data.split(b"\n"), start=1):
        try:
            lines.append(raw.decode("utf-8"))
        except UnicodeDecodeError as exc:
            bad.add(number)
            report.add(
                NOT_UTF8,
                f"not valid UTF-8 (byte {exc.start + 1} of the line is {raw[exc.start:exc.start + 1]!r}); "
                "save the file as UTF-8",
                number,
            )
            lines.append(raw.decode("utf-8", errors="replace"))
    return lines, bad


def read_records(path: Path, fmt: str, data: bytes, report: ValidationReport) -> list[Record]:
    """Raw records of a JSONL, JSON or CSV/TSV file; problems go to ``report``."""
    lines, bad = decode_lines(data, report)
    if fmt == "jsonl":
        records = _jsonl(lines, bad, report)
    elif fmt == "json":
        records = _json("\n".join(lines), report)
    elif fmt in ("csv", "tsv"):
        records = _csv("\n".join(lines), "\t" if fmt == "tsv" else ",", report)
    else:
        raise DataError(f"Unknown data format {fmt!r}; expected one of {', '.join(FORMATS)}.")
    if fmt != "jsonl" and bad:
        records = [r for r in records if not any(r.line <= n <= r.end_line for n in bad)]
    return records


def json_lines(lines: list[str], bad: set[int], report: ValidationReport) -> Iterator[tuple[int, Any]]:
    """``(line number, decoded value)`` of each non-empty JSONL line; lines in ``bad`` (not UTF-8) are skipped,
    lines that do not decode are reported."""
    for number, text in enumerate(lines, start=1):
        if not text.strip() or number in bad:
            continue
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as exc:
            report.add(BAD_JSON, f"not valid JSON: {exc.msg} at column {exc.colno}", number)
            continue
        except RecursionError:
            report.add(BAD_JSON, "JSON nested too deeply", number)
            continue
        yield number, obj


def _jsonl(lines: list[str], bad: set[int], report: ValidationReport) -> list[Record]:
    report.records += sum(1 for text in lines if text.strip())
    records = []
    for number, obj in json_lines(lines, bad, report):
        if not isinstance(obj, dict):
            report.add(BAD_RECORD, f"expected a JSON object with input/output fields, got {_kind(obj)}", number)
            continue
        records.append(Record(number, number, obj))
    return records


def _kind(obj: Any) -> str:
    return {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}.get(type(obj), "a number")


class _Positions:
    """Offset -> 1-based line number."""

    def __init__(self, text: str) -> None:
        self.newlines: list[int] = []
        i = text.find("\n")
        while i != -1:
            self.newlines.append(i)
            i = text.find("\n", i + 1)

    def line(self, offset: int) -> int:
        return bisect.bisect_left(self.newlines, offset) + 1


def _skip_ws(text: str, i: int) -> int:
    while i < len(text) and text[i] in " \t\r\n":
        i += 1
    return i


def _json(text: str, report: ValidationReport) -> list[Record]:
    """A JSON array of objects, or an object whose ``data`` key holds one; item line numbers kept."""
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        report.add(BAD_JSON, f"not valid JSON: {exc.msg} at column {exc.colno}; nothing could be read", exc.lineno)
        return []
    except RecursionError:
        report.add(BAD_JSON, "JSON nested too deeply; nothing could be read", 1)
        return []
    pos = _Positions(text)
    decoder = json.JSONDecoder()
    start = _skip_ws(text, 0)
    if isinstance(doc, dict):
        if not isinstance(doc.get("data"), list):
            report.add(BAD_RECORD, 'expected a JSON array of objects, or an object with a "data" array', pos.line(start))
            return []
        start = _find_data_array(text, start, decoder)
    elif not isinstance(doc, list):
        report.add(BAD_RECORD, f"expected a JSON array of objects, got {_kind(doc)}", pos.line(start))
        return []
    records = []
    i = _skip_ws(text, start + 1)  # past '['
    while i < len(text) and text[i] != "]":
        obj, end = decoder.raw_decode(text, i)
        first, last = pos.line(i), pos.line(end - 1)
        report.records += 1
        if isinstance(obj, dict):
            records.append(Record(first, last, obj))
        else:
            report.add(BAD_RECORD, f"expected an object with input/output fields, got {_kind(obj)}", first)
        i = _skip_ws(text, end)
        if i < len(text) and text[i] == ",":
            i = _skip_ws(text, i + 1)
    return records


def _find_data_array(text: str, start: int, decoder: json.JSONDecoder) -> int:
    """Offset of the ``[`` that opens the top-level object's ``data`` value (the last one, as json does)."""
    found = -1
    i = _skip_ws(text, start + 1)  # past '{'
    while i < len(text) and text[i] != "}":
        key, i = decoder.raw_decode(text, i)
        i = _skip_ws(text, i)
        i = _skip_ws(text, i + 1)  # past ':'
        if key == "data":
            found = i
        _value, i = decoder.raw_decode(text, i)
        i = _skip_ws(text, i)
        if i < len(text) and text[i] == ",":
            i = _skip_ws(text, i + 1)
    return found


def _csv(text: str, delimiter: str, report: ValidationReport) -> list[Record]:
    """CSV/TSV with a header row; each row's line numbers are physical lines (quoted newlines allowed)."""
    csv.field_size_limit(max(csv.field_size_limit(), len(text)))  # long cells are judged by max_item_chars
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration:
        return []
    except csv.Error as exc:
        report.add(BAD_RECORD, f"the header row cannot be read: {exc}", 1)
        return []
    header = [h.strip() for h in header]
    records = []
    while True:
        first = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            report.add(BAD_RECORD, f"malformed CSV: {exc}; the rest of the file could not be read", first)
            break
        last = reader.line_num
        if not row or all(not cell.strip() for cell in row):
            continue
        report.records += 1
        if len(row) != len(header):
            report.add(
                BAD_RECORD,
                f"row has {len(row)} cell(s) but the header has {len(header)} ({', '.join(header)}); "
                "quote cells that contain the delimiter",
                first,
            )
            continue
        records.append(Record(first, last, dict(zip(header, row))))
    return records
