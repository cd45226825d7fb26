"""Validation of pair data sets: every problem found in one pass, each with its line number.

Errors make a data set unusable (bad JSON, missing fields, empty strings, non-UTF-8 bytes,
over-long items, repeated ids); warnings do not (exact duplicates, conflicting duplicates:
the same input with different outputs). A :class:`ValidationReport` holds them all, so a user
fixes a file once instead of once per problem.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Literal

from core.config import Problems
from core.errors import DataError

Severity = Literal["error", "warning"]

# Problem kinds (stable strings: the JSON output and the tests use them).
BAD_JSON = "bad-json"
BAD_RECORD = "bad-record"
MISSING_FIELD = "missing-field"
WRONG_TYPE = "wrong-type"
EMPTY = "empty"
NOT_UTF8 = "not-utf8"
TOO_LONG = "too-long"
DUPLICATE_ID = "duplicate-id"
DUPLICATE = "duplicate"
CONFLICT = "conflict"
NO_RECORDS = "no-records"
BAD_PAGE = "bad-page"
WARNING_KINDS = frozenset({DUPLICATE, CONFLICT})


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a data set, located as precisely as the format allows."""

    kind: str
    """Stable identifier, e.g. ``bad-json``, ``missing-field``, ``duplicate``, ``conflict``."""
    message: str
    """What is wrong and, where useful, what to do."""
    line: int | None = None
    """1-based line in the file where the record starts (None for file-level problems)."""
    field: str | None = None
    """The field concerned (``input``, ``output``, ...), when there is one."""
    severity: Severity = "error"
    """``error`` makes the data set invalid; ``warning`` is reported but the data loads."""
    file: str | None = None
    """For folders (tldr markdown pages): the file inside the folder."""

    def where(self) -> str:
        parts = []
        if self.file:
            parts.append(self.file)
        if self.line is not None:
            parts.append(f"line {self.line}")
        return " ".join(parts)

    def __str__(self) -> str:
        where = self.where()
        return f"{where}: {self.message}" if where else self.message

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "severity": self.severity, "line": self.line, "message": self.message}
        if self.field is not None:
            out["field"] = self.field
        if self.file is not None:
            out["file"] = self.file
        return out


@dataclass(frozen=True)
class Limits:
    """Size limits applied while loading; every one can be raised for unusual data."""

    max_file_bytes: int = 200_000_000
    """Refuse files larger than this (bytes) before reading them."""
    max_item_chars: int = 20_000
    """An input or output longer than this (characters) is an error."""

    def validate(self) -> None:
        problems = Problems("data limits")
        problems.check(self.max_file_bytes > 0, f"`max_file_bytes > 0` must hold, but got {self.max_file_bytes}")
        problems.check(self.max_item_chars > 0, f"`max_item_chars > 0` must hold, but got {self.max_item_chars}")
        problems.raise_if_any()


@dataclass
class ValidationReport:
    """Every problem found while loading one data set, plus the counts the readiness summary needs."""

    source: str
    """The file or folder that was read."""
    format: str
    """Detected format: ``jsonl``, ``json``, ``csv``, ``tsv``, ``tldr-pairs``, ``tldr-pages``, ``tldr-markdown``."""
    records: int = 0
    """Records read (valid or not)."""
    valid: int = 0
    """Records that became pairs."""
    problems: list[Problem] = field(default_factory=list)
    """Errors and warnings, in file order."""
    duplicates: int = 0
    """Records that repeat an earlier record exactly (same input and output)."""
    conflicting_inputs: int = 0
    """Distinct inputs that appear with more than one different output."""
    conflicting_records: int = 0
    """Records whose input appears with more than one different output."""
    suggested_mapping: dict[str, str] | None = None
    """When the input/output fields were not found: a mapping guessed from common names (text/label, ...)."""

    def add(self, kind: str, message: str, line: int | None = None, *, field: str | None = None, file: str | None = None) -> None:
        severity: Severity = "warning" if kind in WARNING_KINDS else "error"
        self.problems.append(Problem(kind, message, line, field, severity, file))

    def check_text(self, text: str, what: str, limits: Limits, line: int | None, *, field: str, file: str | None = None) -> bool:
        """True when a pair's (stripped) text is usable; an empty or over-long text is reported and gives False."""
        if not text:
            self.add(EMPTY, f"{what} is empty", line, field=field, file=file)
            return False
        if len(text) > limits.max_item_chars:
            self.add(
                TOO_LONG,
                f"{what} is {len(text):,} characters; the limit is {limits.max_item_chars:,} "
                "(raise it with --max-chars if long items are intended)",
                line,
                field=field,
                file=file,
            )
            return False
        return True

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "warning"]

    @property
    def ok(self) -> bool:
        """True when the data set is usable (warnings allowed)."""
        return not self.errors

    def counts(self) -> dict[str, int]:
        """Problems per kind."""
        return dict(sorted(Counter(p.kind for p in self.problems).items()))

    def sort(self) -> None:
        """Order problems by file, then line (file-level problems first)."""
        self.problems.sort(key=lambda p: (p.file or "", p.line if p.line is not None else -1))

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "format": self.format,
            "ok": self.ok,
            "records": self.records,
            "valid": self.valid,
            "errors": len(self.errors),
            "warnings": len(self.warnings),
            "duplicates": self.duplicates,
            "conflicting_inputs": self.conflicting_inputs,
            "conflicting_records": self.conflicting_records,
            "problem_counts": self.counts(),
            "problems": [p.to_dict() for p in self.problems],
            "suggested_mapping": self.suggested_mapping,
        }

    def render(self, max_warnings_per_kind: int | None = 20) -> str:
        """Human-readable listing: every error, warnings capped per kind (all of them in JSON output)."""
        head = f"{self.source} ({self.format}): {self.records} records, {self.valid} valid pairs"
        lines = [head]
        errors = self.errors
        if errors:
            lines.append(f"{len(errors)} error(s):")
            lines.extend(f"  - {p}" for p in errors)
        shown: Counter[str] = Counter()
        hidden: Counter[str] = Counter()
        warnings = self.warnings
        if warnings:
            lines.append(f"{len(warnings)} warning(s):")
            for p in warnings:
                if max_warnings_per_kind is not None and shown[p.kind] >= max_warnings_per_kind:
                    hidden[p.kind] += 1
                    continue
                shown[p.kind] += 1
                lines.append(f"  - {p}")
            for kind, n in sorted(hidden.items()):
                lines.append(f"  ... and {n} more {kind} warning(s) (use --format json to list all)")
        return "\n".join(lines)


class InvalidDataError(DataError):
    """A data set has errors; ``report`` holds every problem (the message lists them too)."""

    def __init__(self, report: ValidationReport, limit: int = 50) -> None:
        errors = report.errors
        listing = "\n".join(f"  - {p}" for p in errors[:limit])
        more = f"\n  ... and {len(errors) - limit} more" if len(errors) > limit else ""
        super().__init__(
            f"{report.source} is not a valid pair data set ({len(errors)} error(s)):\n{listing}{more}\n"
            "Fix these lines (or run `advisor data check FILE` for the full report) and try again."
        )
        self.report = report
