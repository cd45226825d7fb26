"""In headless Chromium: a person reviews generated candidates on the Create data page and builds a data set."""

from __future__ import annotations

import json

import pytest

from tests.app_fixtures import FakeEncoder
from tests.studies.data.test_creation import DOC
from tests.ui.test_browser import TIMEOUT_MS, no_exception, settle, shot
from ui.launch import chromium_available, streamlit_server

pytestmark = [pytest.mark.browser, pytest.mark.skipif(chromium_available() is not None, reason=str(chromium_available()))]


def test_reviewer_accepts_edits_rejects_with_keys_and_a_double_click_records_one_decision(page, tmp_path, workspace):
    from studies.data.creation.generation import GenerationRequest, generate
    from studies.data.creation.review_queue import ReviewQueue

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "grep.md").write_text(DOC, encoding="utf-8")
    generate(GenerationRequest(corpus=str(docs), name="handbook"), workspace, FakeEncoder())
    candidates = ReviewQueue(workspace, "handbook").candidates
    assert len(candidates) >= 5

    with streamlit_server(workspace.root, log_dir=tmp_path) as server:
        page.goto(f"{server.url}/create-data", timeout=TIMEOUT_MS)
        page.get_by_text("Create data from documents").wait_for(timeout=TIMEOUT_MS)
        settle(page)
        no_exception(page)
        name = page.locator(".st-key-cd-reviewer input")
        name.fill("dana")
        name.press("Enter")
        settle(page)
        page.get_by_text(candidates[0].question).first.wait_for(timeout=TIMEOUT_MS)
        shot(page, "create-data-review")

        page.locator(f".st-key-cd-accept-{candidates[0].id} button").dblclick()  # a double click: one decision
        settle(page)
        page.locator(f".st-key-cd-accept-{candidates[1].id}").wait_for(timeout=TIMEOUT_MS)

        question = page.locator(f".st-key-cd-q-{candidates[1].id} textarea")
        question.fill("Which option ignores case in grep?")
        question.press("Tab")
        settle(page)
        page.wait_for_timeout(600)  # a person reads the candidate: quicker decisions are a double click's tail
        page.locator(f".st-key-cd-edit-{candidates[1].id} button").click()
        settle(page)
        page.locator(f".st-key-cd-accept-{candidates[2].id}").wait_for(timeout=TIMEOUT_MS)
        page.evaluate("document.activeElement && document.activeElement.blur()")
        page.wait_for_timeout(600)
        page.keyboard.press("x")  # the reject shortcut
        settle(page)
        page.locator(f".st-key-cd-accept-{candidates[3].id}").wait_for(timeout=TIMEOUT_MS)
        no_exception(page)

        decisions = ReviewQueue(workspace, "handbook").decisions
        assert {cid: d.decision for cid, d in decisions.items()} == {
            candidates[0].id: "accept", candidates[1].id: "edit", candidates[2].id: "reject"}
        assert decisions[candidates[1].id].question == "Which option ignores case in grep?"
        assert decisions[candidates[0].id].reviewer == "dana"

        page.reload()  # a reload resumes at the first pending candidate
        page.locator(f".st-key-cd-accept-{candidates[3].id}").wait_for(timeout=TIMEOUT_MS)
        page.locator(".st-key-cd-build-handbook button").click()
        settle(page)
        page.get_by_text("Data set written to").wait_for(timeout=TIMEOUT_MS)
        shot(page, "create-data-built")
    manifest = json.loads((workspace.root / "datasets" / "handbook" / "dataset.json").read_text())
    assert manifest["pairs"] == 2 and manifest["review"]["reviewers"] == ["dana"]
