"""The RAG objective: a trial's RagConfig, the index it needs (built once per setting), evaluation."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from core.errors import ConfigError, SweepError
from studies.sweeps.search_space import DEFAULT_RAG_SPACE
from studies.sweeps.trials import TrialOutcome, TrialRun


class RagObjective:
    """Build (or reuse) an index for the sampled chunking/embedder/index type and score answers on
    the validation split; see :func:`studies.sweeps.objectives.rag.run_rag_trial`."""

    name = "rag"

    def default_space(self) -> dict[str, Any]:
        return DEFAULT_RAG_SPACE

    def check_base(self, base: dict[str, Any]) -> None:
        """``base`` holds RagConfig fields (or their aliases), the corpus and the generator model only."""
        from rag.config import rag_fields

        _check_names(rag_fields({k: v for k, v in base.items() if k not in _RUN_ONLY}))
        run_settings(base)

    def run(self, run: TrialRun) -> TrialOutcome:
        from studies.sweeps.objectives.rag import run_rag_trial

        return run_rag_trial(run)


@dataclass
class RagRunSettings:
    """The keys of a RAG sweep's ``base`` that are not RagConfig fields."""

    corpus: str | None = None
    """The corpus: tldr pages.jsonl, JSONL documents or a folder (or ``data.corpus``)."""
    model: str | None = None
    """The generator (None: the shipped SmolLM2)."""


_RUN_ONLY = set(RagRunSettings.__dataclass_fields__)


def run_settings(base: dict[str, Any]) -> RagRunSettings:
    """The corpus and generator of a RAG sweep's ``base``."""
    from core.config import from_dict

    return from_dict(RagRunSettings, {k: v for k, v in base.items() if k in _RUN_ONLY}, what="RAG sweep base")


def _check_names(values: dict[str, Any]) -> None:
    from rag.config import RagConfig

    known = set(RagConfig.__dataclass_fields__)
    unknown = sorted(set(values) - known)
    if unknown:
        raise SweepError(f"The RAG search space names fields RagConfig does not have: {', '.join(unknown)}; known: {', '.join(sorted(known))}.")


def rag_config_for(base: dict[str, Any], params: dict[str, Any]) -> Any:
    """The trial's RagConfig (other names of fields are read through ``rag.config.RAG_ALIASES``)."""
    from core.config import from_dict
    from rag.config import RagConfig, rag_fields

    values = rag_fields({k: v for k, v in {**base, **params}.items() if k not in _RUN_ONLY})
    if values.get("embedder") in ("default", "all-MiniLM-L6-v2", "minilm"):
        values["embedder"] = None
    _check_names(values)
    return from_dict(RagConfig, values)


_ENCODERS: dict[Any, Any] = {}


def _encoder(spec: str | None, workspace: Any = None) -> Any:
    """The trial's embedder, loaded once per process; a plain name is a fine-tuned embedder of the workspace."""
    from rag.embedder import as_encoder

    key = (spec, str(getattr(workspace, "root", "")))
    if key not in _ENCODERS:
        _ENCODERS[key] = as_encoder(spec, ws=workspace)
    return _ENCODERS[key]


def _held_out_drop(split: Any) -> dict[str, set[tuple[str, str]]]:
    from rag.retrieval_eval import gold_doc

    drop: dict[str, set[tuple[str, str]]] = {}
    for pair in [*split.validation, *split.test]:
        page = gold_doc(pair)
        if page:
            drop.setdefault(page, set()).add((pair.input, pair.output))
    return drop


def trial_index(run: TrialRun, config: Any, split: Any) -> str:
    """Build (or reuse) the index this trial's chunking / index type / embedder needs; its name."""
    from rag.corpus import load_corpus
    from rag.index import build_index

    corpus_path = run_settings(run.config.base).corpus or run.config.data.corpus
    if not corpus_path:
        raise SweepError("A RAG sweep needs a corpus: set base.corpus (or data.corpus) to tldr pages.jsonl, JSONL documents or a folder.")
    key = {**config.index_key(), "embedder": config.embedder, "split": split.version, "corpus": str(corpus_path)}
    digest = hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()[:10]
    name = f"{run.study_name}-idx-{digest}"[:128]
    corpus = load_corpus(corpus_path, drop=_held_out_drop(split))
    build_index(run.workspace, name, corpus, _encoder(config.embedder, run.workspace), config)
    return name


def _trial_system(run: TrialRun, index: str, config: Any) -> Any:
    """A RagSystem whose pipeline uses the trial's query-time settings (k, prompt style, retriever)."""
    from studies.evaluation.systems import RagSystem

    class TrialRagSystem(RagSystem):
        @property
        def pipeline(self) -> Any:
            if self._pipeline is None:
                from rag.pipeline import RagPipeline

                self._pipeline = RagPipeline.open(self.workspace, self.index, generator=self.generator(), config=config,
                                                  encoder=_encoder(config.embedder, self.workspace))
            return self._pipeline

    return TrialRagSystem(index, run.workspace, model=run_settings(run.config.base).model)


def run_rag_trial(run: TrialRun) -> TrialOutcome:
    from studies.sweeps.objectives.common import evaluate_trial, load_examples, mean_scores

    try:
        config = rag_config_for(run.config.base, run.params)
    except ConfigError as exc:
        run.prune(f"invalid configuration: {' '.join(str(exc).split())}")
    _train, _val, split = load_examples(run)
    index = trial_index(run, config, split)
    evaluated = evaluate_trial(run, _trial_system(run, index, config), split)
    scores = mean_scores(evaluated)
    if run.config.metric not in scores:
        raise SweepError(f"The RAG sweep optimises {run.config.metric!r}, which the evaluation did not compute; computed: {', '.join(sorted(scores))}. Set `metric` to one of them.")
    return TrialOutcome(value=scores[run.config.metric], tokens=0, metrics=scores, result=evaluated.record, artifacts={"index": index})
