"""Review: blind pairwise human review of two runs (same test input, two unlabelled outputs in random
order), and what the judgements say (win rates with intervals, Bradley-Terry, agreement)."""

from __future__ import annotations

import streamlit as st

from ui.common import empty_state, guard, guarded, recall, remember, workspace
from ui.state import action, data_key
from ui.views import neutral_text

SESSION = "review-session"
CHOICES = (("left", "Output 1 is better", ":material/looks_one:"), ("right", "Output 2 is better", ":material/looks_two:"),
           ("tie", "Tie", ":material/drag_handle:"), ("skip", "Skip", ":material/skip_next:"))


def _pick_pair(ids: list[str]) -> tuple[str, str, str]:
    chosen = [i for i in recall("compare", []) if i in ids]
    c1, c2 = st.columns(2)
    run_a = c1.selectbox("Run A", ids, index=ids.index(chosen[0]) if chosen else 0, key=data_key("rv-a", *ids, *chosen))
    others = [i for i in ids if i != run_a]
    default_b = chosen[1] if len(chosen) > 1 and chosen[1] in others else None
    run_b = c2.selectbox("Run B", others, index=others.index(default_b) if default_b else 0,
                         key=data_key("rv-b", *others, *chosen))
    from ui.auth import user_name

    reviewer = st.text_input("Your name", value=user_name(), key="rv-name", help="Stored with each judgement; you never see the same "
                             "item of a pair twice.")
    return run_a, run_b, reviewer


def _review(session) -> bool:
    """Show the current item; True once the session has no item left."""
    done = recall("review-position", 0)
    items = session.items
    if done >= len(items):
        st.success(f"Session finished: {session.recorded} judgement(s) stored. Thank you!", icon=":material/done_all:")
        if st.button("Close session", key="rv-close"):
            remember(SESSION, None)
            st.rerun()
        return True
    item = items[done]
    st.progress(done / len(items), text=f"Item {done + 1} of {len(items)}")
    st.markdown("**Input**")
    st.text(item.input)
    left, right = st.columns(2)
    with left:
        st.markdown("**Output 1**")
        st.code(neutral_text(item.left) or "(empty)", language=None, wrap_lines=True)
    with right:
        st.markdown("**Output 2**")
        st.code(neutral_text(item.right) or "(empty)", language=None, wrap_lines=True)
    st.caption("Both outputs are shown without code fences, backticks or prompts, so formatting does not tell the "
               "systems apart.")
    token = f"{session.session_id}-{item.position}"
    comment = st.text_input("Comment (optional)", key=f"rv-comment-{token}")
    cols = st.columns(len(CHOICES))
    for col, (choice, label, icon) in zip(cols, CHOICES):
        if action(label, key=f"rv-{choice}", token=token, container=col, icon=icon, paced="review",
                  type="primary" if choice != "skip" else "secondary"):
            with guard():
                session.record(item, choice, comment)
                remember("review-position", done + 1)
                st.rerun()
    return False


def _results(ws, run_a: str, run_b: str) -> None:
    from studies.governance.review import summarize

    summary = summarize(ws, run_a, run_b)
    st.subheader("Results so far")
    if not summary.judgements:
        st.caption("No judgements yet for this pair.")
        return
    st.dataframe([{"run": w.run_id, "wins": w.wins, "of decisive": w.decisive, "win rate": w.rate,
                   "95% interval": f"[{w.low:.2f}, {w.high:.2f}]",
                   "Bradley-Terry": summary.bradley_terry.get(w.run_id)} for w in summary.win_rates.values()],
                 hide_index=True)
    parts = [f"{summary.judgements} judgement(s), {summary.ties} tie(s), by "
             + ", ".join(f"{name} ({n})" for name, n in summary.reviewers.items())]
    if summary.reviewer_agreement is not None:
        parts.append(f"reviewers agree on {summary.reviewer_agreement:.0%} of {summary.overlap_items} shared items "
                     f"(kappa {summary.kappa:.2f})" if summary.kappa is not None else "")
    if summary.metric_agreement is not None:
        parts.append(f"the preferred output also scores higher on {summary.metric} in {summary.metric_agreement:.0%} "
                     f"of {summary.metric_compared} cases")
    st.caption("; ".join(p for p in parts if p) + ".")
    _judge(ws, run_a, run_b)


def _judge(ws, run_a: str, run_b: str) -> None:
    """Where a model judge graded the pair: its agreement with these judgements, and whether it may decide a verdict."""
    from studies.evaluation.judge import load_judge_record
    from studies.governance.judge_agreement import judge_gate

    if load_judge_record(ws, run_a) is None and load_judge_record(ws, run_b) is None:
        return
    gate = judge_gate(ws, [run_a, run_b])
    st.caption(f"Model judge: {'counts in a verdict' if gate.counts else 'shown for information only'}: {gate.reason}.")


@guarded
def page() -> None:
    st.title("Review")
    st.caption("Blind pairwise review: you see a test input and two outputs in random order, without knowing which "
               "system wrote which. Pick the better one, or call a tie. Every judgement is stored at once.")
    ws = workspace()
    if not ws.leaderboard_path.is_file():
        empty_state("Nothing to review yet: evaluate at least two systems on the same split first.",
                    page="RAG baseline", label="Evaluate the RAG baseline")
        return
    from studies.evaluation.run_items import predictions_path
    from studies.results.leaderboard import Leaderboard

    ids = [r["run_id"] for r in Leaderboard(ws).runs() if predictions_path(ws, r["run_id"]).is_file()]
    if len(ids) < 2:
        empty_state("Review needs two runs with stored predictions (evaluate two systems on the same split).",
                    page="Leaderboard", label="Open the leaderboard")
        return
    session = recall(SESSION)
    if session is None:
        run_a, run_b, reviewer = _pick_pair(ids)
        if st.button("Start reviewing", type="primary", key="rv-start"):
            from studies.governance.review import start_session

            with guard():
                session = start_session(ws, run_a, run_b, reviewer)
                if not session.items:
                    st.info("You have judged every item of this pair already.")
                    session = None
                remember(SESSION, session)
                remember("review-position", 0)
                if session is not None:
                    st.rerun()
        with guard():
            _results(ws, run_a, run_b)
        return
    st.caption(f"Reviewer: {session.reviewer} · session {session.session_id}")
    if _review(session):
        with guard():
            _results(ws, session.run_a, session.run_b)
        return
    if st.button("Stop and show results", key="rv-stop"):
        remember(SESSION, None)
        st.rerun()
    st.caption("Results, and which system wrote what, are shown once the session ends: seeing them while judging "
               "would unblind the review.")
