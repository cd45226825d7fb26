"""Nonsense arguments, probed from outside: every one is refused with exit 2 and a message (no traceback,
no side effect: no unbounded sweep, no worker left behind, no folder created, no current folder indexed).
"""

from __future__ import annotations

import argparse
import math
import signal
from collections import Counter
from pathlib import Path
from types import SimpleNamespace

import pytest

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from tests.reliability._util import examples, record_figure
from tests.reliability.test_corrupt_state import cli, run_cli

LONG = "x" * 5000
LONG_PARTS = "/".join(["y" * 200] * 30)


def _cases(tmp: Path) -> list[tuple[str, ...]]:
    plan = str(tmp / "plan.yaml")
    return [
        ("sweep", "start", "--plan", plan, "--trials", "99999999999999999999999"),
        ("sweep", "start", "--plan", plan, "--trials", "0"),
        ("sweep", "start", "--plan", plan, "--storage", "sqlite:///"),
        ("sweep", "start", "--plan", plan, "--storage", "sqlite:///:memory:"),
        ("sweep", "start", "--plan", plan, "--storage", "sqlite://"),
        ("sweep", "start", "--plan", plan, "--storage", f"sqlite:///{tmp}"),
        ("sweep", "start", "--plan", plan, "--storage", ""),
        ("sweep", "start", "--plan", plan, "--max-minutes", "0"),
        ("sweep", "start", "--plan", plan, "--max-minutes", "nan"),
        ("sweep", "start", "--plan", plan, "--max-minutes", "-5"),
        ("sweep", "start", "--plan", plan, "--max-tokens", "-1"),
        ("sweep", "start", "--plan", plan, "--workers", "100000000000"),
        ("sweep", "stop", "s", "--wait", "inf"),
        ("rag", "build", "--corpus", "", "--name", "x"),
        ("rag", "build", "--corpus", " ", "--name", "x"),
        ("rag", "query", "idx", "q", "--k", "-1"),
        ("rag", "query", "idx", "q", "--k", "0"),
        ("rag", "build", "--corpus", "x", "--name", "x", "--chunk-size", "-3"),
        ("leaderboard", "--export", "/nonexistent/dir/out.csv"),
        ("leaderboard", "--limit", "-1"),
        ("leaderboard", "--limit", "0"),
        ("eval", "base", "--data", ""),
        ("eval", "base", "--data", LONG),
        ("eval", "base", "--data", "/proc/self/mem"),
        ("eval", "base", "--data", "d.jsonl", "--limit", "-2"),
        ("tune", "--data", "d.jsonl", "--config", "/proc/self/mem"),
        ("tune", "--data", LONG),
        ("tune", "--data", "d.jsonl", "--max-steps", "-1"),
        ("plan", "--answers", "/proc/self/mem"),
        ("plan", "--answers", LONG),
        ("plan", "--answers", LONG_PARTS),
        ("decide", "--answers", "/proc/self/mem"),
        ("decide", "--answers", "/dev/zero"),
        ("sweep", "start", "--plan", "/proc/self/mem"),
        ("sweep", "start", "--plan", LONG),
        ("sweep", "start", "--plan", "/dev/stdin"),
        ("rag", "build", "--corpus", LONG, "--name", "x"),
        ("rag", "build", "--corpus", "x", "--name", "x", "--config", "/proc/self/mem"),
        ("data", "check", LONG),
        ("data", "check", "/proc/self/mem"),
        ("data", "check", ""),
        ("estimate", "--rank", "-1"),
        ("estimate", "--epochs", "nan"),
        ("estimate", "--price", "-inf"),
        ("accept", "r", "--by", "p", "--reason", "r", "--plan", "/proc/self/mem"),
        ("review", "a", "b", "--limit", "-1"),
        ("demo", "--trials", "-1"),
    ]


@pytest.fixture
def signal_sweeps():
    """Stops any worker a wrongly accepted `sweep start` launched (before the fixes, an unbounded sweep ran on)."""
    holder = SimpleNamespace(workspace=None)
    yield holder
    if holder.workspace is not None:
        from studies.sweeps.processes import signal_workers

        for name in holder.workspace.names("sweeps"):
            signal_workers(holder.workspace, name, signal.SIGKILL)


def test_nonsense_arguments_exit_2_without_side_effects(workspace, tmp_path, monkeypatch, signal_sweeps):
    from studies.sweeps.processes import local_workers

    (tmp_path / "plan.yaml").write_text("objective: synthetic\nn_trials: 2\nheartbeat_interval: 1\npruner: none\nbase: {steps: 2}\n")
    (tmp_path / "cwd").mkdir()
    (tmp_path / "cwd" / "note.md").write_text("# a document in the current folder\n\nNot to be indexed.\n")
    monkeypatch.chdir(tmp_path / "cwd")
    cases = [(*args, "--detach") if args[:2] == ("sweep", "start") else args for args in _cases(tmp_path)]
    monkeypatch.setattr(signal_sweeps, "workspace", workspace)
    outcomes: Counter = Counter()
    for args in cases:
        code, err = cli(workspace, *args)
        assert code == 2, (args[:6], code, err[-600:])
        assert "error" in err and "Traceback" not in err, (args[:6], err[-600:])
        outcomes[args[0]] += 1
    assert not Path("/nonexistent").exists()
    assert not (workspace.root / "indexes").exists() or not list((workspace.root / "indexes").iterdir())
    for name in workspace.names("sweeps"):
        assert not local_workers(workspace, name, alive_only=True), f"a worker of {name} runs"
    proc = run_cli(workspace, "sweep", "start", "--plan", str(tmp_path / "plan.yaml"), "--storage", "sqlite:///")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr[-600:]
    record_figure("arguments.nonsense", cases=len(cases) + 1, failures=0, by_command=dict(outcomes))


def _numeric_options():
    """(argv prefix, option, action) for every int/float option of every command."""
    from advisor.cli import build_parser

    parser = build_parser()
    found = []

    def walk(p: argparse.ArgumentParser, prefix: list[str]) -> None:
        for action in p._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    walk(sub, [*prefix, name])
            elif action.option_strings and action.type is not None and getattr(action.type, "__name__", "") in ("whole number", "number", "int", "float"):
                found.append((prefix, action.option_strings[-1], action))
    walk(parser, [])
    return parser, found


def test_every_numeric_option_is_bounded():
    """Property: any text given to any numeric option either parses to a finite, in-range value or is refused (exit 2)."""
    parser, options = _numeric_options()
    assert options and all(getattr(a.type, "__name__", "") in ("whole number", "number") or a.choices for _p, _o, a in options), \
        [o for _p, o, a in options if getattr(a.type, "__name__", "") not in ("whole number", "number")]
    outcomes: Counter = Counter()
    values = st.one_of(
        st.integers(-(10**30), 10**30).map(str), st.floats(allow_nan=True, allow_infinity=True).map(repr),
        st.sampled_from(["0", "-1", "nan", "inf", "-inf", "1e309", "", " ", "1_000", "0x10", "٣", "1e3"]), st.text(max_size=8),
    )

    @settings(max_examples=examples(), deadline=None, database=None, suppress_health_check=list(HealthCheck),
              phases=[Phase.explicit, Phase.generate])
    @given(pick=st.integers(0, len(options) - 1), value=values)
    def check(pick, value):
        _prefix, option, action = options[pick]
        try:
            parsed = action.type(value)
        except (argparse.ArgumentTypeError, ValueError, TypeError):  # what argparse turns into "error: ..." and exit 2
            outcomes["refused"] += 1
            return
        if action.choices:
            outcomes["accepted" if parsed in action.choices else "refused"] += 1
            return
        assert isinstance(parsed, (int, float)) and math.isfinite(parsed), (option, value, parsed)
        assert abs(parsed) <= 10**15, (option, value, parsed)
        assert parsed >= 0, (option, value, parsed)
        outcomes["accepted"] += 1

    check()
    record_figure("arguments.numeric_property", options=len(options), cases=examples(), outcomes=dict(outcomes))
