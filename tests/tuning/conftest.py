"""The sample pairs as (input, output) records, for the training tests."""

from __future__ import annotations

import json

import pytest

from tests.tuning.tiny import P


@pytest.fixture(scope="module")
def pairs(sample_pairs):
    rows = [json.loads(line) for line in sample_pairs.read_text(encoding="utf-8").splitlines()]
    return [P(r["input"], r["output"]) for r in rows]
