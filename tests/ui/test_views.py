"""ui/views.py: the display shaping pages share, without Streamlit."""

from __future__ import annotations

from datetime import datetime, timedelta
from types import SimpleNamespace

from ui.views import (
    escape_markdown,
    evaluation_groups,
    neutral_text,
    readable,
    trial_rows,
)


def test_neutral_text_drops_the_formatting_that_tells_systems_apart():
    assert neutral_text("Sure!\n```bash\n$ ls -la\n```") == "Sure!\nls -la"
    assert neutral_text("Use `ls -la`.") == "Use ls -la."
    assert neutral_text("ls -la") == "ls -la" and neutral_text("") == ""


def test_readable_values_for_people():
    assert [readable(True), readable(12_000_000), readable(0.12345), readable(2500.7)] == ["yes", "12,000,000", "0.123", "2,501"]
    assert readable({"gpu_hours": 1.5, "fits": False}) == "gpu hours 1.5, fits no"


def test_escape_markdown_keeps_text_as_typed():
    assert escape_markdown("**b** $x$ :red[y] <i>") == r"\*\*b\*\* \$x\$ :red\[y\] \<i\>"


def test_evaluation_groups_never_mix_splits_or_item_counts():
    rows = [{"run_id": "a", "split_version": "s1", "n_items": 48}, {"run_id": "b", "split_version": "s1", "n_items": 48},
            {"run_id": "c", "split_version": "s1", "n_items": 3}, {"run_id": "d", "split_version": "s2", "n_items": 48}]
    groups = evaluation_groups(rows)
    assert [[r["run_id"] for r in g.runs] for g in groups] == [["a", "b"], ["d"], ["c"]]
    assert groups[0].label.startswith("split s1 · 48 items · 2 run(s)")


def test_a_running_trial_shows_its_time_so_far_not_blank_cells():
    now = datetime(2026, 1, 1, 12, 0, 0)
    trial = lambda n, state, tokens, seconds: SimpleNamespace(  # noqa: E731
        number=n, state=state, value=None, tokens=tokens, seconds=seconds, reason="", retry_of=None, params={"r": 2})
    status = SimpleNamespace(metric="val_loss", trials=[trial(0, "COMPLETE", 900, 12.0), trial(1, "RUNNING", 0, None)])
    rows = trial_rows(status, {1: now - timedelta(minutes=12)}, now=now)
    assert rows[0]["trial"] == 1 and rows[0]["seconds"] == 720.0 and rows[0]["tokens"] is None
    assert rows[1]["seconds"] == 12.0 and rows[1]["tokens"] == 900
