"""A RAG sweep end to end with a tiny generator and a hashing embedder (no real models)."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from studies.sweeps.config import SweepConfig
from studies.sweeps.ingest import ingest_study
from studies.sweeps.study import create_or_resume, load_study
from studies.sweeps.worker import run_worker


class HashEncoder:
    """Bag of hashed words: deterministic, instant, good enough to retrieve by shared words."""

    name = "hash-16"
    dimension = 16

    def embed(self, texts, batch_size=64, progress=None):
        out = np.zeros((len(texts), self.dimension), dtype="float32")
        for i, text in enumerate(texts):
            for word in text.lower().split():
                out[i, int(hashlib.md5(word.encode()).hexdigest(), 16) % self.dimension] += 1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.maximum(norms, 1e-9)

    def count_tokens(self, texts):
        return [len(t.split()) for t in texts]


@pytest.fixture
def hashed(monkeypatch):
    import studies.sweeps.objectives.rag as rag_sweep

    monkeypatch.setattr(rag_sweep, "_encoder", lambda spec, workspace=None: HashEncoder())


def test_rag_sweep_builds_shared_indexes_and_records_rows(workspace, tiny_model_dir, sample_pairs, sample_pages, hashed):
    config = SweepConfig(
        name="tiny-rag",
        objective="rag",
        metric="token_f1",
        direction="maximize",
        pruner="none",
        n_trials=3,
        n_startup_trials=3,
        space={"chunk_size": [32, 64], "top_k": [1, 2], "prompt_template": ["fewshot", "page"], "retriever": ["dense"]},
        base={"corpus": str(sample_pages), "model": str(tiny_model_dir)},
        data={"dataset": str(sample_pairs), "seed": 0},
        eval_limit=3,
        eval_metrics=["exact_match", "token_f1"],
        generation={"max_new_tokens": 4, "batch_size": 4},
    )
    create_or_resume(config, workspace.optuna_url)
    run_worker(workspace.optuna_url, config.name, workspace)
    study, _ = load_study(workspace.optuna_url, config.name, heartbeat=False)
    done = [t for t in study.trials if t.state.name == "COMPLETE"]
    assert len(done) == 3, [(t.state.name, t.user_attrs.get("fail_reason")) for t in study.trials]
    indexes = {t.user_attrs["artifacts"]["index"] for t in done}
    chunk_sizes = {t.params["chunk_size"] for t in done}
    assert len(indexes) == len(chunk_sizes), "trials that differ only in query-time settings share one index"
    assert ingest_study(workspace, workspace.optuna_url, config.name).added == 3
    from studies.results.leaderboard import Leaderboard

    rows = Leaderboard(workspace).history(config.name)
    assert [r["kind"] for r in rows] == ["rag"] * 3 and all(r["split_part"] == "validation" for r in rows)


def test_invalid_rag_combination_is_pruned_with_the_reason(workspace, tiny_model_dir, sample_pairs, sample_pages, hashed):
    config = SweepConfig(
        name="bad-rag", objective="rag", metric="token_f1", direction="maximize", pruner="none", n_trials=1,
        space={"chunk_size": [16], "chunk_overlap": [32]},
        base={"corpus": str(sample_pages), "model": str(tiny_model_dir)},
        data={"dataset": str(sample_pairs), "seed": 0},
    )
    create_or_resume(config, workspace.optuna_url)
    run_worker(workspace.optuna_url, config.name, workspace)
    study, _ = load_study(workspace.optuna_url, config.name, heartbeat=False)
    trial = study.trials[0]
    assert trial.state.name == "PRUNED" and "chunk_overlap < chunk_size" in trial.user_attrs["pruned_reason"]
