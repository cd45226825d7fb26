"""Data: pick or upload a pair data set and a corpus, see every problem by line, freeze a split."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from core.uploads import MAX_UPLOAD_MB
from ui.common import guard, guarded, recall, remember, workspace
from ui.state import data_key, picker, select


@st.cache_data(show_spinner="Checking the data set...", max_entries=8)
def _check(path: str, mtime: float, mapping: str | None):
    from studies.data.datasets import load_pairs, parse_mapping

    return load_pairs(path, parse_mapping(mapping), strict=False)


@st.cache_data(show_spinner="Reading the corpus...", max_entries=8)
def _corpus(path: str, mtime: float):
    from rag.corpus import load_corpus

    return load_corpus(path)


def _mtime(path: Path) -> float:
    return path.stat().st_mtime if path.exists() else 0.0


def _uploader(ws, purpose: str, types: list[str], help_text: str) -> None:
    from core.uploads import store_upload

    upload = st.file_uploader(f"Upload a {'data set' if purpose == 'pairs' else 'corpus file'}", type=types,
                              key=f"upload-{purpose}", help=help_text)
    if upload is None:
        return
    if recall(f"uploaded-{purpose}") == upload.file_id:
        return  # this upload was stored already (reruns see the same file until it is removed)
    remember(f"uploaded-{purpose}", upload.file_id)
    with guard():
        path = store_upload(ws, upload.name, upload.getvalue(), purpose)
        select(f"pick-{purpose}", str(path))  # every picker of this purpose now shows the new file
        st.success(f"Stored `{upload.name}` in the workspace as `{path.name}`; it is selected below.")


def _picker(label: str, sources, purpose: str):
    return picker(label, sources, key=f"source-{purpose}", remember_as=f"pick-{purpose}", ident=lambda s: str(s.path),
                  format_func=lambda s: s.label)


def _problems_table(report) -> None:
    rows = [{"line": p.line, "file": p.file or "", "severity": p.severity, "kind": p.kind, "field": p.field or "",
             "problem": p.message} for p in report.problems]
    if not rows:
        st.success("No problems found.", icon=":material/check_circle:")
        return
    if report.errors:
        st.error(f"{len(report.errors)} error(s): this data set cannot be used until these lines are fixed "
                 "(the valid pairs are shown as counts only).", icon=":material/error:")
    if report.warnings:
        st.warning(f"{len(report.warnings)} warning(s): duplicates and conflicting answers; the data loads, but "
                   "consider cleaning them.", icon=":material/warning:")
    show = st.segmented_control("Show", ["all", "errors", "warnings"], default="all", key="problem-filter")
    if show == "errors":
        rows = [r for r in rows if r["severity"] == "error"]
    elif show == "warnings":
        rows = [r for r in rows if r["severity"] == "warning"]
    st.dataframe(rows, hide_index=True, width="stretch",
                 column_config={"line": st.column_config.NumberColumn("line", format="%d")})


def _readiness(dataset) -> None:
    from studies.data.readiness import readiness

    summary = readiness(dataset)
    st.markdown("**Readiness for fine-tuning**")
    box = {"too-small": st.warning, "minimal": st.info}.get(summary.level, st.success)
    box(f"{summary.pairs:,} pairs in {summary.groups:,} groups: {summary.verdict}")
    with st.expander("Lengths, groups and duplicates"):
        st.code(summary.render(), language=None)


def _task(dataset):
    """The task kind the data ask for, with its evidence and (classification) its label set; the person may override it."""
    from studies.data.kinds import KINDS
    from ui.task_views import choose_kind, label_rows

    st.markdown("**Task kind**")
    outputs = [p.output for p in dataset.pairs]
    inferred = choose_kind(outputs).inferred
    st.caption("The kind decides the metrics (and the one primary metric), the decoding and the prompts of every system. "
               "It is read from the outputs; change it here where the data mislead.")
    options = ["(as inferred)", *KINDS]
    kind = st.selectbox("Task kind", options, key=data_key("task-kind", dataset.content_hash),
                        format_func=lambda k: f"{inferred.kind} (as inferred)" if k == options[0] else k)
    labels = st.text_input("Label set (classification; comma separated)", key=data_key("task-labels", dataset.content_hash),
                           placeholder="default: the distinct training outputs",
                           help="Giving labels makes the task a classification over exactly these labels.")
    prompt = st.text_area("System prompt (optional)", key=data_key("task-prompt", dataset.content_hash),
                          placeholder="default: built for the kind from the data", height=68)
    choice = None
    with guard():
        choice = choose_kind(outputs, None if kind == options[0] else kind, labels, prompt)
    if choice is None:
        return None
    task = choice.task
    how = "your choice" if choice.overridden else "inferred"
    st.info(f"**{task.kind}** ({how}): {task.evidence}", icon=":material/category:")
    if task.labels:
        st.dataframe(label_rows(task, outputs), hide_index=True, key=data_key("task-label-table", dataset.content_hash))
    if task.schema:
        st.caption("Fields every answer should have: " + ", ".join(f"`{k}` ({v})" for k, v in task.schema.items()))
    return choice.override


def _split(ws, dataset, override=None) -> None:
    from studies.data.splits import list_splits, make_split, save_split

    st.subheader("3. Freeze a split")
    st.caption("Train / validation / test, group-aware (no group in two parts), seeded, and versioned by a content "
               "hash: every result later names the exact split it used.")
    seed = st.number_input("Seed", min_value=0, max_value=2**31 - 1, value=0, step=1, key="split-seed",
                           help="The same data and seed always give the same split (and version).")
    if st.button("Freeze split", type="primary", key="freeze"):
        with guard():
            split = make_split(dataset, seed=int(seed))
            if override is not None:  # the person's kind, labels and prompt, read against the train part only
                from ui.task_views import choose_kind

                split.task = choose_kind([p.output for p in split.train], *override).task
            save_split(ws, split)
            remember("split", split.version)
            counts = split.counts()
            st.success(f"Split `{split.version}` frozen: {counts['train']} train, {counts['validation']} validation, "
                       f"{counts['test']} test pairs.", icon=":material/lock:")
    existing: list = []
    with guard():  # a damaged manifest is shown as an error naming the file, not hidden
        existing = list_splits(ws)
    if existing:
        st.markdown("**Splits in this workspace**")
        st.dataframe([{"version": s["version"], "data set": s["dataset_name"], "task": s.get("task") or "", "seed": s["seed"],
                       **(s.get("counts") or {}), "created": s.get("created_at")} for s in existing],
                     hide_index=True, width="stretch")
    else:
        st.caption("No split frozen yet in this workspace.")


@guarded
def page() -> None:
    from core.uploads import UPLOAD_SUFFIXES
    from studies.data.sources import corpus_sources, pair_sources

    st.title("Data")
    st.caption(f"Uploads are limited to {MAX_UPLOAD_MB} MB per file (set in `.streamlit/config.toml`, checked again on "
               "the server): larger data sets stay on disk; check them with `advisor data check PATH`.")
    ws = workspace()

    st.subheader("1. Pair data set")
    _uploader(ws, "pairs", [s.lstrip(".") for s in UPLOAD_SUFFIXES["pairs"]],
              "JSONL, JSON or CSV/TSV with `input` and `output` fields (optional `group`, `id`); "
              "tldr pairs.jsonl or pages.jsonl work as they are.")
    source = _picker("Data set", pair_sources(ws), "pairs")
    mapping = st.text_input("Column names (only if yours differ)", key="mapping", placeholder="input=question,output=answer",
                            help="Map our fields (input, output, group, id) to your column names, comma separated.")
    dataset = None
    with guard():
        dataset = _check(str(source.path), _mtime(source.path), mapping or None)
    if dataset is None:
        return
    report = dataset.report
    cols = st.columns(6)
    for col, (label, value) in zip(cols, [("records", report.records), ("valid pairs", report.valid),
                                          ("errors", len(report.errors)), ("warnings", len(report.warnings)),
                                          ("duplicates", report.duplicates), ("conflicts", report.conflicting_inputs)]):
        col.metric(label, value)
    st.caption(f"Format: {report.format} · version `{dataset.content_hash[:12]}` · "
               f"{len({p.group_key for p in dataset.pairs})} groups")
    _problems_table(report)
    if not report.ok:
        return
    _readiness(dataset)
    override = _task(dataset)
    remember("dataset", str(source.path))
    if not str(source.path).startswith(str(ws.root / "datasets")):
        with st.expander("Save into the workspace"):
            name = st.text_input("Name", value=dataset.name, key=data_key("dataset-name", dataset.content_hash))
            if st.button("Save data set", key="save-dataset"):
                from studies.data.datasets import save_dataset

                with guard():
                    path = save_dataset(ws, dataset, name)
                    st.success(f"Saved as `{path.name}`.")

    st.subheader("2. Corpus (for RAG)")
    _uploader(ws, "corpus", [s.lstrip(".") for s in UPLOAD_SUFFIXES["corpus"]],
              "tldr pages.jsonl, JSONL documents with `id` and `text`, or one .md/.txt/.rst file.")
    corpus_source = _picker("Corpus", corpus_sources(ws), "corpus")
    with guard():
        corpus = _corpus(str(corpus_source.path), _mtime(corpus_source.path))
        c1, c2, c3 = st.columns(3)
        c1.metric("documents", len(corpus.documents))
        c2.metric("skipped", len(corpus.skipped))
        c3.metric("kind", corpus.kind)
        if corpus.skipped:
            st.dataframe([{"source": s.source, "reason": s.reason} for s in corpus.skipped], hide_index=True)
        remember("corpus", str(corpus_source.path))

    _split(ws, dataset, override)
