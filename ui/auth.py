"""Optional sign-in through Streamlit's OIDC support (`st.login`), off by default.

Turn it on for a team deployment with ``ADVISOR_AUTH=1`` and an ``[auth]`` section in
``.streamlit/secrets.toml`` (see docs/app.md). Off, the app trusts whoever reaches the port:
bind it to localhost or put it behind your own proxy.
"""

from __future__ import annotations

import os

import streamlit as st

ENV_VAR = "ADVISOR_AUTH"


def login_required() -> bool:
    return os.environ.get(ENV_VAR, "").strip().lower() in {"1", "true", "yes", "on"}


def signed_in() -> bool:
    """True when the visitor may use the app (always, unless sign-in is required)."""
    if not login_required():
        return True
    if st.user.get("is_logged_in", False):
        with st.sidebar:
            st.caption(f"Signed in as {st.user.get('name') or st.user.get('email') or 'you'}")
            st.button("Log out", on_click=st.logout, key="logout")
        return True
    st.title("Fine-tune, RAG, both, or neither?")
    st.info("This advisor is shared by your team: sign in to continue.", icon=":material/lock:")
    st.button("Log in", on_click=st.login, type="primary", key="login")
    return False


def user_name(default: str = "") -> str:
    """The signed-in person's name (used to pre-fill 'your name' fields), else ``default``."""
    if login_required() and st.user.get("is_logged_in", False):
        return str(st.user.get("name") or st.user.get("email") or default)
    return default
