"""App start-up: time from `streamlit run` to the first page rendered in headless Chromium.

Target: under 3 s for the first page (Decide). Reference, measured in the same run: a one-line
Streamlit app (`st.title("hello")`), i.e. what Streamlit itself costs; the ratio shows what our
imports add. The browser is started before the clock starts (it is not part of the app's start-up).

    .venv/bin/python -m bench.bench_app_start [--repeats 5] [--out bench/results/app.md]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from ui.launch import CHROMIUM, CHROMIUM_ARGS, chromium_available, streamlit_server  # noqa: E402

FIRST_PAGE_MARKER = "text=Fine-tune, RAG, both, or neither?"
HELLO = 'import streamlit as st\nst.title("hello")\n'


def _render(browser, url: str, marker: str) -> float:
    """Seconds from opening a new tab on ``url`` to ``marker`` shown and the script run finished."""
    page = browser.new_page()
    try:
        started = time.perf_counter()
        page.goto(url)
        page.wait_for_selector(marker, timeout=60_000)
        page.wait_for_selector("[data-testid='stStatusWidget']", state="detached", timeout=60_000)
        return time.perf_counter() - started
    finally:
        page.close()


def time_start(browser, workspace: Path, script: Path | None, marker: str, warm_tabs: int = 3) -> tuple[float, float, float]:
    """(seconds to healthy server and to the first page rendered, both from process spawn; then the median
    seconds a new visitor waits for the first page on the running server)."""
    with streamlit_server(workspace, script=script, log_dir=workspace) as server:
        healthy = time.perf_counter() - server.started
        first = _render(browser, server.url, marker)
        rendered = healthy + first
        warm = statistics.median(_render(browser, server.url, marker) for _ in range(warm_tabs))
    return healthy, rendered, warm


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "app.md"))
    args = parser.parse_args(argv)
    reason = chromium_available()
    if reason:
        print(f"cannot run: {reason}")
        return 2
    from playwright.sync_api import sync_playwright

    import torch  # only for the machine description

    results: dict[str, list[tuple[float, float, float]]] = {"app": [], "hello": []}
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        hello = Path(tmp) / "hello.py"
        hello.write_text(HELLO)
        for i in range(args.repeats):
            for label, script, marker in (("hello", hello, "text=hello"), ("app", None, FIRST_PAGE_MARKER)):
                ws = Path(tmp) / f"ws-{label}-{i}"
                ws.mkdir()
                results[label].append(time_start(browser, ws, script, marker))
                print(label, i, "healthy %.2f s, cold render %.2f s, new tab %.2f s" % results[label][-1], flush=True)
        browser.close()

    def med(label: str, k: int) -> float:
        return statistics.median(r[k] for r in results[label])

    app_r, hello_r = med("app", 1), med("hello", 1)
    app_w, hello_w = med("app", 2), med("hello", 2)
    load = os.getloadavg()
    from advisor.environment import cpu_model

    lines = [
        "## App start-up (`bench/bench_app_start.py`)",
        "",
        "Headless Chromium (already running), medians of "
        f"{args.repeats} starts, each a fresh server process on an empty workspace. *Cold*: from spawning "
        "`streamlit run streamlit_app.py` to the first page (Decide) fully rendered. *New visitor*: on the running "
        "server, from opening a new tab to the first page rendered (median of 3 tabs per start). Reference in the "
        "same run: a one-line Streamlit app (`st.title('hello')`), i.e. Streamlit's own cost.",
        "",
        "| app | server healthy (s) | cold: first page rendered (s) | new visitor: first page (s) |",
        "|---|---|---|---|",
        f"| advisor app (Decide page) | {med('app', 0):.2f} | {app_r:.2f} | **{app_w:.2f}** |",
        f"| reference: one-line app | {med('hello', 0):.2f} | {hello_r:.2f} | {hello_w:.2f} |",
        f"| ratio app / reference | {med('app', 0) / med('hello', 0):.2f}x | {app_r / hello_r:.2f}x | {app_w / hello_w:.2f}x |",
        "",
        f"Target (first page under 3 s): new visitor **{'met' if app_w < 3 else 'NOT met'}** ({app_w:.2f} s); "
        f"cold start **{'met' if app_r < 3 else 'NOT met'}** ({app_r:.2f} s, of which {med('app', 0):.2f} s is the "
        f"Streamlit server booting; the one-line reference app needs {hello_r:.2f} s cold on this machine). "
        "The Decide page imports only the advisor layer (no torch, faiss, duckdb; a test pins it), so the app adds "
        "little over Streamlit itself.",
        "",
        "All runs (healthy / cold / new visitor, s): app "
        + "; ".join("/".join(f"{x:.2f}" for x in r) for r in results["app"]) + "; reference "
        + "; ".join("/".join(f"{x:.2f}" for x in r) for r in results["hello"]) + ".",
        "",
        f"Machine: {os.cpu_count()} CPU cores ({cpu_model()}), Python {platform.python_version()}, "
        f"torch {torch.__version__} (not imported by the first page), Streamlit "
        f"{__import__('streamlit').__version__}. Other engineers' processes shared the CPU during the run "
        f"(load average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} at the end).",
        "",
    ]
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text("\n".join(lines), encoding="utf-8")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
