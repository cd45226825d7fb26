"""The app's pages, in the order the sidebar shows them."""

from __future__ import annotations

import streamlit as st

from ui.common import PAGES_KEY

# (module, title, url path, icon, section)
PAGES = (
    ("decide", "Decide", "decide", ":material/help_center:", "Decide"),
    ("data", "Data", "data", ":material/dataset:", "Experiment"),
    ("create_data", "Create data", "create-data", ":material/auto_awesome:", "Experiment"),
    ("rag", "RAG baseline", "rag", ":material/search:", "Experiment"),
    ("sweeps", "Sweeps", "sweeps", ":material/tune:", "Experiment"),
    ("leaderboard", "Leaderboard", "leaderboard", ":material/leaderboard:", "Results"),
    ("report", "Compare & report", "report", ":material/description:", "Results"),
    ("review", "Review", "review", ":material/rate_review:", "Results"),
    ("settings", "Settings", "settings", ":material/settings:", "Settings"),
)


def build() -> st.navigation:  # type: ignore[valid-type]
    """``st.navigation`` over every page; the first (Decide) is the default."""
    import importlib

    sections: dict[str, list[st.Page]] = {}
    by_title: dict[str, st.Page] = {}
    for index, (module, title, url, icon, section) in enumerate(PAGES):
        render = importlib.import_module(f"ui.pages.{module}").page
        page = st.Page(render, title=title, url_path=url, icon=icon, default=index == 0)
        sections.setdefault(section, []).append(page)
        by_title[title] = page
    st.session_state[PAGES_KEY] = by_title
    return st.navigation(sections)
