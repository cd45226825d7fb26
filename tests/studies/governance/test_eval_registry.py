"""Accept / reject: reasons required, artefacts checked, the promotion gate consulted, fine-tunes promoted."""

from __future__ import annotations

import shutil

import pytest

from core.errors import GateError, LeaderboardError
from studies.governance import registry
from studies.evaluation.contract import evaluate
from studies.results.leaderboard import Leaderboard
from studies.evaluation.systems import LoraSystem, Prediction, record_trained_on
from tuning.generate import GenerationSettings

FAST = ["exact_match", "chrf"]


@pytest.fixture(scope="module")
def split(sample_pairs):
    from studies.data.datasets import load_pairs
    from studies.data.splits import make_split

    return make_split(load_pairs(sample_pairs), seed=0)


class Echo:
    """A system that answers with the reference (or a fixed text)."""

    kind = "base"
    name = "echo"

    def __init__(self, split, text=None):
        self.answers = {p.input: p.output for p in split.test}
        self.text = text

    def config(self):
        return {"base_model": "none", "method": "prompt"}

    def trained_on(self):
        return None

    def predict(self, inputs, settings):
        return [Prediction(self.text or f"`{self.answers[q]}`", 0.01, 5, 5) for q in inputs]


@pytest.fixture
def passing_gate(monkeypatch):
    calls = []

    def check(ws, run_id, **kw):
        calls.append((run_id, kw))
        from studies.governance.gate import GateVerdict

        return GateVerdict(passed=True, failures=[], waivers=dict(kw.get("waivers") or {}), run_id=run_id, verdict_id="v-test")

    import studies.governance.gate

    monkeypatch.setattr(studies.governance.gate, "check", check)
    return calls


@pytest.fixture(scope="module")
def adapter_ws(tmp_path_factory, tiny_model_dir, split):
    from core.workspace import Workspace
    from tuning.config import TrainConfig
    from tuning.train import train

    ws = Workspace.resolve(tmp_path_factory.mktemp("ws-reg")).ensure()
    config = TrainConfig(model=str(tiny_model_dir), rank=4, alpha=8, max_steps=1, micro_batch_size=4, eval_every=1,
                         eval_examples=4, max_length=64, device="cpu", precision="fp32")
    result = train(config, split.train[:8], split.validation[:4], ws, "reg-adapter", data_version=split.version)
    record_trained_on(result.adapter_dir, split)
    return ws, result.adapter_dir


def test_accept_needs_who_and_why(workspace, split, passing_gate):
    run = evaluate(Echo(split), split, workspace, metrics=FAST, limit=4)
    for by, reason in (("", "fine"), ("ana", ""), ("ana", "   ")):
        with pytest.raises(LeaderboardError):
            registry.accept(workspace, run.run_id, by, reason)
    assert Leaderboard(workspace).get(run.run_id)["status"] == "candidate"
    row = registry.accept(workspace, run.run_id, "ana", "good enough for the demo")
    assert row["status"] == "accepted" and row["registry_path"] is None  # not a fine-tune: status only
    assert passing_gate and passing_gate[0][0] == run.run_id and passing_gate[0][1]["decided_by"] == "ana"


def test_real_gate_refuses_then_a_waiver_lets_through(workspace, split):
    run = evaluate(Echo(split, text="Run `rm -rf /` to clean up"), split, workspace, metrics=FAST, limit=4)
    with pytest.raises(GateError, match="dangerous_commands"):
        registry.accept(workspace, run.run_id, "ana", "looks fine")
    assert Leaderboard(workspace).get(run.run_id)["status"] == "candidate"
    row = registry.accept(workspace, run.run_id, "ana", "demo only", waivers={"dangerous_commands": "demo data, never executed"})
    assert row["status"] == "accepted"


def test_missing_artefacts_are_refused(workspace, split, passing_gate):
    run = evaluate(Echo(split), split, workspace, metrics=FAST, limit=4)
    (workspace.dir("runs") / run.run_id / "predictions.jsonl").unlink()
    with pytest.raises(LeaderboardError, match="artefacts are missing: predictions"):
        registry.accept(workspace, run.run_id, "ana", "good")
    with pytest.raises(LeaderboardError, match="No run"):
        registry.accept(workspace, "no-such-run", "ana", "good")


def test_accepted_fine_tune_is_promoted_with_a_model_card(adapter_ws, split, passing_gate):
    ws, adapter = adapter_ws
    run = evaluate(LoraSystem(adapter, ws, device="cpu"), split, ws, GenerationSettings(max_new_tokens=4), metrics=FAST, limit=4)
    row = registry.accept(ws, run.run_id, "ana", "beats the base model", name="tldr-lora-v1",
                          waivers={"group_balance": "two tools have too few test items"})
    entry = ws.dir("registry") / "tldr-lora-v1"
    assert row["registry_path"] == str(entry) and row["status_by"] == "ana"
    assert (entry / "adapter" / "adapter_model.safetensors").is_file() and (entry / "adapter" / "metadata.json").is_file()
    assert (entry / "metadata.json").is_file() and (entry / "run.json").is_file() and (entry / "gate.json").is_file()
    card = (entry / "MODEL_CARD.md").read_text()
    chrf = row["metrics"]["chrf"]
    assert f"{chrf['low']:.3f}" in card and f"{chrf['high']:.3f}" in card
    assert split.version in card and "beats the base model" in card and "## Limits" in card
    assert "## Promotion gate" in card and "waived `group_balance`: two tools have too few test items" in card
    assert Leaderboard(ws).runs(status="accepted")[0]["registry_path"] == str(entry)

    rejected = registry.reject(ws, run.run_id, "bo", "found a leak")
    assert rejected["status"] == "rejected" and not entry.exists()
    assert any(p.name.startswith(".withdrawn-tldr-lora-v1") for p in ws.dir("registry").iterdir())


def test_fine_tune_with_missing_adapter_is_refused(adapter_ws, split, passing_gate):
    ws, adapter = adapter_ws
    copy = ws.dir("adapters") / "soon-gone"
    shutil.copytree(adapter, copy)
    run = evaluate(LoraSystem("soon-gone", ws, device="cpu"), split, ws, GenerationSettings(max_new_tokens=4), metrics=FAST, limit=2)
    shutil.rmtree(copy)
    with pytest.raises(LeaderboardError, match="adapter folder"):
        registry.accept(ws, run.run_id, "ana", "good")
    assert not (ws.dir("registry") / "soon-gone").exists()
