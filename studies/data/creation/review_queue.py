"""Human review of generated candidates: accept, edit or reject each one; nothing reviewed is ever lost.

Decisions are appended to ``decisions.jsonl`` one line at a time (flushed and fsynced before the call
returns), so a crash or Ctrl-C loses at most the decision being written, and a torn last line is
ignored on the next read. The latest decision for a candidate wins (a reviewer may change their mind).
A CSV round trip serves teams that review in a spreadsheet. :func:`build_dataset` turns accepted and
edited pairs into a versioned data set whose manifest counts the review.
"""

from __future__ import annotations

import csv
import io
import json
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.errors import DataError
from core.workspace import Workspace
from studies.data.creation.candidates import Candidate
from studies.data.creation.store import DECISIONS, read_jsonl, run_dir

CHOICES = ("accept", "edit", "reject")
CSV_COLUMNS = ("id", "doc_id", "title", "question", "answer", "decision", "edited_question", "edited_answer", "source")
REVIEW_FIELD = "review"
"""The pair field that carries an item's review state into data sets: accepted, edited or unreviewed."""


@dataclass
class Decision:
    """One reviewer's verdict on one candidate (an edit carries the corrected question and answer)."""

    candidate_id: str
    decision: str
    reviewer: str
    question: str | None = None
    answer: str | None = None
    at: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"candidate_id": self.candidate_id, "decision": self.decision, "reviewer": self.reviewer,
                "question": self.question, "answer": self.answer, "at": self.at}


@dataclass
class ReviewProgress:
    total: int
    accepted: int
    edited: int
    rejected: int

    @property
    def reviewed(self) -> int:
        return self.accepted + self.edited + self.rejected

    @property
    def pending(self) -> int:
        return self.total - self.reviewed


class ReviewQueue:
    """The candidates of one generation run and the decisions taken on them so far."""

    def __init__(self, ws: Workspace, name: str) -> None:
        self.ws, self.name = ws, name
        self.dir = run_dir(ws, name)
        if not (self.dir / "candidates.jsonl").exists():
            raise DataError(f"No generation named {name!r} in {ws.root}; run `advisor data generate --corpus PATH --name {name}` first.")
        self.candidates = [Candidate.from_dict(row) for row in read_jsonl(self.dir / "candidates.jsonl")]
        self.by_id = {c.id: c for c in self.candidates}
        self.documents = {row["id"]: row for row in read_jsonl(self.dir / "documents.jsonl")}
        self.decisions: dict[str, Decision] = {}
        for row in read_jsonl(self.dir / DECISIONS, torn_lines_ok=True):
            if row.get("candidate_id") in self.by_id and row.get("decision") in CHOICES:
                self.decisions[row["candidate_id"]] = Decision(**{k: row.get(k) for k in Decision.__dataclass_fields__})

    def progress(self) -> ReviewProgress:
        counts = {choice: 0 for choice in CHOICES}
        for d in self.decisions.values():
            counts[d.decision] += 1
        return ReviewProgress(len(self.candidates), counts["accept"], counts["edit"], counts["reject"])

    def pending(self) -> list[Candidate]:
        return [c for c in self.candidates if c.id not in self.decisions]

    def next_pending(self) -> Candidate | None:
        return next((c for c in self.candidates if c.id not in self.decisions), None)

    def source(self, candidate: Candidate, margin: int = 300) -> tuple[str, str, str]:
        """(before, the source span, after) of a candidate's document, for showing it beside the pair."""
        text = str(self.documents.get(candidate.doc_id, {}).get("text", ""))
        a, b = candidate.span
        return text[max(0, a - margin):a], text[a:b], text[b:b + margin]

    def decide(self, candidate_id: str, decision: str, reviewer: str, question: str | None = None,
               answer: str | None = None, expected_pending: bool = False) -> Decision:
        """Record a decision durably. ``expected_pending``: refuse if the candidate was already decided
        (an app's guard against a double click storing a judgement on an item nobody saw)."""
        if candidate_id not in self.by_id:
            raise DataError(f"Candidate {candidate_id!r} is not in generation {self.name!r}.")
        if decision not in CHOICES:
            raise DataError(f"Decision must be one of {', '.join(CHOICES)}, but got {decision!r}.")
        if not str(reviewer or "").strip():
            raise DataError("A review needs the reviewer's name (who decided is recorded in the data set's manifest).")
        if expected_pending and candidate_id in self.decisions:
            raise DataError(f"Candidate {candidate_id} was already reviewed ({self.decisions[candidate_id].decision}); nothing changed.")
        if decision == "edit":
            original = self.by_id[candidate_id]
            question = (question or "").strip() or original.question
            answer = (answer or "").strip() or original.answer
            if question == original.question and answer == original.answer:
                decision, question, answer = "accept", None, None
        else:
            question = answer = None
        record = Decision(candidate_id, decision, reviewer.strip(), question, answer, time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
        self._append([record])
        self.decisions[candidate_id] = record
        return record

    def _append(self, records: Iterable[Decision]) -> None:
        data = "".join(json.dumps(r.to_dict(), ensure_ascii=False, sort_keys=True) + "\n" for r in records)
        path = self.dir / DECISIONS
        with open(path, "a", encoding="utf-8") as handle:
            if handle.tell() > 0 and not _ends_with_newline(path):
                handle.write("\n")  # a torn line from a crash stays on its own line, ignored on read
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())

    # ------------------------------------------------------------------------------- CSV round trip

    def export_csv(self, path: str | os.PathLike[str]) -> Path:
        """Every candidate with its source passage and current decision, for review in a spreadsheet."""
        out = Path(path)
        if not out.parent.is_dir():
            raise DataError(f"Folder {out.parent} does not exist; create it or pick another --export path.")
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        for c in self.candidates:
            d = self.decisions.get(c.id)
            writer.writerow({"id": c.id, "doc_id": c.doc_id, "title": c.title, "question": c.question, "answer": c.answer,
                             "decision": d.decision if d else "", "edited_question": (d.question or "") if d else "",
                             "edited_answer": (d.answer or "") if d else "", "source": self.source(c, 0)[1]})
        from core.atomic import atomic_write_text

        return atomic_write_text(out, buffer.getvalue())

    def import_csv(self, path: str | os.PathLike[str], reviewer: str) -> ReviewProgress:
        """Read decisions back from an exported CSV; every problem is listed and nothing is recorded if any."""
        try:
            text = Path(path).read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:
            raise DataError(f"Cannot read {path}: {exc}. Pass the CSV written by `advisor data review --export`.") from exc
        reader = csv.DictReader(io.StringIO(text))
        missing = {"id", "decision"} - set(reader.fieldnames or [])
        if missing:
            raise DataError(f"{path} has no column(s) {', '.join(sorted(missing))}; expected the columns {', '.join(CSV_COLUMNS)}.")
        problems: list[str] = []
        records: list[Decision] = []
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        for line, row in enumerate(reader, start=2):
            choice = (row.get("decision") or "").strip().lower()
            if not choice:
                continue  # not reviewed yet
            cid = (row.get("id") or "").strip()
            if cid not in self.by_id:
                problems.append(f"line {line}: unknown candidate id {cid!r}")
                continue
            if choice not in CHOICES:
                problems.append(f"line {line}: decision {choice!r} is not one of {', '.join(CHOICES)}")
                continue
            question = answer = None
            if choice == "edit":
                question = (row.get("edited_question") or "").strip() or self.by_id[cid].question
                answer = (row.get("edited_answer") or "").strip() or self.by_id[cid].answer
            old = self.decisions.get(cid)
            if old and (old.decision, old.question, old.answer) == (choice, question, answer):
                continue  # unchanged since the export
            records.append(Decision(cid, choice, reviewer.strip(), question, answer, now))
        if not str(reviewer or "").strip():
            problems.insert(0, "no reviewer name (pass --reviewer NAME)")
        if problems:
            raise DataError(f"{path}: {len(problems)} problem(s), nothing recorded:\n  - " + "\n  - ".join(problems[:50]))
        if records:
            self._append(records)
            for r in records:
                self.decisions[r.candidate_id] = r
        return self.progress()


def _ends_with_newline(path: Path) -> bool:
    with open(path, "rb") as handle:
        handle.seek(-1, os.SEEK_END)
        return handle.read(1) == b"\n"


def build_dataset(ws: Workspace, name: str, dataset_name: str | None = None, include_unreviewed: bool = False) -> Path:
    """Accepted and edited pairs (and, only when asked, unreviewed ones, marked so) as a versioned data set.

    Each pair keeps its provenance (document, span, generator) and its review state in the field
    ``review``; its group is the document, so a document's pairs never straddle train and test.
    """
    from studies.data.datasets import LoadedDataset, content_hash, save_dataset
    from studies.data.pair import Pair
    from studies.data.validation import ValidationReport

    queue = ReviewQueue(ws, name)
    prog = queue.progress()
    pairs: list[Pair] = []
    unreviewed = 0
    for c in queue.candidates:
        d = queue.decisions.get(c.id)
        if d is None and not include_unreviewed:
            continue
        if d is not None and d.decision == "reject":
            continue
        state = "unreviewed" if d is None else ("edited" if d.decision == "edit" else "accepted")
        unreviewed += d is None
        question = d.question if d is not None and d.decision == "edit" and d.question else c.question
        answer = d.answer if d is not None and d.decision == "edit" and d.answer else c.answer
        meta = {"doc": c.doc_id, "span": list(c.span), "generator": c.generator, REVIEW_FIELD: state,
                "reviewer": d.reviewer if d else None}
        pairs.append(Pair(id=c.id, input=question, output=answer, group=c.doc_id, meta=meta))
    if not pairs:
        raise DataError(f"Generation {name!r} has no accepted or edited pair yet ({prog.pending} pending, {prog.rejected} rejected); "
                        "review some first (app: Create data; CLI: `advisor data review`).")
    report = ValidationReport(str(queue.dir), "generated")
    dataset = LoadedDataset(dataset_name or name, pairs, report, content_hash(pairs), str(queue.dir))
    reviewers = sorted({d.reviewer for d in queue.decisions.values()})
    extra = {"review": {"accepted": prog.accepted, "edited": prog.edited, "rejected": prog.rejected,
                        "pending": prog.pending, "unreviewed_included": unreviewed, "reviewers": reviewers,
                        "generation": name}}
    return save_dataset(ws, dataset, dataset_name or name, extra=extra)
