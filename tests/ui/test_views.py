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
    assert groups[0].label.startswith("split s1 · 48 test items · 2 run(s)")


def test_the_default_leaderboard_set_is_the_test_part_even_when_sweep_trials_outnumber_it():
    # #18 item 5: 16-item validation rows of sweep trials stood beside 48-item test rows; the app and the
    # decision record now share one rule (studies.results.comparable) and open on the test set.
    trials = [{"run_id": f"t{i}", "split_version": "s1", "split_part": "validation", "n_items": 16} for i in range(5)]
    tests = [{"run_id": x, "split_version": "s1", "split_part": "test", "n_items": 48} for x in ("rag", "lora")]
    groups = evaluation_groups(trials + tests)
    assert [g.part for g in groups] == ["test", "validation"]
    assert [r["run_id"] for r in groups[0].runs] == ["rag", "lora"] and len(groups[1].runs) == 5
    assert groups[1].label == "split s1 · 16 validation items · 5 run(s)"


def test_a_running_trial_shows_its_time_so_far_not_blank_cells():
    now = datetime(2026, 1, 1, 12, 0, 0)
    trial = lambda n, state, tokens, seconds, step=None: SimpleNamespace(  # noqa: E731
        number=n, state=state, value=None, tokens=tokens, seconds=seconds, reason="", retry_of=None, params={"r": 2}, step=step)
    status = SimpleNamespace(metric="val_loss", trials=[trial(0, "COMPLETE", 900, 12.0, (8, 8)), trial(1, "RUNNING", 0, None),
                                                        trial(2, "RUNNING", 320, None, (3, 40))])
    rows = trial_rows(status, {1: now - timedelta(minutes=12), 2: now - timedelta(seconds=30)}, now=now)
    assert rows[0]["trial"] == 2 and rows[0]["step"] == "3/40" and rows[0]["tokens"] == 320 and rows[0]["seconds"] == 30.0
    assert rows[1]["trial"] == 1 and rows[1]["seconds"] == 720.0 and rows[1]["tokens"] is None and rows[1]["step"] is None
    assert rows[2]["seconds"] == 12.0 and rows[2]["tokens"] == 900 and rows[2]["step"] == "8/8"
