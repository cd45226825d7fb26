"""The Create data page: generate from a corpus, review one candidate at a time, build the data set."""

from __future__ import annotations

import json

import pytest

from tests.app_fixtures import FakeEncoder, errors_of, page_test
from tests.studies.data.test_creation import DOC


@pytest.fixture
def corpus(tmp_path):
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "grep.md").write_text(DOC, encoding="utf-8")
    (folder / "tar.md").write_text("# tar\n\n## Options\n\n  -c, --create    Create a new archive from the given files.\n"
                                   "  -x, --extract   Extract the files from an archive.\n", encoding="utf-8")
    return folder


def _button(at, prefix: str):
    return next(b for b in at.button if b.key and b.key.startswith(prefix))


def test_generate_review_and_build_from_the_page(app_ws, corpus):
    at = page_test("create_data").run()
    assert not errors_of(at)
    assert any("Nothing to review yet" in i.value for i in at.info)
    at.text_input(key="cd-corpus").input(str(corpus))
    at.text_input(key="cd-name").input("docs")
    at.button[0].click().run()  # the form's Generate button
    assert not errors_of(at), errors_of(at)
    assert any("kept for review" in s.value for s in at.success)

    at.text_input(key="cd-reviewer").input("ana").run()
    shown = _button(at, "cd-accept-").key.removeprefix("cd-accept-")
    _button(at, "cd-accept-").click().run()
    assert not errors_of(at)
    second = _button(at, "cd-edit-").key.removeprefix("cd-edit-")
    assert second != shown  # the next candidate is on screen
    at.text_area(key=f"cd-q-{second}").input("An edited question about grep?")
    _button(at, "cd-edit-").click().run()
    _button(at, "cd-reject-").click().run()
    assert not errors_of(at)

    from studies.data.creation.review_queue import ReviewQueue

    queue = ReviewQueue(app_ws, "docs")
    assert queue.decisions[shown].decision == "accept" and queue.decisions[shown].reviewer == "ana"
    assert queue.decisions[second].decision == "edit" and queue.decisions[second].question == "An edited question about grep?"
    assert queue.progress().reviewed == 3

    next(b for b in at.button if b.key == "cd-build-docs").click().run()
    assert not errors_of(at)
    manifest = json.loads((app_ws.root / "datasets" / "docs" / "dataset.json").read_text())
    assert manifest["pairs"] == 2 and manifest["review"]["rejected"] == 1 and manifest["review"]["reviewers"] == ["ana"]


def test_a_reload_resumes_the_review_where_it_stopped(app_ws, corpus):
    from studies.data.creation.generation import GenerationRequest, generate
    from studies.data.creation.review_queue import ReviewQueue

    generate(GenerationRequest(corpus=str(corpus), name="docs"), app_ws, FakeEncoder())
    queue = ReviewQueue(app_ws, "docs")
    for c in queue.candidates[:2]:
        queue.decide(c.id, "accept", "ben")
    at = page_test("create_data").run()  # a fresh session, as after a reload
    assert not errors_of(at)
    assert _button(at, "cd-accept-").key == f"cd-accept-{queue.candidates[2].id}"


def test_a_stale_click_on_a_reviewed_candidate_records_nothing_more(app_ws, corpus):
    from studies.data.creation.generation import GenerationRequest, generate
    from studies.data.creation.review_queue import ReviewQueue

    generate(GenerationRequest(corpus=str(corpus), name="docs"), app_ws, FakeEncoder())
    at = page_test("create_data").run()
    at.text_input(key="cd-reviewer").input("ana").run()
    first = _button(at, "cd-accept-")
    first.click().run()
    # the same candidate decided again from another tab: the page refuses, nothing recorded on the next one
    queue = ReviewQueue(app_ws, "docs")
    with pytest.raises(Exception, match="already reviewed"):
        queue.decide(first.key.removeprefix("cd-accept-"), "reject", "ana", expected_pending=True)
    assert ReviewQueue(app_ws, "docs").progress().reviewed == 1


def test_a_second_decision_within_the_double_click_time_records_nothing(app_ws, corpus, monkeypatch):
    import ui.state
    from studies.data.creation.generation import GenerationRequest, generate
    from studies.data.creation.review_queue import ReviewQueue

    generate(GenerationRequest(corpus=str(corpus), name="docs"), app_ws, FakeEncoder())
    monkeypatch.setattr(ui.state, "DOUBLE_CLICK_S", 60.0)
    at = page_test("create_data").run()
    at.text_input(key="cd-reviewer").input("ana").run()
    _button(at, "cd-accept-").click().run()
    second = _button(at, "cd-accept-").key.removeprefix("cd-accept-")  # redrawn: the next candidate's button
    _button(at, "cd-accept-").click().run()  # at once: the tail of a double click lands on it
    assert len(ReviewQueue(app_ws, "docs").decisions) == 1
    monkeypatch.setattr(ui.state, "DOUBLE_CLICK_S", 0.0)
    _button(at, "cd-accept-").click().run()  # a deliberate click later acts on the candidate shown
    assert ReviewQueue(app_ws, "docs").decisions[second].decision == "accept"
