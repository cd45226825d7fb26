"""Nothing lost: writers SIGKILLed at random points; after each kill the workspace holds the old or the new state.

For each writer (leaderboard, FAISS index, adapter, registry entry, report) a subprocess
(``tests/reliability/_writer.py``) writes in a loop through the product's own code and reports each
write that returned; the test kills it with SIGKILL after a random delay, then checks that:

- the leaderboard opens, every batch it reported as committed is there (rows lost: 0), and no run
  is partial (each has all its metrics; a batch is all there or absent);
- the index opens through its manifest (sha256 of every file matches) and all its chunks come from
  one generation;
- the adapter folder loads (metadata.json + safetensors) and both are of one generation;
- the registry entry is complete (adapter, metadata, run.json, model card) and of one generation;
- every report file is complete (its last line is there) and of one generation.

CI: 60 kills in all; ``make soak`` (SOAK=1): 600.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.reliability import _writer as W
from tests.reliability._util import record_figure, scaled

ROOT = Path(__file__).resolve().parents[2]
KILLS = {"leaderboard": scaled(20), "index": scaled(12), "adapter": scaled(12), "registry": scaled(8), "report": scaled(8)}
MAX_DELAY_S = {"leaderboard": 1.5, "index": 2.0, "adapter": 1.5, "registry": 1.5, "report": 1.0}


class Writer:
    """One writer subprocess; its stdout lines are collected by a thread."""

    def __init__(self, kind: str, root: Path, pause_s: float = 0.0) -> None:
        env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1",
               "RELIABILITY_WRITER_PAUSE_S": str(pause_s)}
        self.proc = subprocess.Popen([sys.executable, "-m", "tests.reliability._writer", kind, str(root)], cwd=ROOT, env=env,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.lines: list[str] = []
        self.ready = threading.Event()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        for line in self.proc.stdout:  # type: ignore[union-attr]
            line = line.strip()
            if line == "ready":
                self.ready.set()
            elif line:
                self.lines.append(line)

    def kill_after(self, delay: float) -> None:
        if not self.ready.wait(120):
            self.proc.kill()
            raise AssertionError(f"writer never got ready: {self.proc.stderr.read() if self.proc.stderr else ''}")
        time.sleep(delay)
        if self.proc.poll() is not None:
            raise AssertionError(f"writer died on its own (rc {self.proc.returncode}): {self.proc.stderr.read()[-3000:]}")
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(30)
        self._thread.join(10)

    @property
    def committed(self) -> list[str]:
        return [line.split(" ", 1)[1] for line in self.lines if line.startswith("committed ")]


def leftover_temporaries(folder: Path) -> int:
    return sum(1 for p in folder.rglob(".*.tmp")) if folder.exists() else 0


# ----------------------------------------------------------------------------- checks after a kill

def check_leaderboard(ws, committed: set[str]) -> dict:
    from studies.results.leaderboard import Leaderboard

    board = Leaderboard(ws, lock_timeout_s=30)
    rows = board.runs()
    batches: dict[str, int] = {}
    for row in rows:
        assert set(row["metrics"]) == set(W.METRICS), f"partial row {row['run_id']}: metrics {sorted(row['metrics'])}"
        if "batch" not in row["config"]:
            continue  # a row someone else wrote (bench_load preloads the board)
        batches[row["config"]["batch"]] = batches.get(row["config"]["batch"], 0) + 1
    partial = {b: n for b, n in batches.items() if n != W.BATCH}
    assert not partial, f"batches half written: {partial}"
    lost = committed - set(batches)
    assert not lost, f"committed batches missing after the kill: {sorted(lost)[:5]}"
    return {"rows": len(rows)}


def check_index(ws) -> dict:
    from rag.index import open_index
    from tests.app_fixtures import FakeEncoder

    folder = ws.root / "indexes" / W.INDEX_NAME
    if not folder.exists():
        return {"state": "absent"}
    index = open_index(ws, W.INDEX_NAME, FakeEncoder())  # checks every file's sha256 against the manifest
    gens = {chunk.text.split("generation ", 1)[1].split(" ", 1)[0] for chunk in index.chunks if "generation " in chunk.text}
    assert len(gens) == 1, f"chunks from several generations: {gens}"
    gen = int(gens.pop())
    assert index.manifest.corpus["hash"] == W.index_corpus(gen).content_hash, "manifest and chunks disagree"
    return {"state": gen}


def check_adapter(ws) -> dict:
    from safetensors.numpy import load_file

    from tuning.adapters import read_metadata

    folder = ws.root / "adapters" / W.ADAPTER_NAME
    if not folder.exists():
        return {"state": "absent"}
    metadata = read_metadata(folder)
    tensor = load_file(str(folder / "adapter_model.safetensors"))["lora_A"]
    config = json.loads((folder / "adapter_config.json").read_text())
    gen = int(metadata["data_version"])
    assert tensor.shape == (W.TENSOR_ELEMENTS,) and float(tensor.min()) == float(tensor.max()) == float(gen), "weights of another save"
    assert config["generation"] == gen, "adapter_config.json of another save"
    return {"state": gen}


def check_registry(ws) -> dict:
    from safetensors.numpy import load_file

    folder = ws.root / "registry" / W.REGISTRY_NAME
    if not folder.exists():
        return {"state": "absent"}
    for name in ("metadata.json", "run.json", "MODEL_CARD.md", "adapter/adapter_model.safetensors", "adapter/metadata.json"):
        assert (folder / name).is_file(), f"registry entry lacks {name}"
    run = json.loads((folder / "run.json").read_text())
    metadata = json.loads((folder / "metadata.json").read_text())
    source_gen = int(run["run_id"].split("-")[1])
    assert int(metadata["data_version"]) == source_gen, "metadata and run.json of different promotions"
    tensor = load_file(str(folder / "adapter" / "adapter_model.safetensors"))["lora_A"]
    assert float(tensor[0]) == float(tensor[-1]) == float(source_gen), "weights of another promotion"
    card = (folder / "MODEL_CARD.md").read_text()
    assert card.rstrip().endswith("`)."), "model card cut short"
    return {"state": source_gen}


def check_report(ws) -> dict:
    folder = ws.root / "reports" / W.REPORT_NAME
    if not folder.exists():
        return {"state": "absent"}
    gens = set()
    for path in sorted(folder.iterdir()):
        if path.name.startswith("."):
            continue
        data = path.read_bytes()
        assert data.endswith(b"END\n"), f"{path.name} is cut short"
        first = data.split(b"\n", 1)[0].decode()
        file_gens = {line.split("generation ", 1)[1].split(" ", 1)[0] for line in data.decode().splitlines() if "generation " in line}
        assert len(file_gens) == 1, f"{path.name} mixes generations"
        gens |= file_gens
        assert first
    if not gens:  # killed during the very first write: the folder was made, no file was renamed in yet (old state: none)
        return {"state": "absent"}
    assert len(gens) == 1, f"the report's files come from different writes: {sorted(gens)}"
    return {"state": sorted(gens)}


CHECKS = {"leaderboard": None, "index": check_index, "adapter": check_adapter, "registry": check_registry, "report": check_report}


@pytest.mark.parametrize("kind", list(KILLS))
def test_writer_killed_at_random_points_leaves_old_or_new_state(kind, workspace):
    rng = random.Random(int.from_bytes(os.urandom(4), "big"))
    committed: set[str] = set()
    states = []
    mid_write = 0
    for _ in range(KILLS[kind]):
        before_tmp = leftover_temporaries(workspace.root)
        writer = Writer(kind, workspace.root)
        writer.kill_after(rng.uniform(0.0, MAX_DELAY_S[kind]))
        committed |= set(writer.committed)
        mid_write += leftover_temporaries(workspace.root) > before_tmp
        if kind == "leaderboard":
            states.append(check_leaderboard(workspace, committed)["rows"])
        else:
            states.append(CHECKS[kind](workspace)["state"])
    figures = {"kills": KILLS[kind], "kills_survived": KILLS[kind], "writes_committed": len(committed),
               "kills_that_left_a_temporary": mid_write, "distinct_states_seen": len({str(s) for s in states})}
    if kind == "leaderboard":
        figures["rows_lost"] = 0
        figures["rows_at_end"] = states[-1]
    record_figure(f"kill.{kind}", **figures)
    assert committed, f"the {kind} writer never finished a write; raise MAX_DELAY_S"
