"""The leaderboard's default view: only rows scored on the same split part and items; the others apart."""

from studies.results.comparable import comparable_view


def row(rid, part="test", n=48, version="s1", at="2026-01-01"):
    return {"run_id": rid, "split_version": version, "split_part": part, "n_items": n, "created_at": at}


def test_test_rows_on_the_same_items_are_shown_and_the_rest_apart():
    rows = [row("t1", "validation", 16), row("t2", "validation", 16), row("t3", "validation", 16),
            row("rag"), row("lora"), row("short", n=10), row("other", version="s2")]
    view = comparable_view(rows)
    assert view.key == ("s1", "test", 48) and [r["run_id"] for r in view.rows] == ["rag", "lora"]
    assert set(view.apart) == {("s1", "validation", 16), ("s1", "test", 10), ("s2", "test", 48)}
    assert "same 48 test items of split s1" in view.describe()


def test_ties_go_to_the_newest_and_a_key_can_be_chosen():
    rows = [row("old", at="2026-01-01"), row("new", version="s2", at="2026-02-01")]
    assert comparable_view(rows).key == ("s2", "test", 48)
    assert comparable_view(rows, ("s1", "test", 48)).rows[0]["run_id"] == "old"
    assert comparable_view([]).key is None
