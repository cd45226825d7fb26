"""`advisor tune`'s step bar: opened at the first step, and timed from there (no "12,300 step/s" for step 1)."""

from __future__ import annotations

from types import SimpleNamespace

from advisor.commands.tune import _progress_bar


def test_the_bar_opens_at_the_first_step_and_counts_its_rate_from_there(capsys):
    lazy, update = _progress_bar()
    assert lazy.bar is None  # nothing drawn while the model loads
    update(SimpleNamespace(total_steps=42, step=1, loss=7.25, tokens_per_s=217.0, eval_loss=None))
    first = lazy.bar.format_dict
    assert first["n"] == 1 and first["initial"] == 1 and first["total"] == 42
    assert "?step/s" in lazy.bar.__str__()  # one step seen, its duration unknown: no rate yet
    update(SimpleNamespace(total_steps=42, step=2, loss=7.10, tokens_per_s=259.0, eval_loss=6.9))
    assert lazy.bar.n == 2 and "val=6.900" in str(lazy.bar)
    lazy.close()
