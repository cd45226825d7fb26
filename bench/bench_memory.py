"""Peak resident memory of `advisor tune`, `advisor eval` and `advisor rag build`, and where it goes.

Each stage runs the real CLI command in a child process (``python -m bench.bench_memory --child ...``)
that samples its own resident set (``/proc/self/status`` VmRSS, every 20 ms) and labels the samples by
the phase the product is in (model load, data encoding, training steps, validation loss, saving,
evaluation model load, generation, metrics, embedding, index). The phase labels come from wrapping
those functions, so the breakdown follows the code without changing it. ``ru_maxrss`` of the child is
reported too (the kernel's own peak; the sampler can miss a spike shorter than 20 ms).

    python bench/bench_memory.py                      # sample data, 135M default, writes bench/results/memory.md
    python bench/bench_memory.py --max-steps 20 --eval-limit 50 --data data/sample/pairs.jsonl
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import importlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

# (module, attribute, phase): functions whose duration is labelled as that phase.
PHASES = [
    ("tuning.models", "load_base_model", "load model"),
    ("tuning.batches", "encode_examples", "encode data"),
    ("tuning.train", "_optimizer_step", "train steps"),
    ("tuning.train", "evaluate_loss", "validation loss"),
    ("tuning.adapters", "save_trained", "save adapter"),
    ("tuning.adapters", "load_with_adapter", "eval: load model+adapter"),
    ("tuning.generate", "generate", "eval: generate"),
    ("studies.evaluation.systems", "make_system", "eval: build system"),
    ("rag.embedder", "load_embedder", "rag: load embedder"),
]


def rss_mb() -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class Sampler:
    """Resident memory every ``interval`` seconds, labelled with the innermost active phase."""

    def __init__(self, interval: float = 0.02) -> None:
        self.interval = interval
        self.stack: list[str] = ["startup"]
        self.peaks: dict[str, float] = {}
        self.entered: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            time.sleep(self.interval)

    def sample(self) -> None:
        phase, now = self.stack[-1], rss_mb()
        self.peaks[phase] = max(self.peaks.get(phase, 0.0), now)

    @contextlib.contextmanager
    def phase(self, name: str):
        self.sample()
        self.stack.append(name)
        self.entered.setdefault(name, rss_mb())
        try:
            yield
        finally:
            self.sample()
            self.stack.pop()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        self.sample()


def _wrap(sampler: Sampler) -> None:
    for module_name, attr, phase in PHASES:
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        fn = getattr(module, attr, None)
        if fn is None:
            continue

        def wrapped(*a, __fn=fn, __phase=phase, **k):
            with sampler.phase(__phase):
                return __fn(*a, **k)

        functools.update_wrapper(wrapped, fn)
        setattr(module, attr, wrapped)
        # modules that imported the name directly
        for other in list(sys.modules.values()):
            if other is not None and other is not module and getattr(other, attr, None) is fn:
                with contextlib.suppress(AttributeError, TypeError):
                    setattr(other, attr, wrapped)


def child(argv: list[str], out: Path) -> int:
    """Run one CLI command in this process with the sampler on; write the phase peaks to ``out``."""
    sampler = Sampler()
    sampler.start()
    began = time.perf_counter()
    for module_name, _, _ in PHASES:
        with contextlib.suppress(ImportError):
            importlib.import_module(module_name)
    _wrap(sampler)
    from advisor.cli import main

    with sampler.phase("command"):
        code = main(argv)
    sampler.stop()
    out.write_text(json.dumps({
        "argv": argv, "exit": code, "seconds": time.perf_counter() - began,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "phase_peak_mb": sampler.peaks, "phase_entry_mb": sampler.entered,
    }, indent=2))
    return int(code or 0)


def run_stage(name: str, argv: list[str], env: dict[str, str]) -> dict:
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as f:
        out = Path(f.name)
    cmd = [sys.executable, "-m", "bench.bench_memory", "--child", str(out), "--", *argv]
    print(f"== {name}: advisor {' '.join(argv)}", flush=True)
    done = subprocess.run(cmd, cwd=ROOT, env=env)
    if done.returncode != 0:
        raise SystemExit(f"{name} failed with exit code {done.returncode}")
    result = json.loads(out.read_text())
    out.unlink()
    print(f"   peak {result['peak_rss_mb']:.0f} MB; by phase: " + ", ".join(f"{k} {v:.0f}" for k, v in result["phase_peak_mb"].items()), flush=True)
    return result


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--child", type=Path, default=None, help=argparse.SUPPRESS)
    ap.add_argument("--data", default=str(ROOT / "data" / "sample" / "pairs.jsonl"))
    ap.add_argument("--corpus", default=str(ROOT / "data" / "sample" / "pages.jsonl"))
    ap.add_argument("--config", default=None, help="TrainConfig recipe (default: the built-in defaults)")
    ap.add_argument("--max-steps", type=int, default=10)
    ap.add_argument("--eval-limit", type=int, default=50)
    ap.add_argument("--workspace", default=None)
    ap.add_argument("--out", type=Path, default=HERE / "results" / "memory.json")
    ap.add_argument("--only", nargs="*", default=None, help="stage names to run (tune, eval, tune+eval, rag)")
    ap.add_argument("rest", nargs="*")
    args = ap.parse_args(argv)
    if args.child is not None:
        return child(args.rest, args.child)

    ws = args.workspace or tempfile.mkdtemp(prefix="bench-memory-")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false",
           "ADVISOR_WORKSPACE": ws}

    def tune(name: str, *extra: str) -> list[str]:
        cmd = ["tune", "--data", args.data, "--name", name, "--max-steps", str(args.max_steps), *extra]
        return cmd + (["--config", args.config] if args.config else [])

    stages = {
        "tune (training only)": tune("mem", "--no-eval"),
        "eval (lora, test split)": ["eval", "lora:mem", "--data", args.data, "--limit", str(args.eval_limit)],
        "tune with its evaluation": tune("mem-eval", "--eval-limit", str(args.eval_limit)),
        "rag build": ["rag", "build", "--corpus", args.corpus, "--name", "mem", "--no-progress"],
    }
    keys = dict(zip(("tune", "eval", "tune+eval", "rag"), stages))
    chosen = [keys[k] for k in args.only] if args.only else list(stages)
    results = {name: run_stage(name, stages[name], env) for name in chosen}
    load = os.getloadavg()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"load_average": load, "max_steps": args.max_steps, "eval_limit": args.eval_limit, "stages": results}, indent=2))
    print(json.dumps({k: round(v["peak_rss_mb"]) for k, v in results.items()}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
