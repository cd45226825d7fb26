"""A candidate pair and where it came from: the typed record every generator returns and every filter reads."""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class Candidate:
    """One generated question/answer pair with its provenance (never lost on the way to a data set)."""

    question: str
    """The input a user would send."""
    answer: str
    """The output wanted, taken from (or written about) the source span."""
    doc_id: str
    """The document the pair was made from: its group, so a document's pairs stay in one split part."""
    span: tuple[int, int]
    """Character span ``[start, end)`` of the source passage in the document's text."""
    generator: str
    """Which generator made it, e.g. ``extractive:definition`` or ``model:smollm2-135m-instruct``."""
    prompt: str = ""
    """The prompt template the generator used (empty for extractive rules)."""
    title: str = ""
    """The document's title (shown to reviewers)."""
    id: str = ""
    """Stable id: a hash of document, span, generator and question (set when empty)."""
    meta: dict[str, Any] = field(default_factory=dict)
    """Anything else a generator records (e.g. the raw model output)."""

    def __post_init__(self) -> None:
        self.span = (int(self.span[0]), int(self.span[1]))
        if not self.id:
            key = "\x00".join([self.doc_id, f"{self.span[0]}:{self.span[1]}", self.generator, self.question])
            self.id = "c-" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["span"] = list(self.span)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Candidate":
        fields = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        fields["span"] = tuple(fields.get("span") or (0, 0))
        return cls(**fields)
