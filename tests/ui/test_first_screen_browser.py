"""The first screen in headless Chromium: the HTML decision record and the Compare page open on the one-page table.

Screenshots of both first screens go to test-artifacts/; with UPDATE_DOCS_SCREENSHOTS=1 also to docs/
(docs/record-first-screen.png, docs/compare-first-screen.png, shown in docs/decision-record.md).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.app_fixtures import FakeEncoder, populate
from tests.report_fixtures import evaluate_canned, frozen_split
from ui.launch import chromium_available, streamlit_server

pytestmark = [pytest.mark.browser, pytest.mark.skipif(chromium_available() is not None, reason=str(chromium_available()))]
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
TIMEOUT_MS = 60_000
VIEWPORT = {"width": 1280, "height": 900}


def _shot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name))
    if os.environ.get("UPDATE_DOCS_SCREENSHOTS") == "1":
        shutil.copy(ARTIFACTS / name, ROOT / "docs" / name)


def _above_the_fold(page, text: str) -> bool:
    box = page.get_by_text(text, exact=False).first.bounding_box()
    return box is not None and box["y"] + box["height"] <= VIEWPORT["height"]


def test_html_record_opens_on_the_one_page_table(browser, workspace):
    from advisor.questions import load_answers
    from advisor.demo import SAMPLE
    from advisor.report import build_record, write_report

    split = frozen_split(workspace, 12, 6)
    runs = [evaluate_canned(workspace, split, "base", "base", 0.1, latency=0.4, seed=1),
            evaluate_canned(workspace, split, "rag:idx", "rag", 0.6, latency=1.2, prompt_tokens=400, seed=2),
            evaluate_canned(workspace, split, "lora:a", "lora", 0.65, latency=0.5, seed=3)]
    record = build_record(workspace, runs, answers=load_answers(SAMPLE / "answers.yaml"), include_checks=False,
                          command="python -m advisor report --runs ...")
    path = write_report(workspace, record, "html", name="first-screen")
    page = browser.new_page(viewport=VIEWPORT)
    page.goto(path.as_uri())
    page.wait_for_load_state("load")
    header = page.locator("table").first.locator("th").all_inner_texts()
    # the primary metric is the task kind's (or the plan's), whichever the record names
    assert header[:2] == ["system", f"{record.comparison.primary} [95% interval]"] and "cost / month" in header and "latency p95" in header
    assert _above_the_fold(page, "cost / month") and _above_the_fold(page, "Inconclusive on")
    assert "prompting the base model (Base model (prompted))" in page.locator("h2 + p").first.inner_text()
    assert page.locator("table").first.locator("tbody tr").count() == 3
    _shot(page, "record-first-screen.png")
    page.close()


def test_compare_page_opens_on_the_one_page_table(browser, tmp_path, sample_pairs, sample_pages):
    from core.workspace import Workspace

    ws = Workspace.resolve(tmp_path / "ws").ensure()
    populate(ws, sample_pairs, sample_pages, FakeEncoder())
    page = browser.new_page(viewport=VIEWPORT)
    with streamlit_server(ws.root, log_dir=tmp_path) as server:
        page.goto(f"{server.url}/report", timeout=TIMEOUT_MS)
        page.get_by_role("heading", name="Compare & report", exact=True).first.wait_for(timeout=TIMEOUT_MS)
        runs = page.locator(".st-key-rp-runs input")
        for run in ("rag-demo-1", "lora-demo-1"):
            runs.click()
            page.get_by_role("option", name=run).click()
        page.keyboard.press("Escape")
        page.get_by_role("button", name="Build the decision record").click()
        page.get_by_text("cost / month").first.wait_for(timeout=TIMEOUT_MS)
        table = page.locator("table", has_text="cost / month").first
        page.get_by_role("heading", name="At a glance").first.evaluate("e => e.scrollIntoView({block: 'start'})")
        assert "RAG" in table.inner_text() and "latency p95" in table.inner_text()
        page.wait_for_timeout(800)
        _shot(page, "compare-first-screen.png")
    page.close()
