"""Fixtures of the app's page tests: a workspace the app uses, a fake embedder, background jobs run inline."""

from __future__ import annotations

import pytest

from tests.app_fixtures import FakeEncoder, populate, run_jobs_inline
from ui.launch import CHROMIUM, CHROMIUM_ARGS


@pytest.fixture(autouse=True)
def unpaced_clicks(monkeypatch):
    """AppTest clicks come microseconds apart, like a double click: no pacing here (tested on its own)."""
    import ui.state

    monkeypatch.setattr(ui.state, "DOUBLE_CLICK_S", 0.0)


@pytest.fixture
def app_ws(workspace, monkeypatch):
    """An empty workspace the app uses (through $ADVISOR_WORKSPACE), a fake embedder, jobs run to the end inline."""
    monkeypatch.setenv("ADVISOR_WORKSPACE", str(workspace.root))
    import ui.common

    monkeypatch.setattr(ui.common, "encoder", lambda spec=None: FakeEncoder())
    run_jobs_inline(monkeypatch)
    return workspace


@pytest.fixture
def populated(app_ws, sample_pairs, sample_pages):
    """(workspace, what was made): a saved data set, a frozen split, an index and leaderboard rows (tiny fakes)."""
    return app_ws, populate(app_ws, sample_pairs, sample_pages, FakeEncoder())


@pytest.fixture(scope="module")
def browser():
    """Debian's headless Chromium through Playwright (never a browser download), one per test module."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 1600})
    tab = context.new_page()
    yield tab
    context.close()
