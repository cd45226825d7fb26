"""The HTML decision record in headless Chromium: every plot loads (screenshot kept as an artefact)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.report_fixtures import evaluate_canned, frozen_split

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed (apt-get install chromium; .ci/run does)"),
]


def test_html_report_shows_every_plot(workspace):
    from playwright.sync_api import sync_playwright

    from advisor.report import build_record, write_report

    split = frozen_split(workspace, 12, 6)
    runs = [
        evaluate_canned(workspace, split, "base", "base", 0.1, seed=1),
        evaluate_canned(workspace, split, "rag:idx", "rag", 0.6, seed=2),
        evaluate_canned(workspace, split, "lora:a", "lora", 0.65, seed=3),
    ]
    path = write_report(workspace, build_record(workspace, runs, include_checks=False), "html", name="browser")
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
        )
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            page.goto(path.as_uri())
            page.wait_for_load_state("load")
            images = page.eval_on_selector_all("img", "els => els.map(e => ({ok: e.complete && e.naturalWidth > 0, w: e.naturalWidth}))")
            page.screenshot(path=str(ARTIFACTS / "decision_record.png"), full_page=True)
        finally:
            browser.close()
    assert len(images) == 3
    assert all(img["ok"] and img["w"] > 300 for img in images), images
    shutil.copy(path, ARTIFACTS / "decision_record.html")
