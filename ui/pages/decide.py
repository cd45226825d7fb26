"""Decide: the questionnaire one section at a time, then the explained recommendation.

Light on purpose: this is the first page, so it imports only the advisor layer (no torch, faiss,
duckdb) and renders in well under a second.
"""

from __future__ import annotations

import streamlit as st

from ui.common import guard, guarded, link, recall, remember
from ui.state import action, bump, generation

ANSWERS = "answers"
STEP = "decide-step"
YES_NO = ("yes", "no")


def _widget(question, current):
    """One question as a widget; returns the typed answer (None when unanswered)."""
    key = f"q_{question.id}-g{generation('answers')}"  # a load or reset makes fresh widgets
    label = question.text + ("" if question.required else " (optional)")
    values = question.values()
    if current is None and question.default not in (None, ""):
        current = question.default
    if question.type == "choice":
        index = values.index(current) if current in values else None
        return st.radio(label, values, index=index, format_func=question.label_of, help=question.help, key=key)
    if question.type == "multi":
        default = [v for v in (current or []) if v in values]
        return st.multiselect(label, values, default=default, format_func=question.label_of, help=question.help,
                              key=key, placeholder="Pick all that apply") or None
    if question.type == "bool":
        index = None if current is None else (0 if current else 1)
        choice = st.radio(label, YES_NO, index=index, horizontal=True, help=question.help, key=key)
        return None if choice is None else choice == "yes"
    if question.type == "number":
        return st.number_input(label, min_value=question.min, max_value=question.max, value=current,
                               help=question.help, key=key)
    text = st.text_input(label, value=current or "", help=question.help, key=key)
    return text.strip() or None


def _load_saved(qn) -> None:
    from advisor.answers import parse_saved_answers

    with st.expander("Load saved answers"):
        upload = st.file_uploader("Answers file (YAML or JSON)", type=["yaml", "yml", "json"], key="answers-file",
                                  help="A file downloaded from this page, or written for `advisor decide --answers`.")
        if upload is not None and action("Load these answers", key="load-answers", token=upload.file_id):
            with guard():
                answers, problems = parse_saved_answers(upload.getvalue(), upload.name, qn)
                remember(ANSWERS, answers)
                remember(STEP, 0)
                bump("answers")  # the widgets start over on the loaded values
                bump("nav")
                st.success(f"Loaded {len(answers)} answers: each section below shows them; press Next to go through.")
                for problem in problems:
                    st.warning(problem)


def _encode(answers: dict, step: int) -> str:
    import base64
    import json
    import zlib

    raw = json.dumps({"a": answers, "s": step}, separators=(",", ":"), default=str).encode()
    return base64.urlsafe_b64encode(zlib.compress(raw, 9)).decode()


def _restore(qn) -> None:
    """Answers survive a reload: they travel in the page's address (``?answers=...``), per browser tab."""
    import base64
    import binascii
    import json
    import zlib

    if recall(ANSWERS) is not None or "answers" not in st.query_params:
        return
    try:
        data = json.loads(zlib.decompress(base64.urlsafe_b64decode(st.query_params["answers"].encode())))
        answers = {k: v for k, v in dict(data.get("a") or {}).items() if k in qn}
        step = int(data.get("s") or 0)
    except (ValueError, TypeError, zlib.error, binascii.Error, AttributeError):
        return  # an edited or truncated address: start afresh
    remember(ANSWERS, answers)
    remember(STEP, step)


def _keep(answers: dict, step: int) -> None:
    encoded = _encode({k: v for k, v in answers.items() if v is not None}, step)
    if st.query_params.get("answers") != encoded:
        st.query_params["answers"] = encoded


def _navigate(step: int) -> None:
    remember(STEP, step)
    bump("nav")
    st.rerun()


def _questionnaire(qn) -> bool:
    """Render the current section; True once every section is answered and the person asks for the result."""
    from advisor.answers import applicable_sections, section_problems, section_questions

    answers: dict = dict(recall(ANSWERS, {}))
    sections = applicable_sections(qn, answers)
    step = min(recall(STEP, 0), len(sections))
    if step >= len(sections):
        _keep(answers, step)
        return True
    section = sections[step]
    st.progress(step / len(sections), text=f"Section {step + 1} of {len(sections)}: {qn.sections[section]}")
    st.subheader(qn.sections[section])
    for question in section_questions(qn, section, answers):
        answers[question.id] = _widget(question, answers.get(question.id))
    remember(ANSWERS, answers)
    _keep(answers, step)

    token = f"{section}-{generation('nav')}"  # a double click acts on the section shown, once
    back, forward, _ = st.columns([1, 1, 4])
    if step > 0 and action("Back", key="back", token=token, container=back, paced="nav", icon=":material/arrow_back:"):
        _navigate(step - 1)
    last = step == len(sections) - 1
    if action("See the recommendation" if last else "Next", key="next", token=token, container=forward,
              paced="nav", type="primary", icon=":material/check:" if last else ":material/arrow_forward:"):
        problems = section_problems(qn, section, answers)
        if problems:
            st.warning("Before going on: " + "; ".join(problems) + ".")
        else:
            # The next run recounts the sections: these answers may make later ones apply or not.
            _navigate(step + 1)
    return False


def _recommendation(qn) -> None:
    from advisor.answers import answers_yaml
    from advisor.questions import validate_answers
    from ui.views import recommendation_view

    st.progress(1.0, text="All sections answered")
    if action("Change my answers", key="restart", token=str(generation("nav")), icon=":material/edit:"):
        _navigate(0)
    answers = validate_answers(recall(ANSWERS, {}), qn)  # a problem shows above, with the button to fix it
    view = recommendation_view(answers)
    st.header(view.headline)
    st.markdown(view.summary)
    for section in view.sections():  # the same parts, in the same order, as `advisor decide` prints
        st.subheader(section.title)
        if section.title == "Estimates":
            st.caption(view.estimates_note)
            st.dataframe(view.estimates, hide_index=True, width="stretch",
                         column_config={"estimate": st.column_config.TextColumn("estimate", width="large")})
            continue
        numbered = section.title == "Next steps"
        for n, item in enumerate(section.items, start=1):
            st.markdown(f"{n}. {item}" if numbered else f"- {item}")
    remember("recommendation", view.as_dict)
    c1, c2, c3 = st.columns(3)
    c1.download_button("Download answers (YAML)", answers_yaml(answers, qn), file_name="answers.yaml",
                       mime="application/x-yaml", key="dl-answers")
    c2.download_button("Download recommendation (Markdown)", view.markdown, file_name="recommendation.md",
                       mime="text/markdown", key="dl-rec-md")
    c3.download_button("Download recommendation (JSON)", view.json, file_name="recommendation.json",
                       mime="application/json", key="dl-rec-json")
    with guard():
        from advisor.sweep_launch import recommendation_plan

        plan = recommendation_plan(answers, dataset=recall("dataset"), corpus=recall("corpus"),
                                   split_version=recall("split"))
        st.download_button("Download the experiment plan (YAML)", plan.to_yaml(), file_name="plan.yaml",
                           mime="application/x-yaml", key="dl-plan",
                           help="Runs as is: `advisor sweep start --plan plan.yaml`, or start it on the Sweeps page "
                                "(\"The recommendation's plan\").")
        link("Sweeps", "Start this plan on the Sweeps page")


@guarded
def page() -> None:
    from advisor.questions import load_questionnaire

    st.title("Fine-tune, RAG, both, or neither?")
    st.caption("Answer a few questions about what must change, your data, your constraints and your team. "
               "You get a recommendation with its reasons, what would change it, estimates and next steps; "
               "the other pages then prove or refute it on your own data.")
    qn = load_questionnaire()
    _restore(qn)
    _load_saved(qn)
    if _questionnaire(qn):
        _recommendation(qn)
