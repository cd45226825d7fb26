"""What every page shares: the workspace, turning expected failures into messages, cached resources.

Pages stay thin: they read widgets, call the libraries and render. This module holds only the glue
that is about Streamlit itself (state, caching, error display), never product logic.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import streamlit as st

from core.errors import AdvisorError
from core.workspace import Workspace


def workspace() -> Workspace:
    """The app's workspace: ``$ADVISOR_WORKSPACE`` or ``./workspace``, created if missing."""
    return Workspace.resolve().ensure()


def show_error(exc: AdvisorError) -> None:
    """An expected failure as a red box that says what is wrong and what to do (never a traceback)."""
    st.error(str(exc) or type(exc).__name__, icon=":material/error:")


@contextmanager
def guard() -> Iterator[None]:
    """``with guard(): ...`` shows an :class:`AdvisorError` raised inside as a message and goes on."""
    try:
        yield
    except AdvisorError as exc:
        show_error(exc)


def guarded(page: Callable[[], None]) -> Callable[[], None]:
    """Decorator for page functions: an expected failure anywhere on the page becomes a message."""

    @functools.wraps(page)
    def wrapper() -> None:
        with guard():
            page()

    return wrapper


def empty_state(message: str, *, page: str | None = None, label: str | None = None) -> None:
    """Say what is missing and what to do next, with a link to the page that does it."""
    st.info(message, icon=":material/lightbulb:")
    if page:
        link(page, label)


def link(page: str, label: str | None = None) -> None:
    """A link to another page of the app (nothing when the page runs on its own, as in unit tests)."""
    target = st.session_state.get(PAGES_KEY, {}).get(page)
    if target is not None:
        st.page_link(target, label=label or f"Go to {page}", icon=":material/arrow_forward:")


PAGES_KEY = "advisor._pages"


@st.cache_resource(show_spinner="Loading the embedder (all-MiniLM-L6-v2 unless another is set)...")
def _encoder(spec: str | None, root: str | None = None) -> Any:
    from rag.embedder import SentenceEncoder, load_embedder

    return SentenceEncoder(load_embedder(spec, ws=Workspace.resolve(root) if root else None))


def encoder(spec: str | None = None) -> Any:
    """The embedder behind ``rag.embedder.Encoder``, loaded once per app process (only pages that retrieve call it).

    A plain name is a fine-tuned embedder of the app's workspace (``advisor rag tune-embedder``).
    Tests replace this function with a tiny fake encoder.
    """
    return _encoder(spec or None, str(workspace().root))


@st.cache_resource(show_spinner="Loading the generator model (converted once on first use)...")
def _generator(spec: str | None, root: str) -> Any:
    from tuning.models import load_base_model

    return load_base_model(spec, Workspace.resolve(root))


def generator(spec: str | None, ws: Workspace) -> Any:
    """A base generator model (``LoadedModel``), loaded once per app process and workspace."""
    return _generator(spec or None, str(ws.root))


def remember(key: str, value: Any) -> None:
    """Keep a value for other pages of this session (e.g. the runs selected for comparison)."""
    st.session_state[f"advisor.{key}"] = value


def recall(key: str, default: Any = None) -> Any:
    """A value another page of this session remembered."""
    return st.session_state.get(f"advisor.{key}", default)


def job_panel(ws: Workspace, kind: str, done: Callable[[Any], None], refresh_s: float = 1.0) -> Any:
    """Show the latest background job of ``kind`` (see ``core.jobs``): a live bar while it runs, then what it
    did, why it failed, or that it was interrupted. Returns the job status (None when there is none).

    Refreshes itself only while the job runs, so an idle page costs nothing.
    """
    from datetime import timedelta

    from core.jobs import latest_job
    from ui.state import drawn_by_page, from_timer

    job = latest_job(ws, kind)
    if job is None:
        return None

    @st.fragment(run_every=timedelta(seconds=refresh_s) if job.active else None)
    def panel() -> None:
        current = latest_job(ws, kind)
        if current is None:
            return
        if current.active:
            total = f": {current.done}/{current.total}" if current.total else ""
            st.progress(current.fraction, text=f"{current.stage or 'Starting'}{total} · "
                        f"{current.elapsed_s:.0f} s · runs in the background (reloading this page keeps it)")
            if current.message:
                st.caption(current.message)
            return
        if job.active and from_timer(f"job-{kind}"):  # it just ended: redraw the page once (new index / run)
            st.rerun()
        if current.state == "done":
            done(current)
        elif current.state == "interrupted":
            st.warning(f"Interrupted: {current.error}", icon=":material/warning:")
        else:
            st.error(f"Failed: {current.error}", icon=":material/error:")

    drawn_by_page(f"job-{kind}")
    panel()
    return job
