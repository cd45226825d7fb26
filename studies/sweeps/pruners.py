"""How trials are picked and stopped: the sampler (seeded per worker) and the multi-fidelity pruner."""

from __future__ import annotations

import functools
import os
import warnings
from typing import TYPE_CHECKING

from studies.sweeps.config import SweepConfig

if TYPE_CHECKING:  # pragma: no cover
    import optuna


def seed_salt() -> int:
    """Workers must not share a sampler seed (they would draw the same points): local workers get
    their launch index from ``$ADVISOR_SWEEP_WORKER_INDEX``, others their process id."""
    index = os.environ.get("ADVISOR_SWEEP_WORKER_INDEX")
    return int(index) if index and index.isdigit() else os.getpid()


def make_sampler(config: SweepConfig, salt: int = 0) -> "optuna.samplers.BaseSampler":
    import optuna

    seed = (config.seed + 7919 * salt) % 2**32  # numpy seeds are 32-bit
    if config.sampler == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # constant_liar: parallel workers do not all pick the same point while trials run.
        return optuna.samplers.TPESampler(seed=seed, n_startup_trials=config.n_startup_trials, constant_liar=True, multivariate=True)


def make_pruner(config: SweepConfig) -> "optuna.pruners.BasePruner":
    import optuna

    if config.pruner == "none":
        return optuna.pruners.NopPruner()
    if config.pruner == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=config.n_startup_trials, n_warmup_steps=config.min_resource or 0)
    if config.pruner == "successive_halving":
        pruner: optuna.pruners.BasePruner = optuna.pruners.SuccessiveHalvingPruner(
            min_resource=config.min_resource or "auto", reduction_factor=config.reduction_factor
        )
    else:
        pruner = optuna.pruners.HyperbandPruner(
            min_resource=config.min_resource or 1, max_resource=config.max_resource or "auto", reduction_factor=config.reduction_factor
        )
    n_startup = config.n_startup_trials if startup_stops_at_first_rung(config) else 0
    return _startup_to_first_rung_class()(pruner, n_startup, config.min_resource or 1)


def startup_stops_at_first_rung(config: SweepConfig) -> bool:
    """Whether TPE's start-up trials stop at the first rung (``SweepConfig.startup_to_first_rung``).

    Only when trials remain after the start-up for TPE to use what they taught it: a sweep of no
    more trials than the start-up is all random search, and cutting every trial short would leave
    it with nothing complete.
    """
    return (config.startup_to_first_rung and config.sampler == "tpe" and config.n_startup_trials > 0
            and config.n_trials > config.n_startup_trials)


@functools.cache
def _startup_to_first_rung_class() -> type:
    """The pruner wrapper, defined on first use (optuna is imported lazily)."""
    import optuna

    class StartupToFirstRung(optuna.pruners.BasePruner):
        """Stop TPE's random start-up trials at the first rung (``SweepConfig.startup_to_first_rung``),
        and never prune a trial before one trial has completed, so a sweep always has a result.

        The wrapped pruner still sees them first, so their first-rung values are the pool the later
        trials are ranked against, and TPE learns from them as pruned trials. Without this, successive
        halving promotes each start-up trial that beats the few before it, and every such promotion
        costs a whole trial. Enqueued trials (a user's pick, an OOM or resume retry) are not exploration:
        they are left to the wrapped pruner.
        """

        def __init__(self, inner: optuna.pruners.BasePruner, n_startup: int, first_rung: int) -> None:
            self._inner, self._n, self._first = inner, int(n_startup), int(first_rung)

        def prune(self, study: "optuna.Study", trial: "optuna.trial.FrozenTrial") -> bool:
            from optuna.trial import TrialState

            verdict = self._inner.prune(study, trial)  # records the trial's value at the rung either way
            if "fixed_params" in trial.system_attrs:
                return verdict
            if self._n and trial.number < self._n:
                step = trial.last_step
                return verdict or (step is not None and step >= self._first)
            # Until one trial has completed, the model's trials run to the end: a sweep always has a result.
            if verdict and not study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
                return False
            return verdict

    return StartupToFirstRung
