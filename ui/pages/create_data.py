"""Create data: candidate pairs from the team's documents, filtered, then reviewed one at a time by a person.

Thin over ``studies.data.creation``: every decision is stored durably the moment it is taken (a reload,
a crash or a closed tab loses nothing reviewed), and each decision button belongs to the candidate it
was shown with, so a double click can never judge the next candidate unseen.
"""

from __future__ import annotations

import streamlit as st

from ui import common
from ui.common import empty_state, guard, guarded, workspace
from ui.state import pace


def _generate(ws) -> None:
    from studies.data.creation.filters import FilterConfig
    from studies.data.creation.generation import GenerationRequest, generate

    with st.form("cd-generate"):
        corpus = st.text_input("Corpus (a file or folder on the server)", key="cd-corpus",
                               help="tldr pages.jsonl, a folder of .md/.txt/.rst files, or JSONL documents with id and text.")
        name = st.text_input("Name of this generation", key="cd-name", placeholder="e.g. handbook")
        c1, c2 = st.columns(2)
        extractive = c1.checkbox("Extractive rules (no model: sections, FAQs, definitions, options, code)", value=True, key="cd-ext")
        model = c2.checkbox("Model-written pairs with the local default model (slow on a CPU)", value=False, key="cd-model")
        near = st.slider("Near-duplicate threshold (cosine)", 0.80, 1.0, 0.92, 0.01, key="cd-near")
        submitted = st.form_submit_button("Generate", icon=":material/auto_awesome:", type="primary")
    if not submitted:
        return
    with guard():
        from studies.data.creation.model import LocalModelGenerator

        request = GenerationRequest(corpus=corpus.strip(), name=name.strip(), extractive=extractive,
                                    model=LocalModelGenerator(None, ws) if model else None,
                                    filters=FilterConfig(near_duplicate=float(near)))
        request.validate()
        from core.workspace import safe_name

        safe_name(request.name)
        with st.status("Generating candidates...", expanded=True) as status:
            bar = st.progress(0.0)

            def progress(stage: str, done: int, total: int) -> None:
                bar.progress(min(1.0, done / total) if total else 1.0, text=f"{stage}: {done} of {total}")

            result = generate(request, ws, common.encoder(None), progress)
            status.update(label=f"{result.report.summary()['kept']} candidate(s) ready for review", state="complete")
        summary = result.summary()
        st.session_state["cd-review-pick"] = request.name
        rows = [{"filter": k, "dropped": v, "share": f"{summary['shares'][k]:.0%}"} for k, v in summary["dropped"].items()]
        st.success(f"{summary['candidates']} candidate(s) from {result.documents} document(s); {summary['kept']} kept for review.")
        st.dataframe(rows, hide_index=True)


def _review(ws, names: list[str]) -> None:
    from studies.data.creation.review_queue import ReviewQueue

    # The picker's key depends on its options: a new generation re-renders it on the new list (no stale choice).
    pick_default = st.session_state.get("cd-review-pick")
    index = names.index(pick_default) if pick_default in names else len(names) - 1
    name = st.selectbox("Generation to review", names, index=index, key=f"cd-pick-{'|'.join(names)}")
    from ui.auth import user_name

    reviewer = st.text_input("Your name", value=user_name(), key="cd-reviewer",
                             help="Recorded with each decision and in the data set's manifest.")
    queue = ReviewQueue(ws, name)
    progress = queue.progress()
    st.progress(progress.reviewed / progress.total if progress.total else 1.0,
                text=f"{progress.reviewed} of {progress.total} reviewed: {progress.accepted} accepted, "
                     f"{progress.edited} edited, {progress.rejected} rejected")
    candidate = queue.next_pending()
    if candidate is None:
        st.success("Every candidate is reviewed. Build the data set below.", icon=":material/done_all:")
        return
    left, right = st.columns([3, 2])
    with left:
        st.caption(f"Candidate {candidate.id} · {candidate.generator} · document {candidate.doc_id}")
        question = st.text_area("Question", candidate.question, key=f"cd-q-{candidate.id}")
        answer = st.text_area("Answer", candidate.answer, key=f"cd-a-{candidate.id}", height=120)
        b1, b2, b3 = st.columns(3)
        accept = b1.button("Accept", key=f"cd-accept-{candidate.id}", icon=":material/check:", type="primary", shortcut="a")
        edit = b2.button("Save edit", key=f"cd-edit-{candidate.id}", icon=":material/edit:", shortcut="e")
        reject = b3.button("Reject", key=f"cd-reject-{candidate.id}", icon=":material/close:", shortcut="x")
        st.caption("Shortcuts: A accept · E save your edit · X reject. Decisions are saved at once; come back any time.")
    with right:
        before, span, after = queue.source(candidate)
        st.markdown(f"**Source: {candidate.title or candidate.doc_id}**")
        st.text(("..." if before else "") + before[-300:])
        st.code(span or "(source not found)", language=None, wrap_lines=True)
        st.text(after[:300] + ("..." if after else ""))
    choice = "accept" if accept else "edit" if edit else "reject" if reject else None
    if choice is not None and pace("create-data"):  # a double click or a key pressed twice: one decision
        with guard():
            queue.decide(candidate.id, choice, reviewer, question=question, answer=answer, expected_pending=True)
            st.rerun()


def _csv(ws, name: str) -> None:
    import tempfile
    from pathlib import Path

    from studies.data.creation.review_queue import ReviewQueue

    queue = ReviewQueue(ws, name)
    with tempfile.TemporaryDirectory() as tmp:
        data = queue.export_csv(Path(tmp) / "review.csv").read_bytes()
    st.download_button("Download CSV for a spreadsheet", data, file_name=f"{name}-review.csv", mime="text/csv",
                       key=f"cd-dl-{name}", icon=":material/download:")
    upload = st.file_uploader("Upload the reviewed CSV", type=["csv"], key=f"cd-up-{name}")
    reviewer = st.session_state.get("cd-reviewer", "")
    if upload is not None and st.button("Import decisions", key=f"cd-import-{name}-{upload.file_id}"):
        with guard(), tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "upload.csv"
            path.write_bytes(upload.getvalue())
            progress = queue.import_csv(path, reviewer)
            st.success(f"Imported: {progress.reviewed} of {progress.total} reviewed.")


def _build(ws, name: str) -> None:
    from studies.data.creation.review_queue import build_dataset

    dataset_name = st.text_input("Data set name", value=name, key=f"cd-ds-{name}")
    if st.button("Build the data set from accepted and edited pairs", key=f"cd-build-{name}", icon=":material/dataset:"):
        with guard():
            path = build_dataset(ws, name, dataset_name.strip() or name)
            st.success(f"Data set written to {path.name}: freeze a split of it on the Data page "
                       "(documents are the groups, so test questions come from documents held out of training).")
            common.link("Data", "Go to Data")


@guarded
def page() -> None:
    st.title("Create data from documents")
    st.caption("No labelled pairs yet? Generate candidates from your documents, let a person review each one, "
               "and build a versioned data set. See docs/data.md.")
    ws = workspace()
    with st.expander("1. Generate candidates", expanded=True):
        _generate(ws)
    from studies.data.creation.generation import generation_names

    names = list(generation_names(ws))
    st.subheader("2. Review")
    if not names:
        empty_state("Nothing to review yet: generate candidates above (or `advisor data generate --corpus PATH --name NAME`).")
        return
    _review(ws, names)
    name = st.session_state.get(f"cd-pick-{'|'.join(names)}", names[-1])
    with st.expander("Review in a spreadsheet instead (CSV round trip)"):
        _csv(ws, name)
    st.subheader("3. Build the data set")
    _build(ws, name)
