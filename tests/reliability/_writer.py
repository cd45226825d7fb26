"""A workspace writer that loops until it is killed: ``python -m tests.reliability._writer KIND WORKSPACE``.

Used by test_kill.py: it prints ``ready`` once imported, then ``committed <generation>`` after each
write returns (so the parent knows what must survive), and never stops on its own. Kinds:
leaderboard, index, adapter, registry, report. Every write goes through the product's own code.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

INDEX_NAME = "kill-index"
ADAPTER_NAME = "kill-adapter"
REGISTRY_NAME = "kill-entry"
REPORT_NAME = "kill-report"
METRICS = ("exact_match", "token_f1", "chrf")
BATCH = 5
PAUSE_S = float(os.environ.get("RELIABILITY_WRITER_PAUSE_S", "0"))
"""Pause between leaderboard batches (the load test and benchmark use a sweep-like pace; the kill test none)."""
TENSOR_ELEMENTS = 400_000  # 1.6 MB of float32 per adapter save: long enough to be killed mid-write


def say(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def generations():
    gen = int.from_bytes(os.urandom(4), "big") % 1_000_000
    while True:
        gen += 1
        yield gen


# ----------------------------------------------------------------------------- leaderboard
def run_leaderboard(ws) -> None:
    from studies.results.leaderboard import Leaderboard
    from studies.results.records import RunRecord

    board = Leaderboard(ws)
    board.count()  # migrate once before saying ready
    say("ready")
    pid = os.getpid()
    for gen in generations():
        runs = [
            RunRecord(run_id=f"kill-{pid}-{gen}-{i}", kind="rag", system=f"batch {gen}", study=f"kill-{pid}", trial=gen * BATCH + i,
                      n_items=10, metrics={m: {"mean": 0.5, "low": 0.4, "high": 0.6, "n": 10} for m in METRICS},
                      config={"batch": f"{pid}-{gen}", "pad": "x" * 200})
            for i in range(BATCH)
        ]
        board.ingest(runs)
        say(f"committed {pid}-{gen}")
        if PAUSE_S:
            time.sleep(PAUSE_S)


# ----------------------------------------------------------------------------- index
def index_corpus(gen: int):
    from rag.corpus import Corpus, Document

    docs = [Document(id=f"doc{d}", text=f"generation {gen} document {d}. " + " ".join(f"word{(d * 7 + w) % 97}" for w in range(60)),
                     title=f"doc{d}", context=f"doc{d}") for d in range(150)]
    return Corpus(documents=docs, source=f"generation-{gen}", kind="documents")


def run_index(ws) -> None:
    import faiss  # noqa: F401  (import cost before "ready")

    from rag.config import RagConfig
    from rag.index import build_index
    from tests.app_fixtures import FakeEncoder

    encoder = FakeEncoder()
    config = RagConfig(chunk_size=32, chunk_overlap=0)
    say("ready")
    for gen in generations():
        build_index(ws, INDEX_NAME, index_corpus(gen), encoder, config, force=True)
        say(f"committed {gen}")


# ----------------------------------------------------------------------------- adapters
class FakeModel:
    """Stands in for a PeftModel: ``save_pretrained`` writes a PEFT-shaped folder (config + safetensors)."""

    def __init__(self, gen: int) -> None:
        self.gen = gen
        self.config = None

    def save_pretrained(self, folder, safe_serialization: bool = True) -> None:
        import json

        import numpy as np
        from safetensors.numpy import save_file

        folder = Path(folder)
        (folder / "adapter_config.json").write_text(json.dumps({"peft_type": "LORA", "r": 8, "generation": self.gen}))
        save_file({"lora_A": np.full(TENSOR_ELEMENTS, self.gen, dtype="float32")}, str(folder / "adapter_model.safetensors"),
                  metadata={"generation": str(self.gen)})


class FakeLoaded:
    name = "tiny-test-base"
    path = "/nonexistent/tiny"

    class model:  # noqa: N801 - mimics LoadedModel.model.config
        config = None


def save_adapter(ws, gen: int, name: str = ADAPTER_NAME) -> Path:
    from tuning.adapters import save_trained
    from tuning.config import TrainConfig

    return save_trained(FakeModel(gen), FakeLoaded(), TrainConfig(), ws.path("adapters", name), run=f"gen-{gen}", data_version=str(gen))


def run_adapter(ws) -> None:
    import numpy  # noqa: F401
    import safetensors.numpy  # noqa: F401

    from tuning.adapters import save_trained  # noqa: F401

    say("ready")
    for gen in generations():
        save_adapter(ws, gen)
        say(f"committed {gen}")


# ----------------------------------------------------------------------------- registry
def registry_row(ws, gen: int, adapter_dir: Path) -> dict:
    return {"run_id": f"run-{gen}", "kind": "lora", "method": "lora", "base_model": "tiny", "dataset_name": "d",
            "dataset_version": "v", "split_version": "s", "split_part": "test", "n_items": 10,
            "metrics": {"chrf": {"mean": 0.5, "low": 0.4, "high": 0.6}}, "artifacts": {"adapter_dir": str(adapter_dir)},
            "train_tokens": 1, "cpu_hours": 0.0, "gpu_hours": 0.0, "money_usd": 0.0, "latency_s": 0.1, "latency_p95_s": 0.2}


def run_registry(ws) -> None:
    from studies.governance.registry import promote

    sources = [save_adapter(ws, gen, name=f"source-{gen}") for gen in (1, 2)]
    say("ready")
    for gen in generations():
        source = sources[gen % 2]
        promote(ws, registry_row(ws, 1 + gen % 2, source), REGISTRY_NAME, "kill-test", f"generation {gen}")
        say(f"committed {gen}")


# ----------------------------------------------------------------------------- reports
class _Comparison:
    split_version = "kill"


class FakeRecord:
    """Only what ``write_report`` reads; the rendering is replaced below (its atomicity is what is tested)."""

    def __init__(self, gen: int) -> None:
        self.gen = gen
        self.comparison = _Comparison()
        self.plots = {f"plot{i}": report_png(gen, i) for i in range(3)}


def report_png(gen: int, i: int) -> bytes:
    return f"PNG generation {gen} plot {i}\n".encode() * 20_000 + b"END\n"


def report_text(gen: int) -> str:
    return f"# Decision record generation {gen}\n" + f"line of generation {gen}\n" * 20_000 + "END\n"


def run_report(ws) -> None:
    from advisor import report

    report.render_markdown = lambda record: report_text(record.gen)
    say("ready")
    for gen in generations():
        report.write_report(ws, FakeRecord(gen), "md", name=REPORT_NAME)
        say(f"committed {gen}")


WRITERS = {"leaderboard": run_leaderboard, "index": run_index, "adapter": run_adapter, "registry": run_registry, "report": run_report}


def main() -> None:
    from core.workspace import Workspace

    kind, root = sys.argv[1], sys.argv[2]
    WRITERS[kind](Workspace.resolve(root).ensure())


if __name__ == "__main__":
    main()
