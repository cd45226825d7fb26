"""The Compare page in headless Chromium on a classification workspace: the confusion matrix is on screen."""

from __future__ import annotations

import pytest

from tests.app_fixtures import classification_runs
from ui.launch import chromium_available, streamlit_server

pytestmark = [pytest.mark.browser, pytest.mark.skipif(chromium_available() is not None, reason=str(chromium_available()))]
TIMEOUT_MS = 60_000


def test_compare_page_shows_the_confusion_matrix(page, tmp_path):
    from core.workspace import Workspace

    ws = Workspace.resolve(tmp_path / "ws").ensure()
    _split, runs = classification_runs(ws)
    with streamlit_server(ws.root, log_dir=tmp_path) as server:
        page.goto(f"{server.url}/report", timeout=TIMEOUT_MS)
        page.get_by_role("heading", name="Compare & report", exact=True).first.wait_for(timeout=TIMEOUT_MS)
        picker = page.locator(".st-key-rp-runs input")
        for run in runs:
            picker.click()
            page.get_by_role("option", name=run).click()
        page.keyboard.press("Escape")
        page.get_by_role("heading", name="Task kind: classification").first.wait_for(timeout=TIMEOUT_MS)
        column = page.locator("[data-testid=stColumn]", has_text="Confusion matrix")
        matrix = column.locator("[data-testid=stDataFrame]").first
        matrix.wait_for(state="visible", timeout=TIMEOUT_MS)
        matrix.scroll_into_view_if_needed()
        box = matrix.bounding_box()
        assert box is not None and box["height"] > 100 and box["width"] > 100
        matrix.locator("[role=columnheader]").first.wait_for(state="attached", timeout=TIMEOUT_MS)  # the grid adds its (hidden) header cells after the frame
        headers = matrix.locator("[role=columnheader]").all_inner_texts()
        assert headers[0] == "reference" and {"mail", "admin"} <= set(headers)  # rows: reference, columns: answers
        assert page.get_by_text("Baselines").first.is_visible()
