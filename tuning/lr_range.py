"""A learning-rate range test (Smith 2017, "Cyclical learning rates"; fastai's ``lr_find``).

A short run whose learning rate grows geometrically from ``low`` to ``high``, one optimizer step per
value, on the real data and model: the training loss falls while the rate is useful and turns up
where it becomes too large. The rate of the lowest (smoothed) loss bounds the useful range from
above; a tenth of it is the classic pick. A sweep uses it to seed its first trials and to know where
the range of a model it has never seen lies, for a few dozen steps instead of whole trials.
Nothing is saved: no adapter, no checkpoint, no record.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from core.workspace import Workspace
from tuning.config import TrainConfig
from tuning.distributed import Dist

if TYPE_CHECKING:  # pragma: no cover
    from tuning.models import LoadedModel


@dataclass
class LrRange:
    """What a range test found."""

    learning_rates: list[float] = field(default_factory=list)
    losses: list[float] = field(default_factory=list)
    """Training loss at each step (raw)."""
    smoothed: list[float] = field(default_factory=list)
    best_lr: float | None = None
    """The rate at the lowest smoothed loss (the top of the useful range)."""
    diverged_at: float | None = None
    """The first rate whose smoothed loss exceeded 4x the lowest one (the test stops there)."""
    tokens: int = 0

    @property
    def suggested(self) -> float | None:
        """A tenth of ``best_lr``: the classic choice, safely below where the loss turns up."""
        return None if self.best_lr is None else self.best_lr / 10

    @property
    def useful(self) -> tuple[float, float] | None:
        """(low, high) of the useful range: [best_lr / 30, best_lr]."""
        return None if self.best_lr is None else (self.best_lr / 30, self.best_lr)

    def to_dict(self) -> dict[str, Any]:
        return {"learning_rates": self.learning_rates, "losses": self.losses, "smoothed": self.smoothed,
                "best_lr": self.best_lr, "diverged_at": self.diverged_at, "suggested": self.suggested, "tokens": self.tokens}


def analyse(learning_rates: Sequence[float], losses: Sequence[float], beta: float = 0.6) -> LrRange:
    """Smooth the losses (bias-corrected EMA), find the lowest and where they blow up."""
    result = LrRange(learning_rates=list(learning_rates), losses=list(losses))
    avg, best, best_i = 0.0, math.inf, None
    for i, (lr, loss) in enumerate(zip(learning_rates, losses)):
        if not math.isfinite(loss):
            result.diverged_at = lr
            break
        avg = beta * avg + (1 - beta) * loss
        smooth = avg / (1 - beta ** (i + 1))
        result.smoothed.append(smooth)
        if smooth < best:
            best, best_i = smooth, i
        elif smooth > 4 * best:
            result.diverged_at = lr
            break
    if best_i is not None:
        result.best_lr = float(learning_rates[best_i])
    return result


def lr_range_test(
    config: TrainConfig,
    train_examples: Sequence[Any],
    workspace: Workspace,
    *,
    steps: int = 24,
    low: float = 1e-5,
    high: float = 1e-1,
    loaded: "LoadedModel | None" = None,
) -> LrRange:
    """Run the test with ``config``'s model, adapter and batch settings (its schedule is replaced)."""
    import torch

    from tuning.record import TrainState
    from tuning.train import _optimizer_step, _prepare

    if not (0 < low < high < 1) or steps < 4:
        raise ValueError(f"`0 < low < high < 1` and `steps >= 4` must hold, but got (low={low}, high={high}, steps={steps})")
    config = config.replace(max_steps=steps, learning_rate=high, warmup_ratio=0.0, lr_scheduler="constant",
                            eval_every=0, save_every=0, keep_best=False)
    run = _prepare(config, train_examples, [], workspace, "lr-range-test", loaded, None, None, 0.0, Dist())
    rates = [low * (high / low) ** (i / (steps - 1)) for i in range(steps)]
    run.scheduler = torch.optim.lr_scheduler.LambdaLR(run.optimizer, lambda i: rates[min(i, steps - 1)] / config.learning_rate)
    state = TrainState(fingerprint="lr-range-test")
    losses: list[float] = []
    for i in range(steps):
        losses.append(_optimizer_step(run, state))
        partial = analyse(rates[: i + 1], losses)
        if partial.diverged_at is not None:
            break
    result = analyse(rates[: len(losses)], losses)
    result.tokens = state.tokens_seen
    return result
