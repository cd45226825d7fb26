"""What objectives share: loading a sweep's examples, trial rows, evaluating a trial through the contract."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from core.errors import SweepError
from studies.results.records import RunRecord, trial_run_id
from studies.sweeps.trials import TrialRun

if TYPE_CHECKING:  # pragma: no cover
    from studies.evaluation.contract import EvalResult


def trial_record(run: TrialRun, kind: str, system: str, config: dict[str, Any], metrics: dict[str, float], **fields: Any) -> RunRecord:
    """The leaderboard row of a trial scored without the evaluation contract (synthetic trials, or
    evaluation turned off): point metrics on the validation part, run id from (study, trial)."""
    return RunRecord(
        run_id=trial_run_id(run.study_name, run.number),
        kind=kind,
        system=system,
        study=run.study_name,
        trial=run.number,
        config=config,
        split_part="validation",
        metrics={k: {"mean": float(v), "low": float(v), "high": float(v), "n": 1} for k, v in metrics.items()},
        **fields,
    )


def load_examples(run: TrialRun) -> tuple[list[Any], list[Any], Any]:
    """(train, validation, split) for a sweep's ``data`` settings (cached per worker process)."""
    data = run.config.data
    key = (str(run.workspace.root), repr(data))
    if key in _DATA_CACHE:
        return _DATA_CACHE[key]
    from studies.data.splits import load_split

    if data.split:
        split = load_split(run.workspace, data.split)
    elif data.dataset:
        from studies.data.datasets import load_pairs
        from studies.data.splits import make_split, save_split

        dataset = load_pairs(data.dataset)
        split = make_split(dataset, seed=data.seed)
        save_split(run.workspace, split)
    else:
        raise SweepError("The sweep has no data: set data.split (a frozen split version) or data.dataset (a pairs file).")
    train = list(split.train)[: data.train_limit]
    val = list(split.validation)[: data.val_limit]
    if not train or not val:
        raise SweepError(f"Split {getattr(split, 'version', '?')} has {len(train)} training and {len(val)} validation examples; a sweep needs both.")
    _DATA_CACHE[key] = (train, val, split)
    return train, val, split


_DATA_CACHE: dict[tuple[str, str], tuple[list[Any], list[Any], Any]] = {}


def evaluate_trial(run: TrialRun, system: Any, split: Any) -> "EvalResult":
    """Evaluate a trial's system through the shared contract on the validation split, without
    touching the leaderboard (workers never hold it); ``.record`` is the trial's row."""
    from studies.evaluation.contract import evaluate
    from tuning.generate import GenerationSettings

    result = evaluate(
        system,
        split,
        run.workspace,
        settings=GenerationSettings(**run.config.generation) if run.config.generation else None,
        record=False,
        study=run.study_name,
        trial=run.number,
        part="validation",
        limit=run.config.eval_limit,
        metrics=run.config.eval_metrics,
    )
    return result


def mean_scores(evaluated: "EvalResult") -> dict[str, float]:
    """Each computed metric's mean (what status shows and the objective may optimise)."""
    return {name: float(score.mean) for name, score in evaluated.scores.items() if score.mean is not None}
