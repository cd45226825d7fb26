"""The typed training state and record keep the JSON forms they always had (old checkpoints resume)."""

from __future__ import annotations

import json

import pytest

from core.errors import ConfigError
from tuning.record import EvalPoint, TrainState

# A checkpoint's `state` as written before the state was typed (the keys of the old string-keyed dict).
OLD_STATE = {
    "step": 4, "tokens_seen": 2100, "loss_tokens_seen": 700, "slots_seen": 2300, "train_seconds": 1.5,
    "best_eval_loss": 10.7, "best_step": 4, "evals_since_best": 0,
    "history": [{"step": 2, "eval_loss": 10.8, "tokens_seen": 1000}, {"step": 4, "eval_loss": 10.7, "tokens_seen": 2100}],
    "train_losses": [10.9, 10.85, 10.8, 10.75], "fingerprint": "abc123", "resumed_from": [],
}


def test_an_old_checkpoint_state_loads_and_saves_back_unchanged():
    state = TrainState.from_dict(json.loads(json.dumps(OLD_STATE)))
    assert state.step == 4 and state.history[-1] == EvalPoint(step=4, eval_loss=10.7, tokens_seen=2100)
    assert state.evaluated_at(4) and not state.evaluated_at(3) and not state.stopped_early
    assert state.to_dict() == OLD_STATE  # stopped_early is never checkpointed


def test_a_damaged_state_names_the_field():
    with pytest.raises(ConfigError, match="step"):
        TrainState.from_dict({**OLD_STATE, "step": "four"})
