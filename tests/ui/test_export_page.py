"""The Leaderboard page's export (#22): an accepted fine-tune is exported in a background job and its check is shown."""

from __future__ import annotations

import pytest

from core.errors import ExportError
from tests.app_fixtures import by_key, page_test, run_jobs_inline
from tests.export_fixtures import accepted_tiny_adapter


@pytest.fixture(scope="module")
def accepted(tmp_path_factory, tiny_model_dir, sample_pairs):
    return accepted_tiny_adapter(tmp_path_factory.mktemp("ws-export-page"), tiny_model_dir, sample_pairs, 3)


def test_export_button_runs_the_export_and_shows_its_check(accepted, monkeypatch):
    ws, run_id, candidate = accepted
    monkeypatch.setenv("ADVISOR_WORKSPACE", str(ws.root))
    run_jobs_inline(monkeypatch)
    at = page_test("leaderboard", timeout=300).run()
    assert not at.exception
    assert by_key(at, "selectbox", "lb-export-run").options == [run_id]  # the candidate run is not offered
    by_key(at, "selectbox", "lb-export-format").set_value("merged")
    at.number_input(key="lb-export-sample").set_value(3)
    at.button(key="lb-export").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    done = [s.value for s in at.success if "Exported run" in s.value]
    assert done and run_id in done[0] and "matches" in done[0], [s.value for s in at.success]
    tables = [d.value for d in at.dataframe if "check" in d.value.columns]
    assert tables and tables[0]["format"].tolist() == ["merged"] and tables[0]["check"].tolist() == ["matches"]


def test_an_export_of_a_run_that_is_not_accepted_is_refused_before_a_job_starts(accepted):
    from advisor.background import start_export
    from core.jobs import jobs_root

    ws, _, candidate = accepted
    before = sorted(p.name for p in jobs_root(ws).iterdir()) if jobs_root(ws).is_dir() else []
    with pytest.raises(ExportError, match="not an accepted fine-tune"):
        start_export(ws, candidate, "merged")
    with pytest.raises(ExportError, match="not offered"):
        start_export(ws, candidate, "gguf", "q4_k")
    after = sorted(p.name for p in jobs_root(ws).iterdir()) if jobs_root(ws).is_dir() else []
    assert after == before
