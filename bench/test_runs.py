"""Print the comma-separated ids of a workspace's test-part leaderboard rows (what the flow scripts report on).

    .venv/bin/python -m bench.test_runs WORKSPACE
"""

from __future__ import annotations

import sys


def test_run_ids(workspace: str) -> list[str]:
    from core.workspace import Workspace
    from studies.results.leaderboard import Leaderboard

    return [r["run_id"] for r in Leaderboard(Workspace.resolve(workspace)).runs(split_part="test")]


if __name__ == "__main__":
    print(",".join(test_run_ids(sys.argv[1])))
