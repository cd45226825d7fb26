"""Compare & report: the selected runs side by side with paired intervals, the evidence-updated verdict,
and the decision record to download (Markdown / HTML)."""

from __future__ import annotations

import streamlit as st

from ui.common import empty_state, guard, guarded, job_panel, recall, remember, workspace
from ui.views import escape_markdown


def _pick(ids: list[str]) -> list[str]:
    chosen = [i for i in recall("compare", []) if i in ids]
    picked = st.multiselect("Runs to compare", ids, default=chosen, key="rp-runs",
                            help="Pick runs evaluated on the same frozen split (e.g. base, best RAG, best LoRA).")
    remember("compare", picked)
    return picked


def _kind(view) -> None:
    """The runs' task kind: its metrics (primary first), and for classification the baselines, per class, confusion."""
    if view.problem:
        st.info(view.problem)
        return
    st.subheader(f"Task kind: {view.kind}")
    st.caption(f"Primary metric: **{view.primary}** (the kind's; the verdict follows it). {view.evidence}")
    st.dataframe(view.metric_rows, hide_index=True, width="stretch", key="rp-kind-metrics")
    if not view.reports:
        return
    st.markdown("**Baselines**: always answering the most frequent training label, and a label at random; a system "
                "below them has learned nothing useful about the classes")
    st.dataframe(view.baselines, hide_index=True, key="rp-baselines")
    ids = list(view.reports)
    run = st.selectbox("Per class and confusion matrix of", ids, index=ids.index(view.best) if view.best in ids else 0,
                       format_func=lambda r: view.names.get(r, r), key="rp-class-run")
    left, right = st.columns(2)
    left.markdown("**Per class**")
    left.dataframe(view.per_class(run), hide_index=True, key="rp-per-class")
    right.markdown("**Confusion matrix** (rows: reference, columns: answer)")
    right.dataframe(view.confusion(run), hide_index=True, key="rp-confusion")


def _comparison(ws, runs: list[str]) -> None:
    from studies.results.leaderboard import Leaderboard
    from ui.task_views import kind_view
    from ui.views import leaderboard_table, paired_comparisons

    board = Leaderboard(ws)
    rows = [board.get(r) for r in runs]
    view = kind_view(ws, rows)
    st.subheader("Scores with 95% intervals")
    st.dataframe(leaderboard_table(rows, view.primary), hide_index=True, width="stretch")
    _kind(view)
    reference = st.selectbox("Compare each run against", runs, key="rp-reference")
    st.subheader(f"Paired differences against {reference}")
    st.caption("Difference of means on the same test items, with a paired bootstrap interval and a paired test "
               "(McNemar for pass/fail metrics, permutation otherwise). A run is only called better when the "
               "interval excludes zero.")
    st.dataframe(paired_comparisons(ws, runs, reference), hide_index=True, width="stretch")


def _report(ws, runs: list[str]) -> None:
    from ui.views import decision_record, save_report

    st.subheader("Verdict and decision record")
    rec = recall("recommendation")
    st.caption("The questionnaire's recommendation from this session is the starting point the evidence confirms "
               "or overturns." if rec else "No questionnaire answered in this session: the verdict stands on the "
               "evidence alone (answer the Decide page first to test its recommendation).")
    from advisor.background import EVIDENCE
    from core.jobs import latest_job

    measured = latest_job(ws, EVIDENCE)  # new evidence stored since the record was built: build it again
    key = ("report", tuple(runs), bool(rec), measured.id if measured is not None and measured.state == "done" else None)
    view = recall("report-view")
    if view is None or recall("report-key") != key:
        view = None
        if st.button("Build the decision record", type="primary", key="rp-build", icon=":material/description:"):
            with st.spinner("Comparing runs, drawing plots..."):
                view = decision_record(ws, runs, rec)
            remember("report-view", view)
            remember("report-key", key)
    if view is None:
        return
    st.markdown(view.first_screen)
    with st.expander("Why: every reason behind the verdict"):
        st.markdown(view.verdict_markdown)
    columns = st.columns(max(1, len(view.plots)))
    for column, (name, png) in zip(columns, view.plots.items()):
        column.image(png, caption=name.replace("_", " "), width="stretch")
    c1, c2, c3 = st.columns(3)
    c1.download_button("Download decision record (Markdown)", view.markdown, file_name="decision-record.md",
                       mime="text/markdown", key="rp-md", help="Plots are referenced as PNG files; the HTML embeds them.")
    c2.download_button("Download decision record (HTML)", view.html, file_name="decision-record.html",
                       mime="text/html", key="rp-html", help="One self-contained file, plots embedded.")
    if c3.button("Save into the workspace", key="rp-save", icon=":material/save:"):
        with guard():
            paths = save_report(ws, view)
            st.success("Saved: " + ", ".join(f"`{p}`" for p in paths))
    with st.expander("Preview (Markdown source, without plots)"):
        st.code(view.markdown, language="markdown", wrap_lines=True)  # people's text shown as typed, never rendered


def _measured(job) -> None:
    lines = [f"- {part.replace('_', ' ')}: {escape_markdown(what)}" for part, what in job.result.get("parts", {}).items()]
    st.success("Evidence job finished; rebuild the decision record to see it.\n\n" + "\n".join(lines),
               icon=":material/query_stats:")


def _more_evidence(ws, runs: list[str]) -> None:
    from advisor.background import EVIDENCE, start_evidence

    with st.expander("Measure more evidence (runs in the background: minutes to hours on a CPU)"):
        st.caption("How much data would it take (the best LoRA retrained on 25%, 50% and 100% of the training split), "
                   "knowledge or behaviour (RAG with the gold document in the prompt), forgetting (fine-tunes on a "
                   "general held-out set). Stored once measured; the decision record then shows them.")
        c1, c2, c3 = st.columns(3)
        chosen = [part for part, box in (("learning_curve", c1.checkbox("Learning curve", key="rp-ev-curve")),
                                         ("oracle", c2.checkbox("Oracle context", key="rp-ev-oracle")),
                                         ("forgetting", c3.checkbox("Forgetting", key="rp-ev-forget"))) if box]
        if st.button("Measure", key="rp-ev-start", icon=":material/query_stats:", disabled=not chosen):
            with guard():
                start_evidence(ws, runs, chosen)
        job_panel(ws, EVIDENCE, _measured)


@guarded
def page() -> None:
    st.title("Compare & report")
    ws = workspace()
    if not ws.leaderboard_path.is_file():
        empty_state("No runs to compare yet: evaluate the RAG baseline, run a sweep, then pick runs on the "
                    "leaderboard.", page="RAG baseline", label="Build the RAG baseline")
        return
    from studies.results.leaderboard import Leaderboard

    ids = [r["run_id"] for r in Leaderboard(ws).runs()]
    runs = _pick(ids)
    if len(runs) < 2:
        empty_state("Pick at least two runs (here or on the leaderboard) to compare them.", page="Leaderboard",
                    label="Choose runs on the leaderboard")
        return
    with guard():
        _comparison(ws, runs)
    with guard():
        _report(ws, runs)
    _more_evidence(ws, runs)
