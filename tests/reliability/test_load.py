"""Load: 5 concurrent app sessions on the leaderboard page while another process records runs.

Five AppTest sessions (threads in one process, as Streamlit serves its sessions) load the
leaderboard page while a writer process (``_writer.py leaderboard``) keeps adding batches of runs.
Asserted: no exception and no error box in any session, and every batch the writer reported is on
the board afterwards. Read latency is a benchmark, not an assertion: ``bench/bench_load.py``
measures it (p99 < 200 ms is the target) and writes bench/results/reliability.md.
"""

from __future__ import annotations

import os
import threading
import time
import traceback

from tests.app_fixtures import errors_of, page_test
from tests.reliability._util import record_figure, scaled
from tests.reliability.test_kill import Writer, check_leaderboard

SESSIONS = 5
RERUNS = scaled(2)
WRITER_PAUSE_S = 0.1
"""A batch of 5 runs every ~0.1 s: far faster than a real sweep (one trial every few seconds to hours)."""


def test_five_sessions_read_the_leaderboard_while_a_writer_records(workspace, monkeypatch):
    monkeypatch.setenv("ADVISOR_WORKSPACE", str(workspace.root))
    writer = Writer("leaderboard", workspace.root, pause_s=WRITER_PAUSE_S)
    assert writer.ready.wait(120), "the writer did not start"
    while not writer.committed:  # at least one batch on the board before the sessions open
        time.sleep(0.05)
    problems: list[str] = []
    runs = {"n": 0}
    lock = threading.Lock()

    def session(index: int) -> None:
        try:
            for _ in range(RERUNS):
                # Each load is a fresh AppTest (a browser opening the page): rerunning one AppTest from five threads
                # once raised KeyError in AppTest's own get_widget_states (streamlit#12566), before the page ran.
                at = page_test("leaderboard", timeout=120).run()
                found = errors_of(at)
                with lock:
                    runs["n"] += 1
                    problems.extend(f"session {index}: {p}" for p in found)
        except Exception as exc:  # noqa: BLE001 - report every session's failure, not only the first
            with lock:
                problems.append(f"session {index}: {type(exc).__name__}: {exc}\n{traceback.format_exc()}")

    threads = [threading.Thread(target=session, args=(i,)) for i in range(SESSIONS)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(600)
    finally:
        writer.proc.terminate()
        writer.proc.wait(30)
    assert not problems, problems
    assert writer.proc.returncode is not None
    committed = set(writer.committed)
    rows = check_leaderboard(workspace, committed)["rows"]
    assert committed and rows >= len(committed)
    record_figure("load.app_sessions", sessions=SESSIONS, page_runs=runs["n"], errors=0, writer_batches=len(committed),
                  rows=rows, pid=os.getpid())
