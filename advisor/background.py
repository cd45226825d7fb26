"""The app's long work as background jobs (see :mod:`core.jobs`): building a RAG index, evaluating one,
fine-tuning the embedder, measuring a review meeting's evidence, exporting an accepted fine-tune.

``python -m advisor.background <job dir>`` runs one job; :func:`start_rag_build`,
:func:`start_rag_eval`, :func:`start_embedder_tuning`, :func:`start_evidence` and :func:`start_export` start
them. Each reports its stages (for a build: loading the embedder, chunking, embedding, indexing) so a page
never sits on a stale bar.
"""

from __future__ import annotations

import re
import sys
from typing import Any

from core.jobs import JobReporter, JobStatus, params_of, start_job
from core.workspace import Workspace

RAG_BUILD = "rag-build"
RAG_EVAL = "rag-eval"
EXPORT = "export"
EMBEDDER_TUNE = "embedder-tune"
EVIDENCE = "evidence"
EVIDENCE_PARTS = ("learning_curve", "oracle", "forgetting")
STAGES = {"chunk": "Chunking documents", "embed": "Embedding chunks", "index": "Building the FAISS index"}


def start_rag_build(ws: Workspace, name: str, corpus: str, config: dict[str, Any]) -> JobStatus:
    """Build (or reuse) index ``name`` from ``corpus`` with RagConfig values ``config``, in the background."""
    from core.config import from_dict
    from core.workspace import safe_name
    from rag.config import RagConfig

    from_dict(RagConfig, config)  # a bad setting is refused here, before a process starts
    return start_job(ws, RAG_BUILD, __name__, {"workspace": str(ws.root), "name": safe_name(name), "corpus": corpus,
                                               "config": config})


def start_rag_eval(ws: Workspace, index: str, split_version: str, limit: int | None = None,
                   model: str | None = None) -> JobStatus:
    """Evaluate index ``index`` on the test part of ``split_version`` in the background (leakage controlled);
    ``model``: the generator (a local transformers folder; default SmolLM2-135M-Instruct)."""
    return start_job(ws, RAG_EVAL, __name__, {"workspace": str(ws.root), "index": index, "split": split_version,
                                              "limit": limit, "model": model})


def start_export(ws: Workspace, run_id: str, fmt: str, quant: str | None = None, sample: int | None = None) -> JobStatus:
    """Export accepted run ``run_id`` as ``fmt`` (merged, gguf or ollama) and re-check it on the frozen test split, in the
    background. The run and the request are checked here first, so a refusal is immediate and no process starts."""
    from studies.governance.export import DEFAULT_SAMPLE, check_request, registry_entry

    sample = DEFAULT_SAMPLE if sample is None else int(sample)
    quant = check_request(fmt, quant, sample)
    registry_entry(ws, run_id)
    return start_job(ws, EXPORT, __name__, {"workspace": str(ws.root), "run_id": run_id, "format": fmt, "quant": quant,
                                            "sample": sample})


def start_embedder_tuning(ws: Workspace, name: str, index: str, split_version: str, config: dict[str, Any]) -> JobStatus:
    """Fine-tune the embedder of index ``index`` on the train part of ``split_version`` (what `advisor rag
    tune-embedder` does) in the background; ``config``: EmbedderTuneConfig values. Checked here first."""
    from core.config import from_dict
    from core.workspace import safe_name
    from rag.embedder_tuning import EmbedderTuneConfig, refuse_existing
    from rag.index import open_index
    from studies.data.splits import load_split

    if not config.get("base"):  # start from the embedder the index was built with (its retriever mines the negatives)
        config = {**config, "base": open_index(ws, index).config.embedder}
    from_dict(EmbedderTuneConfig, config).validate()
    load_split(ws, split_version)  # a missing or damaged split is refused before a process starts
    refuse_existing(ws, safe_name(name))
    return start_job(ws, EMBEDDER_TUNE, __name__, {"workspace": str(ws.root), "name": safe_name(name), "index": index,
                                                   "split": split_version, "config": config})


def _tune_embedder(job: JobReporter, p: dict[str, Any]) -> dict[str, Any]:
    from core.config import from_dict
    from rag.embedder_tuning import EmbedderTuneConfig, tune_embedder
    from studies.data.splits import load_split

    ws = Workspace.resolve(p["workspace"])
    job.progress("Reading the frozen split")
    split = load_split(ws, p["split"])
    result = tune_embedder(ws, p["name"], p["index"], split, from_dict(EmbedderTuneConfig, p["config"]),
                           progress=lambda stage, done, total: job.progress(stage.capitalize(), done, total))
    m = result.manifest
    return {"name": result.name, "pairs": m["data"]["pairs"], "skipped": result.skipped, "training": m["training"]}


def start_evidence(ws: Workspace, runs: list[str], parts: list[str]) -> JobStatus:
    """Measure the learning curve, oracle-context split and/or forgetting for the compared ``runs`` in the background
    (what ``advisor report --learning-curve --oracle --forgetting`` measures); results are stored, and the decision
    record built afterwards shows them."""
    from core.errors import ConfigError

    unknown = sorted(set(parts) - set(EVIDENCE_PARTS))
    if unknown or not parts:
        raise ConfigError(f"Choose what to measure among {', '.join(EVIDENCE_PARTS)} (got {', '.join(parts) or 'nothing'}).")
    if len(runs) < 2:
        raise ConfigError("Pick at least two runs to compare before measuring more evidence about them.")
    return start_job(ws, EVIDENCE, __name__, {"workspace": str(ws.root), "runs": list(runs), "parts": sorted(set(parts))})


def _evidence(job: JobReporter, p: dict[str, Any]) -> dict[str, Any]:
    from advisor.meeting_evidence import EvidenceOptions
    from advisor.report import build_record

    ws = Workspace.resolve(p["workspace"])
    job.progress("Comparing the runs")
    options = EvidenceOptions(**{part: True for part in p["parts"]})
    record = build_record(ws, p["runs"], evidence=options, say=lambda text: job.progress(str(text).strip()[:160] or "Measuring"))
    outcome = {}
    for part in p["parts"]:
        found = record.evidence.get(part)
        missing = found.get("missing") if isinstance(found, dict) else None
        if missing:
            outcome[part] = f"not measured: {missing}"
        elif not found or (isinstance(found, dict) and all(v is None for v in found.values())):
            outcome[part] = "nothing measured for these runs (no fine-tune with its adapter on this machine, or no gold documents)"
        else:
            outcome[part] = "measured"
    return {"runs": p["runs"], "parts": outcome}


def _export(job: JobReporter, p: dict[str, Any]) -> dict[str, Any]:
    from studies.governance.export import export_run

    ws = Workspace.resolve(p["workspace"])
    stage = ["Exporting"]

    def say(text: str) -> None:
        counted = re.fullmatch(r"\s*(\d+)/(\d+) items", text)
        if counted:  # the check's item counter: a bar within the current stage
            job.progress(stage[0], int(counted.group(1)), int(counted.group(2)))
        else:
            stage[0] = text.strip()[:1].upper() + text.strip()[1:160]
            job.progress(stage[0])

    record = export_run(ws, p["run_id"], p["format"], quant=p.get("quant"), sample=int(p["sample"]), say=say)
    return {"run_id": record.run_id, "format": record.format, "quant": record.quant, "verdict": record.check.verdict,
            "passed": record.check.passed, "path": record.path}


def _build(job: JobReporter, p: dict[str, Any]) -> dict[str, Any]:
    from core.config import from_dict
    from rag.config import RagConfig
    from rag.corpus import load_corpus
    from rag.embedder import as_encoder
    from rag.index import build_index

    ws = Workspace.resolve(p["workspace"])
    config = from_dict(RagConfig, p["config"])
    job.progress("Reading the corpus")
    docs = load_corpus(p["corpus"])
    job.progress("Loading the embedder", message=str(config.embedder or "all-MiniLM-L6-v2"))
    encoder = as_encoder(config.embedder, ws=ws)
    result = build_index(ws, p["name"], docs, encoder, config,
                         progress=lambda stage, done, total: job.progress(STAGES.get(stage, stage), done, total))
    return {"name": p["name"], "chunks": len(result.index), "documents": len(docs.documents),
            "seconds": round(result.seconds, 1), "reused": bool(result.reused)}


def _evaluate(job: JobReporter, p: dict[str, Any]) -> dict[str, Any]:
    from studies.data.splits import load_split
    from studies.evaluation.contract import evaluate
    from studies.evaluation.systems import RagSystem

    ws = Workspace.resolve(p["workspace"])
    limit = p.get("limit") or None
    job.progress("Reading the frozen split")
    split = load_split(ws, p["split"])
    system = RagSystem(p["index"], ws, model=p.get("model"), device="cpu" if p.get("model") else None)
    job.progress("Loading the generator model")
    system.generator()
    # Leakage control (each test item's own example left out of what RAG retrieves) is the contract's own step.
    job.progress("Leakage control and answering the test items")
    result = evaluate(system, split, ws, limit=limit,
                      progress=lambda done, total: job.progress("Answering test items", done, total))
    return {"run_id": result.run_id, "n": result.n, "leakage_control": (result.record.config or {}).get("leakage_control"),
            "scores": {m: {"mean": s.mean, "low": s.low, "high": s.high} for m, s in result.scores.items()}}


WORK = {RAG_BUILD: _build, RAG_EVAL: _evaluate, EMBEDDER_TUNE: _tune_embedder, EVIDENCE: _evidence, EXPORT: _export}
"""What each kind of job runs (in the job's own process)."""


def main(folder: str) -> int:
    job = JobReporter(folder)
    params = params_of(folder)
    work = WORK[job.status.kind]
    return job.run(lambda reporter: work(reporter, params))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
