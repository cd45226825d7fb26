"""Every page renders in an empty and in a populated workspace (AppTest, no real models), and the
app's routing, configuration and upload limit hold."""

from __future__ import annotations

import sys
import tomllib

import pytest

from tests.app_fixtures import (
    APP,
    PAGES,
    ROOT,
    FakeEncoder,
    by_key,
    errors_of,
    page_test,
)


@pytest.fixture
def populated_ws(app_ws, sample_pairs, sample_pages):
    """A workspace with a saved data set, a frozen split, an index and leaderboard rows (tiny fakes)."""
    from tests.app_fixtures import populate

    populate(app_ws, sample_pairs, sample_pages, FakeEncoder())
    return app_ws


def test_main_app_routes_to_the_decide_page(app_ws):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(APP), default_timeout=60).run()
    assert not errors_of(at)
    assert at.title[0].value == "Fine-tune, RAG, both, or neither?"


@pytest.mark.parametrize("name", PAGES)
def test_page_renders_in_an_empty_workspace(app_ws, name):
    at = page_test(name).run()
    assert not errors_of(at), errors_of(at)
    assert at.title, f"page {name} shows no title"


@pytest.mark.parametrize("name", PAGES)
def test_page_renders_in_a_populated_workspace(populated_ws, name):
    at = page_test(name).run()
    assert not errors_of(at), errors_of(at)


def test_pages_import_no_heavy_library():
    """The first page must render fast: page modules import torch & co. only inside functions."""
    import subprocess

    code = ("import sys\nimport ui.navigation, ui.common\n"
            + "".join(f"import ui.pages.{p}\n" for p in PAGES)
            + "print(' '.join(m for m in ('torch','transformers','faiss','duckdb','sentence_transformers','optuna','peft') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == ""


def test_config_keeps_xsrf_on_and_upload_limit_in_step():
    from core.uploads import MAX_UPLOAD_MB

    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["server"]["enableXsrfProtection"] is True
    assert config["server"]["headless"] is True
    assert config["server"]["maxUploadSize"] == MAX_UPLOAD_MB


def test_store_upload_refuses_oversize_and_odd_files(workspace):
    from core.errors import DataError
    from core.uploads import store_upload

    with pytest.raises(DataError, match="up to 1 MB"):
        store_upload(workspace, "big.jsonl", b"x" * 1_100_000, max_mb=1)
    with pytest.raises(DataError, match="expected one of"):
        store_upload(workspace, "evil.exe", b"data")
    with pytest.raises(DataError, match="empty"):
        store_upload(workspace, "empty.jsonl", b"")
    path = store_upload(workspace, "../../etc/passwd.jsonl", b'{"input": "a", "output": "b"}\n')
    assert path.parent == workspace.root / "uploads" / "pairs"
    assert ".." not in path.name and "/" not in path.name


def test_data_page_checks_the_sample_and_freezes_a_split(app_ws):
    at = page_test("data").run()
    assert not errors_of(at)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["valid pairs"] == "684" and metrics["errors"] == "0"
    at.button(key="freeze").click().run()
    assert not errors_of(at)
    assert any("frozen" in s.value for s in at.success)
    assert len(app_ws.names("splits")) == 1


def test_data_page_lists_problems_by_line(app_ws):
    from core.uploads import store_upload

    bad = b'{"input": "a", "output": "b"}\n{not json\n{"input": "", "output": "c"}\n{"input": "d"}\n'
    store_upload(app_ws, "broken.jsonl", bad)
    at = page_test("data").run()
    by_key(at, "selectbox", "source-pairs").select_index(len(by_key(at, "selectbox", "source-pairs").options) - 1).run()
    assert any("error(s)" in e.value for e in at.error)
    table = at.dataframe[0].value
    assert {2, 3, 4} <= set(table["line"].dropna().astype(int))
    assert not at.exception


def test_rag_page_builds_an_index_and_retrieves_with_sources(app_ws):
    at = page_test("rag").run()
    assert any("No index yet" in i.value for i in at.info)
    at.button(key="rag-build").click().run()
    assert not errors_of(at), errors_of(at)
    assert any("chunks from 101 documents" in s.value for s in at.success)
    at.text_input(key="rag-question").input("list running docker containers").run()
    assert not errors_of(at)
    shown = " ".join(m.value for m in at.markdown)
    assert "docker" in shown and "score" in shown


def test_an_expected_failure_is_a_message_not_a_traceback(app_ws):
    at = page_test("rag").run()
    at.text_input(key="rag-name").input("../escape").run()
    at.button(key="rag-build").click().run()
    assert not at.exception
    assert any("not allowed" in e.value for e in at.error)


def test_sign_in_is_off_by_default_and_gates_the_app_when_on(app_ws, monkeypatch):
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("ADVISOR_AUTH", "1")
    at = AppTest.from_file(str(APP), default_timeout=60).run()
    assert not at.exception
    assert [b.label for b in at.button] == ["Log in"]
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.user = {"is_logged_in": True, "name": "Dana", "email": "dana@example.com"}
    at.run()
    assert not at.exception
    assert any("Dana" in c.value for c in at.sidebar.caption)
    assert any(str(b.key).startswith("next-") for b in at.button)
