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


def time_start(browser, workspace: Path, script: Path | None, marker: str) -> tuple[float, float]:
    """(seconds to healthy server, seconds to the first page rendered), both from process spawn."""
    page = browser.new_page()
    try:
        with streamlit_server(workspace, script=script, log_dir=workspace) as server:
            healthy = time.perf_counter() - server.started
            page.goto(server.url)
            page.wait_for_selector(marker, timeout=60_000)
            page.wait_for_selector("[data-testid='stStatusWidget']", state="detached", timeout=60_000)
            rendered = time.perf_counter() - server.started
    finally:
        page.close()
    return healthy, rendered


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

    results: dict[str, list[tuple[float, float]]] = {"app": [], "hello": []}
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        hello = Path(tmp) / "hello.py"
        hello.write_text(HELLO)
        for i in range(args.repeats):
            for label, script, marker in (("hello", hello, "text=hello"), ("app", None, FIRST_PAGE_MARKER)):
                ws = Path(tmp) / f"ws-{label}-{i}"
                ws.mkdir()
                results[label].append(time_start(browser, ws, script, marker))
                print(label, i, "healthy %.2f s, rendered %.2f s" % results[label][-1], flush=True)
        browser.close()

    def med(label: str, k: int) -> float:
        return statistics.median(r[k] for r in results[label])

    app_r, hello_r = med("app", 1), med("hello", 1)
    from advisor.app_support import cpu_model

    lines = [
        "## App start-up (`bench/bench_app_start.py`)",
        "",
        f"Time from spawning `streamlit run streamlit_app.py` to the first page (Decide) rendered in headless "
        f"Chromium, median of {args.repeats} cold starts (fresh process and empty workspace each time; the browser "
        "was already running). Reference in the same run: a one-line Streamlit app.",
        "",
        "| app | server healthy (s) | first page rendered (s) | all runs, rendered (s) |",
        "|---|---|---|---|",
        f"| advisor app (Decide page) | {med('app', 0):.2f} | **{app_r:.2f}** | "
        + ", ".join(f"{r[1]:.2f}" for r in results["app"]) + " |",
        f"| reference: `st.title('hello')` | {med('hello', 0):.2f} | {hello_r:.2f} | "
        + ", ".join(f"{r[1]:.2f}" for r in results["hello"]) + " |",
        "",
        f"Ratio app / reference: **{app_r / hello_r:.2f}x**. Target: first page under 3 s: "
        f"**{'met' if app_r < 3 else 'NOT met'}**.",
        "",
        f"Machine: {os.cpu_count()} CPU cores ({cpu_model()}), Python {platform.python_version()}, "
        f"torch {torch.__version__} (not imported by the first page), Streamlit "
        f"{__import__('streamlit').__version__}. Other engineers' processes shared the CPU during the run.",
        "",
    ]
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text("\n".join(lines), encoding="utf-8")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
