"""End to end in headless Chromium: the real app server (`streamlit run`), driven through Playwright.

Debian's chromium (`apt-get install chromium`; `.ci/run` installs it) at /usr/bin/chromium, never a
browser download. Screenshots go to test-artifacts/ (gitignored; CI keeps them as artefacts).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.app_fixtures import ROOT, SUPPORT_BOT, FakeEncoder, populate
from ui.launch import chromium_available, streamlit_server

pytestmark = [pytest.mark.browser, pytest.mark.skipif(chromium_available() is not None,
                                                      reason=str(chromium_available()))]
ARTIFACTS = ROOT / "test-artifacts"
TIMEOUT_MS = 60_000


def shot(page, name: str) -> Path:
    """Save a screenshot (after lazy elements such as tables and charts had time to draw)."""
    ARTIFACTS.mkdir(exist_ok=True)
    page.wait_for_timeout(1500)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def settle(page, timeout: int = TIMEOUT_MS) -> None:
    """Wait until Streamlit has finished the current run (the 'running' indicator is gone)."""
    page.wait_for_timeout(150)
    page.wait_for_selector("[data-testid='stStatusWidget']", state="detached", timeout=timeout)
    page.wait_for_timeout(100)


def no_exception(page) -> None:
    errors = page.locator("[data-testid='stException']")
    assert errors.count() == 0, errors.first.inner_text()


def answer(page, question, value) -> None:
    """Answer one question through its widget (found by its key's CSS class, ``st-key-q_<id>``)."""
    widget = page.locator(f"[class*='st-key-q_{question.id}-g']")
    if question.type in ("choice", "bool"):
        label = ("yes" if value else "no") if question.type == "bool" else question.label_of(value)
        widget.get_by_text(label, exact=True).click()
    elif question.type == "multi":
        for item in value:
            widget.locator("input").click()
            page.get_by_role("option", name=question.label_of(item)).click()
        page.keyboard.press("Escape")
    else:
        field = widget.locator("input")
        field.fill(str(value))
        field.press("Enter")
    settle(page)


def test_product_owner_answers_the_questionnaire_and_gets_a_recommendation(page, tmp_path):
    from advisor.answers import applicable_sections, section_questions
    from advisor.questions import load_questionnaire

    qn = load_questionnaire()
    with streamlit_server(tmp_path / "ws", log_dir=tmp_path) as server:
        page.goto(server.url, timeout=TIMEOUT_MS)
        page.get_by_text("Fine-tune, RAG, both, or neither?").wait_for(timeout=TIMEOUT_MS)
        settle(page)
        shot(page, "decide-start")
        answers: dict = {}
        step = 0
        while True:
            sections = applicable_sections(qn, answers)
            if step >= len(sections):
                break
            section = sections[step]
            page.get_by_text(qn.sections[section], exact=True).first.wait_for(timeout=TIMEOUT_MS)
            for question in section_questions(qn, section, answers):
                if question.id in SUPPORT_BOT and question.type != "text":
                    answer(page, question, SUPPORT_BOT[question.id])
                    answers[question.id] = SUPPORT_BOT[question.id]
            last = step == len(applicable_sections(qn, answers)) - 1
            page.wait_for_timeout(600)  # a person reads the section: quicker clicks are a double click's tail
            page.get_by_role("button", name="See the recommendation" if last else "Next").click()
            settle(page)
            no_exception(page)
            step += 1
        page.get_by_role("heading", name="RAG (retrieval-augmented generation)").wait_for(timeout=TIMEOUT_MS)
        page.get_by_role("heading", name="What would change the advice").wait_for()
        page.get_by_role("button", name=re.compile("Download answers")).wait_for()
        no_exception(page)
        shot(page, "decide-recommendation")


def test_every_page_renders_in_a_populated_workspace(page, tmp_path, sample_pairs, sample_pages):
    from core.workspace import Workspace

    ws = Workspace.resolve(tmp_path / "ws").ensure()
    populate(ws, sample_pairs, sample_pages, FakeEncoder())
    titles = {"decide": "Fine-tune, RAG, both, or neither?", "data": "Data", "rag": "RAG baseline",
              "sweeps": "Sweeps", "leaderboard": "Leaderboard", "report": "Compare & report", "review": "Review",
              "settings": "Settings"}
    with streamlit_server(ws.root, log_dir=tmp_path) as server:
        for url, title in titles.items():
            page.goto(f"{server.url}/{url}", timeout=TIMEOUT_MS)
            page.get_by_role("heading", name=title, exact=True).first.wait_for(timeout=TIMEOUT_MS)
            settle(page)
            no_exception(page)
            shot(page, f"page-{url}")
        # The leaderboard shows the populated rows.
        page.goto(f"{server.url}/leaderboard", timeout=TIMEOUT_MS)
        page.get_by_text(re.compile(r"Best on \w+: lora-demo-1")).first.wait_for(timeout=TIMEOUT_MS)


@pytest.mark.slow
def test_ml_engineer_builds_the_rag_index_and_sees_a_leaderboard_row(page, tmp_path, sample_pairs):
    """Real MiniLM and SmolLM2: build the index on the bundled sample, evaluate a few test items, see the row."""
    from core.workspace import Workspace
    from studies.data.datasets import load_pairs
    from studies.data.splits import make_split, save_split

    ws = Workspace.resolve(tmp_path / "ws").ensure()
    save_split(ws, make_split(load_pairs(sample_pairs), seed=0))
    with streamlit_server(ws.root, log_dir=tmp_path) as server:
        page.goto(f"{server.url}/rag", timeout=TIMEOUT_MS)
        page.get_by_role("button", name="Build index").click()
        page.get_by_text(re.compile(r"Built tldr-rag: \d+ chunks")).wait_for(timeout=300_000)
        settle(page)
        shot(page, "rag-built")
        question = page.locator("[data-testid='stTextInput']").filter(has_text="Question").locator("input")
        question.fill("list running docker containers")
        question.press("Enter")
        settle(page, timeout=120_000)
        page.get_by_text(re.compile(r"common/docker")).first.wait_for(timeout=TIMEOUT_MS)
        no_exception(page)
        shot(page, "rag-retrieved")
        limit = page.locator("[data-testid='stNumberInput']").filter(has_text="Test items").locator("input")
        limit.fill("8")
        limit.press("Enter")
        settle(page)
        page.get_by_role("button", name="Run the evaluation").click()
        page.get_by_text(re.compile(r"Run \S+ recorded on the leaderboard")).wait_for(timeout=600_000)
        settle(page)
        no_exception(page)
        shot(page, "rag-evaluated")
        page.goto(f"{server.url}/leaderboard", timeout=TIMEOUT_MS)
        page.get_by_role("heading", name="Leaderboard", exact=True).wait_for(timeout=TIMEOUT_MS)
        settle(page)
        page.get_by_text("rag:tldr-rag").first.wait_for(timeout=TIMEOUT_MS)
        no_exception(page)
        shot(page, "leaderboard-row")
