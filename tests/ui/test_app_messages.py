"""Errors the app shows come from library modules; they must not tell an app user to pass CLI flags (#23 item 9)."""
from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from core.errors import DataError, LeaderboardError
from studies.data.datasets import parse_mapping
from studies.results.records import require_who_and_why

ROOT = Path(__file__).resolve().parents[2]
FLAG = re.compile(r"(?<![\w-])--[a-z][a-z-]+")
# Modules whose errors reach the app's pages (Data, Create data, Review, Leaderboard, Export).
APP_FACING = (
    "studies/data/datasets.py",
    "studies/data/kinds.py",
    "studies/data/creation/generation.py",
    "studies/results/records.py",
    "studies/governance/review.py",
    "studies/governance/export.py",
    "rag/embedder_tuning.py",
)


def raised_texts(path: Path) -> list[tuple[int, str]]:
    texts = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Raise) and node.exc is not None:
            for sub in ast.walk(node.exc):
                if isinstance(sub, ast.Constant) and isinstance(sub.value, str):
                    texts.append((node.lineno, sub.value))
    return texts


@pytest.mark.parametrize("module", APP_FACING)
def test_app_facing_errors_name_no_cli_flag(module):
    flagged = [(line, FLAG.findall(text)) for line, text in raised_texts(ROOT / module) if FLAG.search(text)]
    assert not flagged, f"{module} raises messages citing CLI flags: {flagged}"


def test_the_scan_sees_a_flag(tmp_path):
    planted = tmp_path / "m.py"
    planted.write_text('raise ValueError(f"pass --reason TEXT for {x}")\n')
    assert [FLAG.findall(t) for _, t in raised_texts(planted)] == [["--reason"]]


def test_messages_the_walkthrough_saw_are_neutral():
    with pytest.raises(LeaderboardError) as reason:
        require_who_and_why("ana", " ")
    with pytest.raises(DataError) as mapping:
        parse_mapping("input")
    for err in (reason.value, mapping.value):
        assert not FLAG.search(str(err)), str(err)
    assert "reason is required" in str(reason.value)
    assert "input=question,output=answer" in str(mapping.value)
