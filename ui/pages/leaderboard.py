"""Leaderboard: every evaluated run, filterable and sortable, with intervals and a Pareto view;
select runs to compare; accept or reject a run (through the promotion gate) with a reason."""

from __future__ import annotations

import streamlit as st

from ui import common
from ui.common import empty_state, guard, guarded, job_panel, recall, remember, workspace
from ui.state import picker
from ui.views import escape_markdown


def _filters(board, runs: list[dict]) -> dict:
    kinds = sorted({r["kind"] for r in runs})
    statuses = sorted({r["status"] for r in runs if r.get("status")})
    studies = sorted({r["study"] for r in runs if r.get("study")})
    c1, c2, c3 = st.columns(3)
    chosen = {
        "kind": c1.multiselect("Kind", kinds, key="lb-kind", placeholder="all kinds"),
        "status": c2.multiselect("Status", statuses, key="lb-status", placeholder="any status"),
        "study": c3.multiselect("Study", studies, key="lb-study", placeholder="all studies"),
    }
    return {k: v for k, v in chosen.items() if v}


def _intervals_chart(rows: list[dict], metric: str):
    import altair as alt
    import pandas as pd

    data = pd.DataFrame([{"run": r["run_id"], "kind": r["kind"], "mean": r["metrics"][metric]["mean"],
                          "low": r["metrics"][metric].get("low"), "high": r["metrics"][metric].get("high")}
                         for r in rows if metric in (r.get("metrics") or {})])
    if data.empty:
        return None
    order = data.sort_values("mean", ascending=False)["run"].tolist()
    y = alt.Y("run:N", sort=order, title=None)
    x = alt.X("low:Q", title=f"{metric} (95% interval)", scale=alt.Scale(zero=False))
    bars = alt.Chart(data).mark_rule(strokeWidth=3).encode(y=y, x=x, x2="high:Q", color="kind:N")
    points = alt.Chart(data).mark_point(filled=True, size=80).encode(
        y=y, x=alt.X("mean:Q", scale=alt.Scale(zero=False)), color="kind:N", tooltip=["run", "kind", "mean", "low", "high"])
    return (bars + points).properties(title=f"{metric} with 95% bootstrap intervals", height=alt.Step(28))


def _pareto_chart(rows: list[dict], front: list[dict], metric: str, cost: str):
    import altair as alt
    import pandas as pd

    on_front = {r["run_id"] for r in front}
    data = pd.DataFrame([{"run": r["run_id"], "kind": r["kind"], "quality": r["metrics"][metric]["mean"],
                          "cost": r.get(cost) or 0.0, "Pareto front": r["run_id"] in on_front}
                         for r in rows if metric in (r.get("metrics") or {})])
    if data.empty:
        return None
    points = alt.Chart(data).mark_point(size=80, filled=True).encode(
        x=alt.X("cost:Q", title=cost), y=alt.Y("quality:Q", title=metric), color="kind:N",
        shape=alt.Shape("Pareto front:N"), tooltip=["run", "kind", "quality", "cost"])
    line = alt.Chart(data[data["Pareto front"]].sort_values("cost")).mark_line(strokeDash=[4, 3], color="gray").encode(
        x="cost:Q", y="quality:Q")
    return (line + points).properties(title=f"Quality ({metric}) against cost ({cost}): the front is dashed")


def _decide(ws, run_ids: list[str]) -> None:
    from advisor.decisions import decide_run, gate_preview
    from ui.views import gate_headline, gate_rows

    st.subheader("Accept or reject a run")
    st.caption("Accepting goes through the promotion gate: the plan's thresholds, the responsible-AI checks (a failed "
               "check can be waived, with a reason) and human review where the plan asks for it. Accepted "
               "fine-tunes are copied into the registry. A reason is always required.")
    run_id = picker("Run", run_ids, key="lb-decide-run", remember_as="decide-run")
    waivers = st.text_area("Waivers (optional, one per line: `check_name: reason`)", key="lb-waivers", height=68)
    if st.button("Check the gate", key="lb-gate", icon=":material/fact_check:"):
        with guard():
            verdict = gate_preview(ws, run_id, waivers)
            (st.success if verdict.passed else st.warning)(gate_headline(verdict))
            st.dataframe(gate_rows(verdict), hide_index=True, width="stretch")
    with st.form("decide-run"):
        verdict = st.radio("Decision", ["accept", "reject"], horizontal=True, key="lb-decision")
        from ui.auth import user_name

        by = st.text_input("Your name", value=user_name(), key="lb-by")
        reason = st.text_area("Reason", key="lb-reason", placeholder="e.g. beats the RAG baseline on exact match; "
                              "checks clean; reviewed by two people")
        submitted = st.form_submit_button("Record decision", type="primary")
    if submitted:
        with guard():
            st.success(escape_markdown(decide_run(ws, run_id, verdict == "accept", by, reason, waivers)),
                       icon=":material/gavel:")


def _exported(job) -> None:
    r = job.result
    (st.success if r.get("passed") else st.warning)(
        f"Exported run `{r['run_id']}` as {r['format']}{' ' + r['quant'] if r.get('quant') else ''}: the check on the "
        f"frozen test split says **{escape_markdown(r['verdict'])}**.", icon=":material/ios_share:")


def _export(ws, rows: list[dict]) -> None:
    from advisor.background import EXPORT, start_export
    from studies.governance.export import FORMATS
    from studies.governance.gguf_file import QUANTS
    from ui.views import export_rows, exportable_runs

    st.subheader("Export an accepted fine-tune")
    runs = exportable_runs(rows)
    if not runs:
        st.caption("Accepted fine-tunes can be exported for serving (merged checkpoint, GGUF, Ollama Modelfile); none "
                   "is accepted yet.")
        return
    st.caption("Each export is loaded back by an independent loader and re-run on the first test items of the evaluation "
               "it was accepted on: it says \"matches\" or lists the items that differ. See docs/export.md for serving.")
    c1, c2, c3 = st.columns(3)
    run_id = picker("Accepted run", runs, key="lb-export-run", remember_as="export-run")
    fmt = c1.selectbox("Format", FORMATS, key="lb-export-format")
    quant = c2.selectbox("GGUF type", QUANTS, key="lb-export-quant", disabled=fmt == "merged",
                         help="merged checkpoints keep the evaluation's float32 weights")
    sample = c3.number_input("Test items to re-check", 1, 10_000, 48, key="lb-export-sample")
    if st.button("Export and check", key="lb-export", icon=":material/ios_share:", type="primary"):
        with guard():
            start_export(ws, run_id, fmt, None if fmt == "merged" else quant, int(sample))
    job_panel(ws, EXPORT, _exported)
    with guard():
        table = export_rows(ws, run_id)
        if table:
            st.dataframe(table, hide_index=True, width="stretch")


@guarded
def page() -> None:
    st.title("Leaderboard")
    ws = workspace()
    if not ws.leaderboard_path.is_file():
        empty_state("No runs yet. Build a RAG baseline and evaluate it, or start a sweep: every evaluated run lands "
                    "here with its intervals.", page="RAG baseline", label="Build the RAG baseline")
        return
    from studies.results.leaderboard import Leaderboard
    from studies.results.records import COST_COLUMNS
    from ui.views import evaluation_groups, leaderboard_table

    board = Leaderboard(ws)  # holds no connection: every query opens and closes its own
    every = board.runs()
    if not every:
        empty_state("The leaderboard is empty: evaluate a system (RAG page) or run a sweep.", page="RAG baseline")
        return
    filters = _filters(board, every)
    groups = evaluation_groups(board.runs(**filters))
    if not groups:
        st.info("No run matches these filters.")
        return
    group = groups[0]
    if len(groups) > 1:
        group = picker("Evaluated on", groups, key="lb-group", remember_as="lb-group", ident=lambda g: g.label,
                       help="Scores are only ranked against runs on the same split and the same number of test "
                            "items: 3 lucky items are not 48.")
        st.caption(f"{len(groups)} evaluation settings on this leaderboard: runs are ranked within one at a time.")
    runs = group.runs
    metrics = board.metric_names()
    c1, c2 = st.columns(2)
    metric = c1.selectbox("Metric", metrics, key="lb-metric") if metrics else None
    cost = c2.selectbox("Cost", COST_COLUMNS, key="lb-cost")
    table = leaderboard_table(runs, metric, cost)
    if metric:
        table.sort(key=lambda r: (r.get(metric) is None, -(r.get(metric) or 0.0)))
    if metric and table and table[0].get(metric) is not None:
        top = table[0]
        st.markdown(f"**Best on {metric}:** `{top['run']}` ({top['system'] or top['kind']}): {top[metric]:.3f} "
                    f"{top[f'{metric} interval']} · among {len(table)} run(s) on {group.label.rsplit(' · ', 1)[0]}")
    st.dataframe(table, hide_index=True, width="stretch")
    st.caption(f"{len(runs)} of {len(every)} runs shown. Click a column header to sort; intervals are 95% paired bootstrap.")

    if metric:
        tab1, tab2 = st.tabs(["Intervals", "Pareto view"])
        with tab1:
            chart = _intervals_chart(runs, metric)
            if chart is not None:
                st.altair_chart(chart, width="stretch")
        with tab2:
            shown = {r["run_id"] for r in runs}
            front = [r for r in board.pareto(metric, cost, **filters) if r["run_id"] in shown]
            chart = _pareto_chart(runs, front, metric, cost)
            if chart is not None:
                st.altair_chart(chart, width="stretch", height=340)
            st.caption("On the front: " + ", ".join(f"`{r['run_id']}`" for r in front))

    st.subheader("Compare")
    ids = [r["run_id"] for r in runs]
    default = [i for i in recall("compare", []) if i in ids]
    chosen = st.multiselect("Runs to compare", ids, default=default, key="lb-compare",
                            help="Pick two or more runs evaluated on the same split.")
    remember("compare", chosen)
    if len(chosen) >= 2:
        common.link("Compare & report", f"Compare these {len(chosen)} runs")
    else:
        st.caption("Pick at least two runs to compare them on the Compare & report page.")
    _decide(ws, ids)
    _export(ws, every)
