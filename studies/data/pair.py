"""The one record every data set is made of: an input, the output wanted, a group and provenance.

On its own so that loaders of every format (and everything downstream) can share it without
importing each other.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Pair:
    """One example: what the user asks (``input``) and the answer wanted (``output``)."""

    id: str
    """Stable id: the file's ``id`` field, else the record number (tldr: ``<page>#<n>``)."""
    input: str
    """The prompt / question, stripped of surrounding whitespace."""
    output: str
    """The expected answer, stripped of surrounding whitespace."""
    group: str | None = None
    """Pairs sharing a group never land in different splits (tldr: the page id)."""
    meta: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)
    """Other fields of the record (tldr: ``command`` and ``page``, the retrieval ground truth)."""

    @property
    def group_key(self) -> str:
        """The group used for splitting: ``group``, or the pair's own ``pair:<id>`` when it has none."""
        return self.group if self.group is not None else f"pair:{self.id}"

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "input": self.input, "output": self.output, "group": self.group, "meta": self.meta}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Pair":
        return cls(str(data["id"]), data["input"], data["output"], data.get("group"), dict(data.get("meta") or {}))
