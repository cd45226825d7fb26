"""bench.assemble: rebuilding BENCHMARKS.md from fragments never silently drops a hand-written section."""

from __future__ import annotations

import pytest

from bench.assemble import WouldDropSections, assemble


def test_rebuild_refuses_to_drop_a_section_only_the_file_holds_and_force_overrides(tmp_path):
    results = tmp_path / "results"
    results.mkdir()
    (results / "tuning.md").write_text("## Tuning\n\nfigures\n", encoding="utf-8")
    out = tmp_path / "BENCHMARKS.md"
    assemble(out, results)
    assert "## Tuning" in out.read_text(encoding="utf-8")
    out.write_text(out.read_text(encoding="utf-8") + "\n## Measured by hand\n\nkeep me\n", encoding="utf-8")
    with pytest.raises(WouldDropSections, match="Measured by hand"):
        assemble(out, results)
    assert "keep me" in out.read_text(encoding="utf-8")  # untouched
    assemble(out, results, force=True)
    assert "keep me" not in out.read_text(encoding="utf-8")

