"""bench/bench_train.py --peers: the peer names are checked before anything heavy loads."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_parse_peers_accepts_known_names_in_order():
    from bench.bench_train import parse_peers

    assert parse_peers("trl, trainer-flat") == ["trl", "trainer-flat"]


@pytest.mark.parametrize("text", ["", "trl,sft", ","])
def test_parse_peers_rejects_unknown_or_empty(text):
    from bench.bench_train import parse_peers

    with pytest.raises(argparse.ArgumentTypeError, match="trainer-flat"):
        parse_peers(text)


def test_script_rejects_unknown_peer_with_exit_2():
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "bench_train.py"), "--peers", "nope"],
        capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 2
    assert "unknown peer" in proc.stderr and "trl" in proc.stderr
    assert "Traceback" not in proc.stderr
