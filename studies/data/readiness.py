"""Readiness summary: is this data set big and clean enough to fine-tune on?

Counts, length statistics (characters and whitespace tokens), group balance, duplicates and
conflicts, and a verdict in plain words against the usual rule of thumb: LoRA fine-tuning
needs roughly 100 examples at the very least, works well from about 1,000, and keeps
improving into the 10,000s.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import asdict, dataclass
from typing import Any

from studies.data.datasets import LoadedDataset

MINIMUM = 100
WORKABLE = 1_000
COMFORTABLE = 10_000


@dataclass(frozen=True)
class LengthStats:
    """Distribution of one length measure over the pairs."""

    min: int
    median: float
    mean: float
    p95: int
    max: int

    @classmethod
    def of(cls, values: list[int]) -> "LengthStats":
        if not values:
            return cls(0, 0.0, 0.0, 0, 0)
        ordered = sorted(values)
        p95 = ordered[min(len(ordered) - 1, int(0.95 * (len(ordered) - 1) + 0.5))]
        return cls(ordered[0], float(statistics.median(ordered)), round(statistics.fmean(ordered), 1), p95, ordered[-1])


@dataclass(frozen=True)
class Readiness:
    """What ``advisor data check`` reports next to the validation problems."""

    pairs: int
    """Valid pairs."""
    groups: int
    """Distinct groups (a pair without a group counts as its own)."""
    ungrouped: int
    """Pairs without a group."""
    group_min: int
    """Fewest pairs in one group."""
    group_median: float
    """Median pairs per group."""
    group_max: int
    """Most pairs in one group."""
    largest_group_share: float
    """Share of all pairs in the largest group (high values make splits lumpy)."""
    input_chars: LengthStats
    output_chars: LengthStats
    input_tokens: LengthStats
    """Whitespace-separated tokens (a rough, tokenizer-free measure)."""
    output_tokens: LengthStats
    duplicates: int
    """Records that exactly repeat an earlier one."""
    conflicting_inputs: int
    """Inputs seen with more than one different output."""
    level: str
    """``too-small``, ``minimal``, ``workable`` or ``comfortable``."""
    verdict: str
    """The readiness in plain words."""
    reviewed: int | None = None
    """Generated data: pairs a person accepted or edited (None: not generated data)."""
    unreviewed: int = 0
    """Generated pairs nobody reviewed (splits refuse them without an explicit override)."""
    test_items: int = 0
    """Reviewed items the default test share (10%) would hold."""
    resolvable_difference: float | None = None
    """The smallest accuracy difference between two systems those test items can resolve (80% power, 5% level)."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def render(self) -> str:
        def stats(s: LengthStats) -> str:
            return f"min {s.min}, median {s.median:g}, mean {s.mean:g}, p95 {s.p95}, max {s.max}"

        return "\n".join(
            [
                f"pairs: {self.pairs:,} in {self.groups:,} group(s) ({self.ungrouped:,} without a group)",
                f"pairs per group: min {self.group_min}, median {self.group_median:g}, max {self.group_max} "
                f"(largest group holds {self.largest_group_share:.1%})",
                f"input length, chars: {stats(self.input_chars)}",
                f"input length, tokens: {stats(self.input_tokens)}",
                f"output length, chars: {stats(self.output_chars)}",
                f"output length, tokens: {stats(self.output_tokens)}",
                f"exact duplicates: {self.duplicates:,}; inputs with conflicting outputs: {self.conflicting_inputs:,}",
                f"verdict ({self.level}): {self.verdict}",
                *self._review_lines(),
            ]
        )

    def _review_lines(self) -> list[str]:
        if self.reviewed is None:
            return []
        lines = [f"review: {self.reviewed:,} reviewed generated pair(s), {self.unreviewed:,} unreviewed"]
        if self.resolvable_difference is not None:
            lines.append(f"test: about {self.test_items:,} reviewed test item(s) at the default 10% share resolve a difference of "
                         f"about {self.resolvable_difference:.2f} in accuracy between two systems; review more to resolve smaller ones")
        return lines


def verdict_for(pairs: int, duplicates: int = 0, conflicting_inputs: int = 0) -> tuple[str, str]:
    """``(level, sentence)`` for a pair count, against the usual 100 to 10,000+ examples."""
    if pairs < MINIMUM:
        level, text = "too-small", (
            f"{pairs:,} pairs is below the ~{MINIMUM} examples fine-tuning needs at the very least. "
            "Prefer prompting or RAG, or collect more examples before fine-tuning."
        )
    elif pairs < WORKABLE:
        level, text = "minimal", (
            f"{pairs:,} pairs is enough to try LoRA on a narrow, consistent task, but small: expect modest gains "
            f"and noisy comparisons (the test split holds only a few dozen items). {WORKABLE:,}+ examples is safer."
        )
    elif pairs < COMFORTABLE:
        level, text = "workable", (
            f"{pairs:,} pairs is a workable fine-tuning set; more (towards {COMFORTABLE:,}+) usually still helps."
        )
    else:
        level, text = "comfortable", f"{pairs:,} pairs is plenty for LoRA fine-tuning; quality matters more than quantity now."
    if pairs and (duplicates + conflicting_inputs) / pairs > 0.05:
        text += (
            f" Note: {duplicates:,} exact duplicates and {conflicting_inputs:,} inputs with conflicting outputs; "
            "a model cannot learn one answer for an input that has several."
        )
    return level, text


def resolvable_difference(n: int) -> float | None:
    """Smallest difference in a proportion two systems' n paired test items resolve at 80% power and a
    5% two-sided level, for the worst case (p = 0.5, independent errors): (1.96 + 0.84) * sqrt(0.5 / n)."""
    return None if n <= 0 else round(min(1.0, (1.96 + 0.84) * math.sqrt(0.5 / n)), 3)


def readiness(dataset: LoadedDataset) -> Readiness:
    """Summarise a loaded data set (valid pairs only)."""
    pairs = dataset.pairs
    states = [str(p.meta.get("review", "")).lower() for p in pairs]
    generated = any(states)
    reviewed = sum(1 for s in states if s in ("accepted", "edited"))
    test_items = round(0.1 * reviewed)
    sizes: dict[str, int] = {}
    for pair in pairs:
        sizes[pair.group_key] = sizes.get(pair.group_key, 0) + 1
    counts = sorted(sizes.values())
    report = dataset.report
    level, text = verdict_for(len(pairs), report.duplicates, report.conflicting_inputs)
    return Readiness(
        pairs=len(pairs),
        groups=len(sizes),
        ungrouped=sum(1 for p in pairs if p.group is None),
        group_min=counts[0] if counts else 0,
        group_median=float(statistics.median(counts)) if counts else 0.0,
        group_max=counts[-1] if counts else 0,
        largest_group_share=round(counts[-1] / len(pairs), 4) if counts else 0.0,
        input_chars=LengthStats.of([len(p.input) for p in pairs]),
        output_chars=LengthStats.of([len(p.output) for p in pairs]),
        input_tokens=LengthStats.of([len(p.input.split()) for p in pairs]),
        output_tokens=LengthStats.of([len(p.output.split()) for p in pairs]),
        duplicates=report.duplicates,
        conflicting_inputs=report.conflicting_inputs,
        level=level,
        verdict=text,
        reviewed=reviewed if generated else None,
        unreviewed=sum(1 for s in states if s == "unreviewed"),
        test_items=test_items if generated else 0,
        resolvable_difference=resolvable_difference(test_items) if generated else None,
    )
