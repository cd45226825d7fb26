"""Faults during work: disk full while saving, corrupt index / adapter files, the Optuna storage restarting.

- Disk full (simulated: the write raises ``OSError(ENOSPC)`` midway): a clear ``TrainingError``, and the
  previous adapter survives byte for byte; the same for an index rebuild (the old index still opens).
- A corrupt index (flipped byte, truncated or missing file, broken manifest) is refused with the
  command that fixes it; running that command fixes it.
- A corrupt adapter (flipped byte, truncated weights, broken metadata) is refused with the fix.
- PostgreSQL restarted during a sweep (mark ``postgres``; needs ``$ADVISOR_TEST_POSTGRES_URL`` and the right
  to run ``pg_ctlcluster``): the worker retries and the sweep finishes its budget.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from core.errors import AdvisorError, ModelLoadError, RagError, TrainingError
from tests.reliability import _writer as W
from tests.reliability._util import record_figure, snapshot

ROOT = Path(__file__).resolve().parents[2]


def enospc() -> OSError:
    return OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


# ----------------------------------------------------------------------------- disk full

def test_disk_full_while_saving_an_adapter_keeps_the_previous_one(workspace, monkeypatch):
    from tuning.adapters import save_trained
    from tuning.config import TrainConfig

    W.save_adapter(workspace, 1)
    before = snapshot(workspace.root)

    class HalfWrittenModel(W.FakeModel):
        def save_pretrained(self, folder, safe_serialization=True):
            (Path(folder) / "adapter_config.json").write_text("{}")
            with open(Path(folder) / "adapter_model.safetensors", "wb") as handle:
                handle.write(b"\x00" * 100_000)  # half a file, then the disk is full
                raise enospc()

    target = workspace.path("adapters", W.ADAPTER_NAME)
    with pytest.raises(TrainingError) as caught:
        save_trained(HalfWrittenModel(2), W.FakeLoaded(), TrainConfig(), target, run="gen-2", data_version="2")
    message = str(caught.value)
    assert "No space left on device" in message and "previous adapter" in message and "Free disk space" in message
    assert snapshot(workspace.root) == before, "a failed save changed the workspace"

    # The metadata write is the last step: a full disk there must not leave new weights with old metadata.
    import tuning.adapters as adapters

    def failing_json(path, obj):
        raise enospc()

    monkeypatch.setattr(adapters, "atomic_write_json", failing_json)
    with pytest.raises(TrainingError):
        save_trained(W.FakeModel(3), W.FakeLoaded(), TrainConfig(), target, run="gen-3", data_version="3")
    monkeypatch.undo()
    assert snapshot(workspace.root) == before
    from tests.reliability.test_kill import check_adapter

    assert check_adapter(workspace)["state"] == 1
    record_figure("faults.disk_full_adapter", faults=2, previous_adapter_survived=2)


def _fake_index(ws, gen: int):
    from rag.config import RagConfig
    from rag.index import build_index
    from tests.app_fixtures import FakeEncoder

    return build_index(ws, W.INDEX_NAME, W.index_corpus(gen), FakeEncoder(), RagConfig(chunk_size=32, chunk_overlap=0), force=True)


def test_disk_full_while_rebuilding_an_index_keeps_the_previous_one(workspace, monkeypatch):
    import rag.index as index_module
    from tests.reliability.test_kill import check_index

    _fake_index(workspace, 1)
    before = snapshot(workspace.root)

    def failing_chunks(path, chunks):
        with open(path, "w") as handle:
            handle.write("{")
        raise enospc()

    monkeypatch.setattr(index_module, "_write_chunks", failing_chunks)
    with pytest.raises(AdvisorError) as caught:
        _fake_index(workspace, 2)
    assert "No space left on device" in str(caught.value) and "previous content is intact" in str(caught.value)
    monkeypatch.undo()
    assert snapshot(workspace.root) == before
    assert check_index(workspace)["state"] == 1


# ----------------------------------------------------------------------------- corrupt index

def _flip_byte(path: Path, at: int | None = None) -> None:
    data = bytearray(path.read_bytes())
    i = len(data) // 2 if at is None else at
    data[i] ^= 0xFF
    path.write_bytes(bytes(data))


INDEX_DAMAGE = {
    "flipped byte in index.faiss": lambda f: _flip_byte(f / "index.faiss"),
    "truncated index.faiss": lambda f: (f / "index.faiss").write_bytes((f / "index.faiss").read_bytes()[:100]),
    "missing index.faiss": lambda f: (f / "index.faiss").unlink(),
    "flipped byte in chunks.jsonl": lambda f: _flip_byte(f / "chunks.jsonl"),
    "empty chunks.jsonl": lambda f: (f / "chunks.jsonl").write_bytes(b""),
    "manifest not JSON": lambda f: (f / "manifest.json").write_text("{not json"),
    "manifest a list": lambda f: (f / "manifest.json").write_text("[1, 2]"),
    "manifest checksums not a mapping": lambda f: (f / "manifest.json").write_text(
        json.dumps({**json.loads((f / "manifest.json").read_text()), "files": ["index.faiss"]})),
    "manifest missing": lambda f: (f / "manifest.json").unlink(),
    "manifest of another build": lambda f: (f / "manifest.json").write_text(
        json.dumps({**json.loads((f / "manifest.json").read_text()), "files": {"index.faiss": "0" * 64, "chunks.jsonl": "0" * 64}})),
}


@pytest.mark.parametrize("damage", list(INDEX_DAMAGE))
def test_corrupt_index_is_refused_with_the_fix(workspace, damage):
    from rag.index import build_index, open_index
    from tests.app_fixtures import FakeEncoder
    from rag.config import RagConfig

    _fake_index(workspace, 1)
    folder = workspace.root / "indexes" / W.INDEX_NAME
    INDEX_DAMAGE[damage](folder)
    with pytest.raises(RagError) as caught:
        open_index(workspace, W.INDEX_NAME, FakeEncoder())
    assert f"advisor rag build --corpus PATH --name {W.INDEX_NAME}" in str(caught.value), str(caught.value)
    # The fix named in the message works: a rebuild replaces the damaged index.
    build_index(workspace, W.INDEX_NAME, W.index_corpus(1), FakeEncoder(), RagConfig(chunk_size=32, chunk_overlap=0))
    assert len(open_index(workspace, W.INDEX_NAME, FakeEncoder())) > 0


# ----------------------------------------------------------------------------- corrupt adapter

ADAPTER_DAMAGE = {
    "flipped byte in the weights": lambda f: _flip_byte(f / "adapter_model.safetensors"),
    "truncated weights": lambda f: (f / "adapter_model.safetensors").write_bytes((f / "adapter_model.safetensors").read_bytes()[:1000]),
    "missing weights": lambda f: (f / "adapter_model.safetensors").unlink(),
    "metadata not JSON": lambda f: (f / "metadata.json").write_text("{oops"),
    "metadata a list": lambda f: (f / "metadata.json").write_text("[]"),
    "metadata missing": lambda f: (f / "metadata.json").unlink(),
}


@pytest.mark.parametrize("damage", list(ADAPTER_DAMAGE))
def test_corrupt_adapter_is_refused_with_the_fix(workspace, damage):
    """Checked before any model is loaded: metadata.json carries the sha256 of each weights file."""
    from tuning.adapters import load_with_adapter

    folder = W.save_adapter(workspace, 1)
    ADAPTER_DAMAGE[damage](folder)
    with pytest.raises(ModelLoadError) as caught:
        load_with_adapter(folder, workspace)
    message = str(caught.value)
    assert any(fix in message for fix in ("train it again", "retrain", "Train one")), message


@pytest.mark.slow
def test_corrupt_real_peft_adapter_without_checksums_is_refused(workspace, tiny_model_dir):
    """An adapter saved before checksums existed: PEFT/safetensors' own error becomes a ModelLoadError with the fix."""
    from peft import LoraConfig, get_peft_model

    from tuning.adapters import load_with_adapter, save_trained
    from tuning.config import TrainConfig
    from tuning.models import load_base_model

    loaded = load_base_model(str(tiny_model_dir), workspace)
    model = get_peft_model(loaded.model, LoraConfig(r=4, target_modules=["q_proj", "v_proj"]))
    folder = save_trained(model, loaded, TrainConfig(model=str(tiny_model_dir)), workspace.path("adapters", "real"), run="real")
    assert load_with_adapter(folder, workspace).model is not None
    meta = json.loads((folder / "metadata.json").read_text())
    meta.pop("files")
    (folder / "metadata.json").write_text(json.dumps(meta))
    weights = folder / "adapter_model.safetensors"
    weights.write_bytes(weights.read_bytes()[:200])
    with pytest.raises(ModelLoadError, match="train it again"):
        load_with_adapter(folder, workspace)


# ----------------------------------------------------------------------------- PostgreSQL restarted

def _postgres_url() -> str:
    url = os.environ.get("ADVISOR_TEST_POSTGRES_URL")
    if not url:
        pytest.skip("ADVISOR_TEST_POSTGRES_URL is not set (CI sets it in .ci/run; locally see RELIABILITY.md)")
    return url


def _restart_command() -> list[str]:
    custom = os.environ.get("ADVISOR_TEST_POSTGRES_RESTART")
    if custom:
        return ["sh", "-c", custom]
    versions = sorted(os.listdir("/etc/postgresql"), key=lambda v: float(v) if v.replace(".", "").isdigit() else 0) if os.path.isdir("/etc/postgresql") else []
    if not versions or not shutil.which("pg_ctlcluster") or os.geteuid() != 0:
        pytest.skip("cannot restart PostgreSQL here (needs pg_ctlcluster as root, or $ADVISOR_TEST_POSTGRES_RESTART)")
    return ["pg_ctlcluster", versions[-1], "main", "restart"]


@pytest.mark.postgres
def test_postgres_restarted_during_a_sweep_workers_retry_and_finish(workspace):
    import optuna

    from studies.sweeps.config import SweepConfig
    from studies.sweeps.study import create_or_resume, load_study

    url = _postgres_url()
    restart = _restart_command()
    name = f"reliability-pg-{os.getpid()}-{int(time.time())}"
    n_trials = 12
    config = SweepConfig(name=name, objective="synthetic", n_trials=n_trials, heartbeat_interval=1, pruner="none",
                         base={"steps": 4, "step_seconds": 0.15})
    create_or_resume(config, url)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    worker = subprocess.Popen([sys.executable, "-m", "advisor", "--workspace", str(workspace.root), "sweep", "worker", "--study", name,
                               "--storage", url], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.time() + 120
        while time.time() < deadline:
            study, _ = load_study(url, name, heartbeat=False)
            if sum(t.state == optuna.trial.TrialState.COMPLETE for t in study.get_trials(deepcopy=False)) >= 2:
                break
            time.sleep(0.3)
        started = time.monotonic()
        subprocess.run(restart, check=True, capture_output=True, timeout=120)
        downtime = time.monotonic() - started
        output, _ = worker.communicate(timeout=240)
    finally:
        if worker.poll() is None:
            worker.kill()
    assert worker.returncode == 0, output[-3000:]
    study, _ = load_study(url, name, heartbeat=False)
    states = [t.state for t in study.get_trials(deepcopy=False)]
    complete = sum(s == optuna.trial.TrialState.COMPLETE for s in states)
    assert complete >= n_trials, (complete, output[-3000:])
    assert not any(s == optuna.trial.TrialState.RUNNING for s in states)
    record_figure("faults.postgres_restart", restarts=1, restart_seconds=round(downtime, 2), trials_complete=complete,
                  trials_failed=sum(s == optuna.trial.TrialState.FAIL for s in states),
                  storage_errors_waited_out=output.count("storage unavailable"))
