"""One process of the two-process (gloo) data-parallel test, started by torchrun from test_tuning_distributed.py.

Every rank trains the same run; ranks other than 0 record every file write they make under the
workspace (Python audit hooks: open for writing, mkdir, rename, remove) so the test can check that
only rank 0 writes. ``--crash-at N`` kills rank 0 after step N (torchrun then stops the others).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC


def _watch_writes(root: Path, seen: list[str]) -> None:
    root_text = str(root.resolve())

    def inside(path) -> bool:
        try:
            return os.path.abspath(os.fsdecode(path)).startswith(root_text)
        except TypeError:
            return False

    def hook(event: str, args) -> None:
        if event == "open":
            path, mode, flags = args
            writing = (mode is not None and any(c in str(mode) for c in "wax+")) or (mode is None and flags & WRITE_FLAGS)
            if writing and inside(path):
                seen.append(f"open {path}")
        elif event in ("os.mkdir", "os.rename", "os.remove", "os.rmdir", "shutil.rmtree") and args and inside(args[0]):
            if event == "os.mkdir" and os.path.isdir(os.fsdecode(args[0])):
                return  # mkdir(exist_ok=True) of a folder that is there already changes nothing
            seen.append(f"{event} {args[0]}")

    sys.addaudithook(hook)


class _Pair:
    def __init__(self, row: dict) -> None:
        self.input, self.output = row["input"], row["output"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--config", required=True, help="TrainConfig as JSON")
    parser.add_argument("--pairs", required=True)
    parser.add_argument("--workspace", required=True)
    parser.add_argument("--name", required=True)
    parser.add_argument("--out", required=True, help="folder for rank<N>.json")
    parser.add_argument("--crash-at", type=int, default=0)
    args = parser.parse_args()

    from core.workspace import Workspace
    from tuning.config import TrainConfig
    from tuning.train import train

    rank = int(os.environ["RANK"])
    ws = Workspace.resolve(Path(args.workspace)).ensure()
    writes: list[str] = []
    if rank != 0:
        _watch_writes(ws.root, writes)
    rows = [_Pair(json.loads(line)) for line in Path(args.pairs).read_text(encoding="utf-8").splitlines()]

    def progress(p) -> None:
        if args.crash_at and p.step == args.crash_at:
            os._exit(3)  # a kill, not an exception: no cleanup runs

    result = train(TrainConfig.from_dict(json.loads(args.config)), rows[:96], rows[600:616], ws, args.name, progress=progress)
    record = result.record
    out = {
        "rank": rank,
        "world_size": record.world_size,
        "train_losses": record.train_loss_history,
        "eval_losses": [h.eval_loss for h in record.eval_history],
        "tokens_seen": record.tokens_seen,
        "resumed_from": record.resumed_from,
        "writes": writes,
    }
    Path(args.out, f"rank{rank}.json").write_text(json.dumps(out), encoding="utf-8")


if __name__ == "__main__":
    main()
