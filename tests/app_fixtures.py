"""Helpers for the app tests: run one page in AppTest, a tiny fake embedder, a populated workspace."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "streamlit_app.py"
PAGES = ("decide", "data", "create_data", "rag", "sweeps", "leaderboard", "report", "review", "settings")


def page_test(name: str, timeout: float = 60):
    """An AppTest that runs one page function on its own (as st.navigation would)."""
    from streamlit.testing.v1 import AppTest

    return AppTest.from_string(f"from ui.pages.{name} import page\npage()\n", default_timeout=timeout)


class FakeEncoder:
    """A deterministic bag-of-words hashing encoder (rag.embedder.Encoder protocol): no model, instant."""

    name = "fake-hash-encoder"
    dimension = 64

    def embed(self, texts: Sequence[str], batch_size: int = 64, progress=None):
        out = np.zeros((len(texts), self.dimension), dtype="float32")
        for i, text in enumerate(texts):
            for token in re.findall(r"\w+", text.lower()):
                out[i, int(hashlib.md5(token.encode()).hexdigest(), 16) % self.dimension] += 1.0
            out[i] /= max(float(np.linalg.norm(out[i])), 1e-6)
            if progress is not None and (i + 1) % 50 == 0:
                progress(i + 1, len(texts))
        if progress is not None:
            progress(len(texts), len(texts))
        return out

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return [len(t.split()) for t in texts]


def errors_of(at) -> list[str]:
    """Exceptions and error boxes an AppTest run showed (empty when the page rendered cleanly)."""
    return [str(e.value) for e in at.exception] + [str(e.value) for e in at.error]


def populate(ws, pairs_path: Path, pages_path: Path, encoder) -> dict:
    """Fill a workspace through the libraries: a saved data set, a frozen split, an index, leaderboard rows."""
    from rag.corpus import load_corpus
    from rag.index import build_index
    from studies.data.datasets import load_pairs, save_dataset
    from studies.data.splits import make_split, save_split

    dataset = load_pairs(pairs_path)
    save_dataset(ws, dataset, "tldr-sample")
    split = make_split(dataset, seed=0)
    save_split(ws, split)
    build_index(ws, "tldr-rag", load_corpus(pages_path), encoder)
    made = {"dataset": "tldr-sample", "split": split.version, "index": "tldr-rag", "runs": []}
    made["runs"] = add_leaderboard_rows(ws, split)
    return made


def add_leaderboard_rows(ws, split) -> list[str]:
    """Two leaderboard rows (a 'rag' and a 'lora' run) on the split's test part, with fake predictions."""
    from studies.evaluation.run_items import predictions_path
    from studies.results.leaderboard import Leaderboard
    from studies.results.records import RunRecord

    board = Leaderboard(ws)
    artifacts = {name: {"predictions": str(predictions_path(ws, name))} for name in ("rag-demo-1", "lora-demo-1")}
    n = len(split.test)
    rows = [
        RunRecord(run_id="rag-demo-1", kind="rag", system="rag:tldr-rag", method="rag", base_model="smollm2-135m-instruct",
                  config={"retriever": "hybrid", "k": 3}, dataset_name=split.dataset_name,
                  dataset_version=split.dataset_hash, split_version=split.version, n_items=n,
                  metrics={"exact_match": {"mean": 0.30, "low": 0.20, "high": 0.41, "n": n},
                           "chrf": {"mean": 55.0, "low": 50.0, "high": 60.0, "n": n}},
                  latency_s=0.4, money_usd=0.0, artifacts=artifacts["rag-demo-1"]),
        RunRecord(run_id="lora-demo-1", kind="lora", system="lora:demo", method="lora", base_model="smollm2-135m-instruct",
                  config={"r": 8, "alpha": 16}, dataset_name=split.dataset_name, dataset_version=split.dataset_hash,
                  split_version=split.version, n_items=n, train_tokens=120_000,
                  metrics={"exact_match": {"mean": 0.35, "low": 0.24, "high": 0.46, "n": n},
                           "chrf": {"mean": 58.0, "low": 53.0, "high": 63.0, "n": n}},
                  latency_s=0.2, money_usd=0.05, artifacts=artifacts["lora-demo-1"]),
    ]
    from studies.evaluation.run_items import write_run_items

    for row, wrong_every in zip(rows, (3, 4)):
        write_run_items(ws, row.run_id, [
            {"item_id": p.id, "input": p.input, "reference": p.output, "group": p.group,
             "raw": f"```\n{p.output if i % wrong_every else 'ls -la'}\n```",
             "answer": p.output if i % wrong_every else "ls -la",
             "metrics": {"exact_match": float(bool(i % wrong_every)), "chrf": 100.0 if i % wrong_every else 10.0}}
            for i, p in enumerate(split.test)])
        board.record(row)
    return [r.run_id for r in rows]


SUPPORT_BOT = {
    "use_case": "answer support questions about our product catalogue",
    "change": ["knowledge"], "knowledge_change_rate": "daily", "citations_required": True,
    "knowledge_base_size": "medium", "labelled_pairs": "lt_100", "labelling_capacity": "some",
    "output_format": ["free_text"], "metric": "automatic", "prompting_result": "partial", "error_cost": "medium",
    "privacy": "cloud_ok", "gpus": "none", "training_budget": "small", "team_experience": "some",
}
"""A support bot over a catalogue that changes daily and must cite sources: the advisor says RAG."""


def by_key(at, kind: str, key: str):
    """The widget of ``kind`` whose key is ``key`` or ``key`` plus a state suffix (``ui.state`` derives keys
    from the options, the item shown or a generation: ``next-goals-0``, ``source-pairs-1a2b...``)."""
    found = [w for w in getattr(at, kind) if w.key == key or str(w.key).startswith(f"{key}-")]
    if not found:
        raise KeyError(f"no {kind} with key {key!r}[-...]; keys: {[w.key for w in getattr(at, kind)]}")
    return found[0]


def answer_questionnaire(at, answers: dict, max_sections: int = 12):
    """Walk the Decide page section by section, answering what each section shows, until the result."""
    for _ in range(max_sections):
        if not _has_button(at, "next"):
            break
        for widget_id, value in answers.items():
            key = f"q_{widget_id}"
            for kind in ("radio", "multiselect", "text_input", "number_input"):
                found = [w for w in getattr(at, kind) if str(w.key).startswith(f"{key}-g")]
                if found:
                    widget = found[0]
                    if kind == "radio" and isinstance(value, bool):
                        value = "yes" if value else "no"
                    widget.set_value(value)
        at.run()
        by_key(at, "button", "next").click().run()
    return at


def _has_button(at, key: str) -> bool:
    return any(b.key == key or str(b.key).startswith(f"{key}-") for b in at.button)


def run_jobs_inline(monkeypatch) -> None:
    """Background jobs (index builds, evaluations) run to the end inside the test, with the fake embedder:
    the page then reads their finished status as it would after a real background run."""
    import advisor.background
    import rag.embedder
    from core.jobs import run_here

    monkeypatch.setattr(advisor.background, "start_job", run_here)
    monkeypatch.setattr(rag.embedder, "as_encoder", lambda obj=None, ws=None: FakeEncoder())


SAMPLES = ROOT / "data" / "samples"


def add_kind_runs(ws, sample: str, answers: dict, store_report: dict | None = None) -> tuple:
    """Hand-made runs of one task kind (no model): a frozen split of ``data/samples/<sample>``, and per run id
    ``(kind, answer_of(index, pair))`` the answers scored by the kind's real metrics, stored as predictions and a
    leaderboard row the way the contract stores them. ``store_report[run_id] = False`` leaves the row without its
    set-level report (as rows from before it was stored): pages must then read the predictions."""
    from studies.data.datasets import load_pairs
    from studies.data.splits import make_split, save_split
    from studies.evaluation.metrics import score_all
    from studies.evaluation.run_items import predictions_path, write_run_items
    from studies.evaluation.stats import interval
    from studies.evaluation.tasks import metrics_for, primary_metric, task_report
    from studies.results.leaderboard import Leaderboard
    from studies.results.records import RunRecord

    split = make_split(load_pairs(SAMPLES / sample / "pairs.jsonl"), seed=0)
    save_split(ws, split)
    task, test = split.task, list(split.test)
    names, refs = metrics_for(task), [p.output for p in test]
    board = Leaderboard(ws)
    for run_id, (kind, answer_of) in answers.items():
        given = [answer_of(i, p) for i, p in enumerate(test)]
        values, _ = score_all(names, given, refs)
        write_run_items(ws, run_id, [
            {"item_id": p.id, "input": p.input, "reference": p.output, "group": p.group, "raw": a, "answer": a,
             "metrics": {n: values[n][i] for n in names}} for i, (p, a) in enumerate(zip(test, given))])
        report = task_report(task, given, refs) if (store_report or {}).get(run_id, True) else {}
        board.record(RunRecord(
            run_id=run_id, kind=kind, system=f"{kind}:{sample}", method=kind, base_model="smollm2-135m-instruct",
            config={"task": task.to_dict(), "task_report": report, "primary_metric": primary_metric(task), "metrics": names},
            task=task.kind, dataset_name=split.dataset_name, dataset_version=split.dataset_hash, split_version=split.version,
            split_part="test", n_items=len(test), metrics={n: interval(v).to_dict() for n, v in values.items()},
            latency_s=0.1, latency_p95_s=0.15, artifacts={"predictions": str(predictions_path(ws, run_id))}))
    return split, list(answers)


def classification_runs(ws) -> tuple:
    """Three hand-made runs on debian-sections: a right-on-three-quarters LoRA, a RAG that says 'net' half the time
    (its row without a stored report), and a base model answering no label at all."""
    return add_kind_runs(ws, "debian-sections", {
        "lora-cls": ("lora", lambda i, p: p.output if i % 4 else "games"),
        "rag-cls": ("rag", lambda i, p: p.output if i % 2 else "net"),
        "base-cls": ("base", lambda i, p: "I'm sorry for any confusion"),
    }, store_report={"rag-cls": False})
