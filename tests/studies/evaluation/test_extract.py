"""Answer extraction: fenced block, else inline code, else first line; the same for every system."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from studies.evaluation.extract import extract


@pytest.mark.parametrize(
    ("raw", "answer", "rule"),
    [
        ("```bash\nls -la\n```", "ls -la", "fenced"),
        ("Sure! Here it is:\n```\n$ git status\n```\nThen `git add`.", "git status", "fenced"),
        ("Use `tar -xvf archive.tar` to extract, or ```zip```", "tar -xvf archive.tar", "inline"),
        ("Run ``echo `date` `` now", "echo `date`", "inline"),
        ("ls -la\nThis lists everything.", "ls -la", "line"),
        ("\n\n  docker ps -a  \n", "docker ps -a", "line"),
        ("", "", "empty"),
        ("   \n  ", "", "empty"),
        ("```ls -la```", "ls -la", "inline"),
        ("```\nfind . -name '*.py'\n", "find . -name '*.py'", "fenced"),
        ("```sh\nmkdir -p a/b\ncd a/b\n```", "mkdir -p a/b\ncd a/b", "fenced"),
        ("```\nls\n```\n```\npwd\n```", "ls", "fenced"),
    ],
)
def test_extraction_rules(raw, answer, rule):
    got = extract(raw)
    assert (got.answer, got.rule) == (answer, rule)


def test_fenced_block_wins_over_earlier_inline_code():
    assert extract("Try `ls` first, or:\n```\nls -R\n```").answer == "ls -R"


def test_fence_with_non_language_first_word_keeps_it():
    assert extract("```git log --oneline\n```").answer == "git log --oneline"


@given(st.text(max_size=200))
def test_never_raises_and_answer_has_no_surrounding_space(text):
    got = extract(text)
    assert got.answer == got.answer.strip()
    assert got.rule in {"fenced", "inline", "line", "empty"}
    assert (got.rule == "empty") == (got.answer == "" and got.rule == "empty")
