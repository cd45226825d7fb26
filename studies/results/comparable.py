"""Which leaderboard rows can stand side by side: scored on the same split version, part and items.

Sweep trials scored on 16 validation items and systems scored on 48 test items are not comparable;
a default view shows one comparable set and lists the others apart. Rows on the same split and part
whose evaluation took the first N items are on the same items exactly when N matches (the contract
evaluates a part in its stored order).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

PART_ORDER = {"test": 0, "validation": 1}
"""Test rows are what a decision compares; validation rows (sweep trials) come after."""


def comparable_key(row: dict[str, Any]) -> tuple[str, str, int]:
    """(split version, part, number of items) of a row."""
    return (str(row.get("split_version") or "?"), str(row.get("split_part") or "test"), int(row.get("n_items") or 0))


@dataclass
class ComparableView:
    """One set of rows scored on the same items, and every other set apart."""

    key: tuple[str, str, int] | None
    rows: list[dict[str, Any]]
    apart: dict[tuple[str, str, int], list[dict[str, Any]]] = field(default_factory=dict)

    def describe(self) -> str:
        if self.key is None:
            return "no runs"
        version, part, n = self.key
        return f"runs scored on the same {n} {part} items of split {version}"


def comparable_view(rows: Sequence[dict[str, Any]], key: tuple[str, str, int] | None = None) -> ComparableView:
    """The set to show by default (``key``, else the test-part set with the most rows, newest first on ties) and the rest."""
    groups: dict[tuple[str, str, int], list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault(comparable_key(r), []).append(r)
    if not groups:
        return ComparableView(None, [])
    if key is None or key not in groups:
        key = max(groups, key=lambda k: (-PART_ORDER.get(k[1], 2), len(groups[k]),
                                         max(str(r.get("created_at") or "") for r in groups[k])))
    return ComparableView(key, groups[key], {k: v for k, v in groups.items() if k != key})
