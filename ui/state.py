"""Widget state that follows the data: the two patterns every page uses.

1. **Pickers whose options depend on state** (uploads, new indexes, new sweeps): the widget key is
   derived from the options and from the value the session remembers, so when either changes the
   widget starts over on the remembered value instead of keeping a stale selection (Streamlit keeps
   a keyed widget's browser-side value while its key is unchanged, whatever ``index=`` says).
   Widgets that show a default derived from data (a name, an answer) use :func:`data_key` likewise.
2. **Actions bound to one rendered item** (a judgement on item 7, "Next" on section 2): the button's
   key carries the item's token, and each (action, token) acts at most once per session, so a
   double click never acts on an item the person has not seen. When the page redraws faster than
   the person double-clicks, the second click lands on the *next* item's button; actions that move
   through items (Next, Back, a review judgement, a data-creation decision) are therefore paced: within
   :data:`DOUBLE_CLICK_S` of the previous one they are the tail of a double click and do nothing.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import streamlit as st

T = TypeVar("T")
DONE = "advisor._done_actions"
DOUBLE_CLICK_S = 0.5
"""A paced action this soon after the previous one of its group is ignored (the usual double-click time)."""


def data_key(base: str, *parts: Any) -> str:
    """``base`` plus a short digest of ``parts``: a new key (a fresh widget) whenever the parts change."""
    digest = hashlib.sha1("\x1f".join(map(str, parts)).encode("utf-8", "replace")).hexdigest()[:10]
    return f"{base}-{digest}"


def picker(label: str, options: Sequence[T], *, key: str, remember_as: str, ident: Callable[[T], str] = str,
           format_func: Callable[[T], str] | None = None, container: Any = None, **kwargs: Any) -> T | None:
    """A selectbox over ``options`` that always shows what the session remembers under ``remember_as``
    (set by actions such as an upload, a build or a start, and by the picker itself)."""
    ids = [ident(o) for o in options]
    wanted = st.session_state.get(f"advisor.{remember_as}")
    index = ids.index(wanted) if wanted in ids else 0
    if not options:
        return None
    target = container or st
    choice = target.selectbox(label, list(options), index=index, key=data_key(key, *ids, "|", ids[index]),
                              format_func=format_func or ident, **kwargs)
    st.session_state[f"advisor.{remember_as}"] = ident(choice)
    return choice


def select(remember_as: str, value: str) -> None:
    """Make every picker that remembers ``remember_as`` show ``value`` on the next run."""
    st.session_state[f"advisor.{remember_as}"] = value


def action(label: str, *, key: str, token: str, container: Any = None, paced: str | None = None,
           **kwargs: Any) -> bool:
    """A button that acts once for the item identified by ``token``; with ``paced`` (a group name), not
    within :data:`DOUBLE_CLICK_S` of the group's previous action either (see module doc)."""
    target = container or st
    if not target.button(label, key=f"{key}-{token}", **kwargs):
        return False
    done: set[tuple[str, str]] = st.session_state.setdefault(DONE, set())
    if (key, token) in done:
        return False
    if paced is not None and not pace(paced):
        return False  # not marked done: a deliberate click on this item later still acts
    done.add((key, token))
    return True


def pace(group: str) -> bool:
    """True, noting the time, unless ``group``'s previous action was within :data:`DOUBLE_CLICK_S` (then
    this one is the tail of a double click, or a shortcut key pressed twice, and must do nothing)."""
    now, last = time.monotonic(), st.session_state.get(f"advisor.paced.{group}")
    if last is not None and now - last < DOUBLE_CLICK_S:
        return False
    st.session_state[f"advisor.paced.{group}"] = now
    return True


def generation(name: str) -> int:
    """A counter that changes each time :func:`bump` is called: part of a token or key that must be new
    after a navigation, a load or a reset."""
    return int(st.session_state.get(f"advisor.gen.{name}", 0))


def bump(name: str) -> int:
    """Advance the counter :func:`generation` reads; returns the new value."""
    value = generation(name) + 1
    st.session_state[f"advisor.gen.{name}"] = value
    return value


def drawn_by_page(name: str) -> None:
    """Call just before a self-refreshing fragment: its next execution is part of the page's full run."""
    st.session_state[f"advisor.fragment.{name}"] = True


def from_timer(name: str) -> bool:
    """Inside the fragment: True when this execution comes from its own timer, False when the page drew it.

    A fragment that sees its work end redraws the page (``st.rerun()``) to drop its timer, but only from a
    timer tick: during the page's own run that would throw away what the run just showed.
    """
    return not st.session_state.pop(f"advisor.fragment.{name}", False)
