"""Small library functions the app pages need that no other module offers.

Kept here (decision layer, light at import) so that the Streamlit pages hold no logic of their own.
Heavy imports stay inside the functions.
"""

from __future__ import annotations

import importlib.util
import platform
from dataclasses import dataclass, field
from pathlib import Path

from core.workspace import KINDS, Workspace


@dataclass(frozen=True)
class DeviceInfo:
    """What the app would train and generate on."""

    kind: str
    """'cuda' or 'cpu'."""
    name: str
    """GPU name(s) or the CPU model."""
    memory_gb: float | None
    """Memory of the first GPU in GB, or None on CPU."""
    count: int
    """Number of GPUs (0 on CPU)."""
    cpu_cores: int
    """Logical CPU cores."""
    torch_version: str
    """Installed torch version ('' if torch is missing)."""


@dataclass(frozen=True)
class ModelInfo:
    """One model the app can use, and whether it is ready."""

    role: str
    """'generator', 'embedder', 'converted', 'adapter' or 'registry'."""
    name: str
    """Display name."""
    location: str
    """Folder or file it loads from ('' if missing)."""
    ready: bool
    """True when it can be loaded without installing anything."""
    note: str = ""
    """What to do when it is not ready, or a detail."""


@dataclass(frozen=True)
class WorkspaceSummary:
    """What a workspace holds, by area."""

    root: Path
    counts: dict[str, int] = field(default_factory=dict)
    has_leaderboard: bool = False
    has_optuna: bool = False


def cpu_model() -> str:
    """The CPU model name from /proc/cpuinfo (or the platform's processor string)."""
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace").splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def device_info() -> DeviceInfo:
    """The compute device: CUDA GPUs if torch sees any, else the CPU. Imports torch (slow-ish)."""
    import os

    cores = os.cpu_count() or 1
    try:
        import torch
    except ImportError:
        return DeviceInfo("cpu", cpu_model(), None, 0, cores, "")
    if torch.cuda.is_available():
        count = torch.cuda.device_count()
        names = sorted({torch.cuda.get_device_name(i) for i in range(count)})
        memory = torch.cuda.get_device_properties(0).total_memory / 1e9
        return DeviceInfo("cuda", ", ".join(names), round(memory, 1), count, cores, torch.__version__)
    return DeviceInfo("cpu", cpu_model(), None, 0, cores, torch.__version__)


def workspace_summary(ws: Workspace) -> WorkspaceSummary:
    """Counts of artifacts per area (does not create missing areas)."""
    counts = {}
    for kind in KINDS:
        folder = ws.root / kind
        counts[kind] = sum(1 for p in folder.iterdir() if not p.name.startswith(".")) if folder.is_dir() else 0
    return WorkspaceSummary(ws.root, counts, ws.leaderboard_path.is_file(), (ws.root / "optuna.db").is_file())


def available_models(ws: Workspace) -> list[ModelInfo]:
    """The default generator and embedder (installed or not), plus models and adapters in the workspace."""
    from core.errors import ModelLoadError

    models: list[ModelInfo] = []
    try:
        from tuning.models import SMOLLM2_NAME, converted_path, smollm2_gguf_path

        gguf = smollm2_gguf_path()
        converted = converted_path(ws)
        done = (converted / "model.safetensors").is_file()
        models.append(ModelInfo("generator", SMOLLM2_NAME, str(gguf), True,
                                "converted in this workspace" if done else "converted to safetensors on first use (~30 s)"))
    except ModelLoadError as exc:
        models.append(ModelInfo("generator", "smollm2-135m-instruct", "", False, str(exc)))
    try:
        from rag.embedder import resolve_embedder

        name, path = resolve_embedder(None)
        models.append(ModelInfo("embedder", name, str(path), True))
    except ModelLoadError as exc:
        models.append(ModelInfo("embedder", "all-MiniLM-L6-v2", "", False, str(exc)))
    for role, kind in (("converted", "models"), ("adapter", "adapters"), ("registry", "registry")):
        folder = ws.root / kind
        if folder.is_dir():
            for item in sorted(folder.iterdir()):
                if item.is_dir() and not item.name.startswith("."):
                    models.append(ModelInfo(role, item.name, str(item), True))
    return models


def optional_packages() -> dict[str, bool]:
    """Optional packages the app uses when present (plots, dashboard)."""
    return {name: importlib.util.find_spec(name) is not None for name in ("plotly", "optuna_dashboard", "matplotlib")}


MAX_UPLOAD_MB = 50
"""Largest file the app accepts (MB). Streamlit enforces ``server.maxUploadSize`` in
.streamlit/config.toml in the browser; :func:`store_upload` checks again on the server."""
UPLOAD_SUFFIXES = {"pairs": (".jsonl", ".json", ".csv", ".tsv", ".ndjson"),
                   "corpus": (".jsonl", ".json", ".ndjson", ".md", ".markdown", ".txt", ".rst"),
                   "plans": (".yaml", ".yml", ".json")}


def store_upload(ws: Workspace, filename: str, data: bytes, purpose: str = "pairs",
                 max_mb: int = MAX_UPLOAD_MB) -> Path:
    """Save an uploaded file under ``<workspace>/uploads/<purpose>/`` atomically; refuse oversize or odd files.

    The file name is sanitised (never trusted as a path). Returns the stored path.
    """
    from core.atomic import atomic_write_bytes
    from core.errors import DataError
    from core.workspace import slugify

    if purpose not in UPLOAD_SUFFIXES:
        raise DataError(f"Unknown upload purpose {purpose!r}; expected one of {', '.join(UPLOAD_SUFFIXES)}.")
    size_mb = len(data) / 1_000_000
    if size_mb > max_mb:
        raise DataError(
            f"{filename} is {size_mb:.1f} MB; the app accepts files up to {max_mb} MB. Larger data belongs on disk: "
            f"run `advisor data check PATH` from the command line, or raise server.maxUploadSize in "
            ".streamlit/config.toml and MAX_UPLOAD_MB in advisor/app_support.py together."
        )
    if not data:
        raise DataError(f"{filename} is empty: upload a file with at least one record.")
    stem, dot, suffix = filename.rpartition(".")
    suffix = f".{suffix.lower()}" if dot else ""
    if suffix not in UPLOAD_SUFFIXES[purpose]:
        raise DataError(f"{filename}: expected one of {', '.join(UPLOAD_SUFFIXES[purpose])} for a {purpose} file.")
    name = slugify(stem or "upload", default="upload")[:80] + suffix
    folder = ws.dir("uploads") / purpose
    folder.mkdir(parents=True, exist_ok=True)
    path = ws.contain(folder / name)
    atomic_write_bytes(path, data)
    return path


def uploaded_files(ws: Workspace, purpose: str) -> list[Path]:
    """Files uploaded earlier for ``purpose`` ('pairs' or 'corpus'), newest first."""
    folder = ws.root / "uploads" / purpose
    if not folder.is_dir():
        return []
    files = [p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")]
    return sorted(files, key=lambda p: p.stat().st_mtime, reverse=True)


def sample_paths() -> dict[str, Path]:
    """The bundled sample shipped with the project: ``pairs`` (684 tldr pairs) and ``pages`` (101 pages)."""
    root = Path(__file__).resolve().parent.parent / "data" / "sample"
    return {"pairs": root / "pairs.jsonl", "pages": root / "pages.jsonl"}


@dataclass(frozen=True)
class Source:
    """A data file the app can offer in a picker."""

    label: str
    """What the picker shows."""
    path: Path
    """Where it is read from."""


def pair_sources(ws: Workspace) -> list[Source]:
    """Pair data sets to choose from: the bundled sample, data sets saved in the workspace, uploads."""
    sources = [Source("Bundled sample: tldr DevOps pairs (684)", sample_paths()["pairs"])]
    folder = ws.root / "datasets"
    if folder.is_dir():
        for item in sorted(folder.iterdir()):
            if (item / "pairs.jsonl").is_file() and not item.name.startswith("."):
                sources.append(Source(f"Workspace data set: {item.name}", item / "pairs.jsonl"))
    sources += [Source(f"Uploaded: {p.name}", p) for p in uploaded_files(ws, "pairs")]
    return sources


def corpus_sources(ws: Workspace) -> list[Source]:
    """Corpora to choose from: the bundled tldr pages, corpora in the workspace, uploads."""
    sources = [Source("Bundled sample: tldr DevOps pages (101)", sample_paths()["pages"])]
    folder = ws.root / "corpora"
    if folder.is_dir():
        for item in sorted(folder.iterdir()):
            if not item.name.startswith("."):
                sources.append(Source(f"Workspace corpus: {item.name}", item))
    sources += [Source(f"Uploaded: {p.name}", p) for p in uploaded_files(ws, "corpus")]
    return sources


def leaderboard_table(rows: list[dict], metric: str | None, cost: str = "money_usd") -> list[dict]:
    """Leaderboard rows flattened for display: the chosen metric with its interval first, then the others."""
    table = []
    for r in rows:
        metrics = r.get("metrics") or {}
        row: dict = {"run": r["run_id"], "kind": r["kind"], "system": r.get("system") or "",
                     "study": r.get("study") or "", "trial": r.get("trial")}
        if metric:
            m = metrics.get(metric) or {}
            row[metric] = m.get("mean")
            row[f"{metric} interval"] = (f"[{m['low']:.3f}, {m['high']:.3f}]"
                                         if m.get("low") is not None and m.get("high") is not None else "")
        for name in sorted(metrics):
            if name != metric:
                row[name] = metrics[name].get("mean")
        row.update({"n": r.get("n_items"), "latency s": r.get("latency_s"), cost: r.get(cost),
                    "status": r.get("status"), "by": r.get("status_by") or "", "reason": r.get("status_reason") or "",
                    "split": r.get("split_version") or "", "created": r.get("created_at")})
        table.append(row)
    return table


def parse_waivers(text: str) -> dict[str, str]:
    """Waivers typed one per line as ``check_name: reason`` (blank lines ignored)."""
    from core.errors import GateError

    waivers: dict[str, str] = {}
    for number, line in enumerate((text or "").splitlines(), start=1):
        if not line.strip():
            continue
        check, sep, reason = line.partition(":")
        if not sep or not check.strip() or not reason.strip():
            raise GateError(f"Waiver line {number} ({line.strip()!r}): write `check_name: reason`, "
                            "e.g. `dangerous_commands: the references themselves contain mkfs`.")
        waivers[check.strip()] = reason.strip()
    return waivers


def plan_for_run(ws: Workspace, run_id: str):
    """The plan a run's sweep was started from (``<ws>/sweeps/<study>/plan.yaml``), else None."""
    from studies.results.leaderboard import Leaderboard

    study = Leaderboard(ws).get(run_id).get("study")
    if not study:
        return None
    path = ws.root / "sweeps" / study / "plan.yaml"
    if not path.is_file():
        return None
    from advisor.plan import load_plan

    return load_plan(path)


def gate_preview(ws: Workspace, run_id: str, waivers_text: str = ""):
    """What the promotion gate would say about a run now (nothing recorded)."""
    from studies.governance import gate

    return gate.check(ws, run_id, waivers=parse_waivers(waivers_text), plan=plan_for_run(ws, run_id), record=False)


def decide_run(ws: Workspace, run_id: str, accept: bool, by: str, reason: str, waivers_text: str = "") -> str:
    """Accept (through the promotion gate; fine-tunes go to the registry) or reject a run; says what happened."""
    from studies.governance import registry

    if accept:
        row = registry.accept(ws, run_id, by, reason, plan=plan_for_run(ws, run_id), waivers=parse_waivers(waivers_text))
        where = f" Registry entry: {row['registry_path']}." if row.get("registry_path") else ""
        return f"Run {run_id} accepted by {by.strip()}: {reason.strip()}.{where}"
    registry.reject(ws, run_id, by, reason)
    return f"Run {run_id} rejected by {by.strip()}: {reason.strip()}."


# ----------------------------------------------------------------------------- questionnaire


def applicable_sections(questionnaire, answers: dict) -> list[str]:
    """Sections (in order) that hold at least one question that applies to the answers so far."""
    resolved = questionnaire.resolve(answers)
    seen: list[str] = []
    for q in questionnaire.questions:
        if q.section not in seen and _applies(questionnaire, q, resolved, answers):
            seen.append(q.section)
    return seen


def _applies(questionnaire, question, resolved: dict, answers: dict) -> bool:  # noqa: ARG001
    # Conditions look at earlier answers: those that still apply, with defaults filled in.
    return questionnaire.applies(question, resolved)


def section_questions(questionnaire, section: str, answers: dict) -> list:
    """The questions of one section that apply given the answers so far, in order."""
    resolved = questionnaire.resolve(answers)
    return [q for q in questionnaire.questions if q.section == section and _applies(questionnaire, q, resolved, answers)]


def missing_answers(questionnaire, section: str, answers: dict) -> list:
    """Required questions of ``section`` that apply and have no answer yet."""
    return [q for q in section_questions(questionnaire, section, answers)
            if q.required and (answers.get(q.id) is None or answers.get(q.id) == [] or answers.get(q.id) == "")]


def parse_saved_answers(data: bytes, filename: str, questionnaire=None) -> tuple[dict, list[str]]:
    """Answers from a saved YAML/JSON file: (every valid answer, the problems with the rest).

    Unlike :func:`advisor.questions.validate_answers` this keeps partial answers, so a person can
    load an unfinished questionnaire and complete it.
    """
    import json

    import yaml

    from advisor.questions import coerce_answer, load_questionnaire
    from core.errors import ConfigError

    qn = questionnaire or load_questionnaire()
    try:
        text = data.decode("utf-8")
        raw = json.loads(text) if filename.lower().endswith(".json") else yaml.safe_load(text)
    except (UnicodeDecodeError, ValueError, RecursionError, yaml.YAMLError) as exc:
        raise ConfigError(f"{filename} is not a readable YAML or JSON answers file ({exc}). "
                          "Download answers from this page to see the expected shape.") from exc
    if isinstance(raw, dict) and isinstance(raw.get("answers"), dict):
        raw = raw["answers"]
    if not isinstance(raw, dict):
        raise ConfigError(f"{filename}: expected a mapping of question id: answer, got {type(raw).__name__}.")
    answers: dict = {}
    problems: list[str] = []
    for key, value in raw.items():
        if key not in qn:
            problems.append(f"unknown question id `{key}` (ignored)")
            continue
        if value is None:
            continue
        typed, problem = coerce_answer(qn.get(key), value)
        if problem:
            problems.append(problem)
        else:
            answers[key] = typed
    return answers, problems


def answers_yaml(answers: dict, questionnaire=None) -> str:
    """Answers as a YAML file that `advisor decide --answers FILE` and this page's loader accept."""
    import yaml

    from advisor.questions import load_questionnaire

    qn = questionnaire or load_questionnaire()
    ordered = {qid: answers[qid] for qid in qn.ids() if qid in answers and answers[qid] is not None}
    header = "# Questionnaire answers. Reuse: advisor decide --answers THIS_FILE (or load it on the Decide page)\n"
    return header + yaml.safe_dump({"answers": ordered}, sort_keys=False, allow_unicode=True)


@dataclass
class RecommendationView:
    """A recommendation laid out for a page: every part in plain words, plus the downloadable forms."""

    headline: str
    summary: str
    reasons: list[str]
    flip: list[str]
    risks: list[str]
    next_steps: list[str]
    estimates: list[dict]
    estimates_note: str
    markdown: str
    json: str
    as_dict: dict


def recommendation_view(answers: dict) -> RecommendationView:
    """Run the advisor on validated answers and lay the result out for the Decide page."""
    from core.errors import ConfigError

    try:
        from advisor import recommend as engine
    except ImportError as exc:
        raise ConfigError("The recommendation engine (advisor/recommend.py) is not installed in this version; "
                          "update the project to get the recommendation.") from exc
    rec = engine.recommend(answers)
    return _view_of(rec)


def _estimate_rows(estimates: dict) -> list[dict]:
    rows = []
    for part, label in (("training", "Training"), ("rag", "RAG")):
        values = estimates.get(part) or {}
        for key, value in values.items():
            if key in ("estimate", "notes", "accuracy"):
                continue
            if isinstance(value, dict):
                value = ", ".join(f"{k} {v}" for k, v in value.items())
            rows.append({"what": f"{label}: {key.replace('_', ' ')}", "estimate": str(value)})
        for note in values.get("notes") or []:
            rows.append({"what": f"{label}: note", "estimate": str(note)})
    return rows


def _view_of(rec) -> RecommendationView:
    import json

    summary = (f"Confidence **{rec.confidence:.0%}**, ahead of the runner-up ({rec.runner_up}) by "
               f"{rec.margin:g} points.")
    if rec.method is not None:
        summary += f" Method: **{rec.method.name.upper()}** on a {rec.method.model_size} model: {rec.method.why}."
    reasons = [r.text for r in rec.reasons] or ["No rule fired strongly: the default (prompting first) stands."]
    flips = [f.text for f in rec.flip]
    risks = list(rec.risks) + [f"Prerequisite: {p}" for p in rec.prerequisites]
    rows = _estimate_rows(rec.estimates)
    note = str(rec.estimates.get("note", "All figures are estimates."))
    as_dict = rec.to_dict()
    lines = [f"# Recommendation: {rec.label}", "", summary, "", "## Why", *[f"- {r}" for r in reasons]]
    if flips:
        lines += ["", "## What would change it", *[f"- {f}" for f in flips]]
    if risks:
        lines += ["", "## Risks and prerequisites", *[f"- {r}" for r in risks]]
    if rows:
        lines += ["", "## Estimates", "", note, "", "| what | estimate |", "|---|---|",
                  *[f"| {r['what']} | {r['estimate']} |" for r in rows]]
    lines += ["", "## Next steps", *[f"{i}. {s}" for i, s in enumerate(rec.next_steps, 1)], "",
              "## Answers", *[f"- {k}: {v}" for k, v in rec.answers.items()], ""]
    return RecommendationView(
        headline=rec.label, summary=summary, reasons=reasons, flip=flips, risks=risks, next_steps=list(rec.next_steps),
        estimates=rows, estimates_note=note, markdown="\n".join(lines),
        json=json.dumps(as_dict, indent=2, default=str, ensure_ascii=False), as_dict=as_dict)


# ----------------------------------------------------------------------------- sweeps


def sweep_storage(ws: Workspace, name: str | None = None) -> str:
    """The Optuna storage URL of a sweep (the one recorded when it started), else the default one."""
    from advisor.sweep_launch import storage_for

    return storage_for(ws, name, None)


def sweep_names(ws: Workspace) -> list[str]:
    """Sweeps started from this workspace, plus any other study in its default storage (no storage is created)."""
    names = set()
    folder = ws.root / "sweeps"
    if folder.is_dir():
        names |= {p.parent.name for p in folder.glob("*/sweep.json")}
    if (ws.root / "optuna.db").is_file():
        from studies.sweeps.status import list_sweeps

        names |= set(list_sweeps(ws.optuna_url))
    return sorted(names)


def sweep_config_from_upload(path: Path, name: str | None = None, trials: int | None = None):
    """A SweepConfig from a plan or sweep-config file (the same reader as `advisor sweep start --plan`)."""
    from advisor.sweep_launch import sweep_config_from_file

    config = sweep_config_from_file(str(path), name=name or None)
    if trials:
        config = type(config).from_dict({**config.to_dict(), "n_trials": int(trials)})
    return config


def demo_sweep_config(name: str = "demo-synthetic", trials: int = 12):
    """A cheap sweep with the synthetic objective (no model): shows trials, pruning and plots in seconds."""
    from studies.sweeps.config import SweepConfig

    config = SweepConfig(name=name, objective="synthetic", n_trials=int(trials), metric="val_loss",
                         base={"steps": 8, "step_seconds": 0.2, "tokens_per_step": 1000}, n_startup_trials=4)
    config.validate()
    return config


def start_sweep(ws: Workspace, config, workers: int = 1) -> dict:
    """Create or resume the sweep and make sure its background workers run (never duplicates them)."""
    from advisor.sweep_launch import start_sweep as start

    return start(ws, config, None, workers)


def stop_sweep(ws: Workspace, name: str) -> str:
    """Ask every worker of the sweep to stop after its current trial and signal the local ones."""
    from studies.sweeps.study import request_stop
    from studies.sweeps.processes import signal_workers

    request_stop(sweep_storage(ws, name), name)
    pids = signal_workers(ws, name)
    return (f"Stop requested for {name}: {len(pids)} local worker(s) signalled; they finish their current step and "
            "exit. Workers on other machines stop after their current trial. Start it again to resume.")


def recommendation_plan(answers: dict, dataset: str | None = None, corpus: str | None = None,
                        split_version: str | None = None, name: str = "plan"):
    """The experiment plan for the questionnaire's answers (and the data picked on the Data page)."""
    from advisor.plan import make_plan

    plan = make_plan(answers, dataset=dataset, corpus=corpus, name=name)
    if split_version:
        plan.data.split_version = split_version
    return plan


def recommendation_sweep_config(ws: Workspace, recommendation: dict | None, name: str | None = None,
                                trials: int | None = None, dataset: str | None = None, corpus: str | None = None,
                                split_version: str | None = None):
    """The sweep config of the recommendation's plan; the plan itself is kept in ``<ws>/sweeps/<name>/plan.yaml``."""
    from core.atomic import atomic_write_text
    from core.errors import ConfigError
    from core.workspace import slugify
    from studies.sweeps.config import SweepConfig

    if not recommendation or not recommendation.get("answers"):
        raise ConfigError("No recommendation yet in this session: answer the questionnaire on the Decide page first, "
                          "or upload a plan file.")
    name = slugify(name or f"plan-{recommendation.get('recommendation', 'sweep')}", default="plan")
    plan = recommendation_plan(recommendation["answers"], dataset, corpus, split_version, name)
    values = plan.sweep_config("lora", name=name)
    if trials:
        values["n_trials"] = int(trials)
    config = SweepConfig.from_dict(values)
    config.validate()
    folder = ws.path("sweeps", config.name)
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write_text(folder / "plan.yaml", plan.to_yaml())
    return config


# ----------------------------------------------------------------------------- evaluation


def evaluate_rag(ws: Workspace, index: str, split_version: str, limit: int | None = None, generator=None,
                 progress=None):
    """Evaluate the RAG system over ``index`` on the split's test part (the shared contract; records a row)."""
    from studies.evaluation.contract import evaluate
    from studies.data.splits import load_split
    from studies.evaluation.systems import RagSystem

    system = RagSystem(index, ws, generator=generator)
    return evaluate(system, load_split(ws, split_version), ws, limit=limit, progress=progress)


def paired_comparisons(ws: Workspace, runs: list[str], reference: str) -> list[dict]:
    """Every run against ``reference`` on their shared metrics: difference with its interval, p-value, verdict."""
    from studies.evaluation.contract import compare

    rows = []
    for run in runs:
        if run == reference:
            continue
        for metric, c in compare(ws, run, reference).items():
            verdict = {"a better": f"{run} better", "b better": f"{reference} better"}.get(c.verdict, c.verdict)
            rows.append({"run": run, "vs": reference, "metric": metric, "difference": c.difference.mean,
                         "95% interval": f"[{c.difference.low:+.3f}, {c.difference.high:+.3f}]",
                         "test": c.test, "p-value": c.p_value, "verdict": verdict})
    return rows


def report_available() -> bool:
    """True once the comparison-report module (the decision record) is installed."""
    return importlib.util.find_spec("advisor.report") is not None


@dataclass
class ReportView:
    """The decision record for a page: the verdict, the plots, and both downloadable forms."""

    title: str
    verdict_markdown: str
    plots: dict[str, bytes]
    markdown: str
    html: str
    record: object
    first_screen: str = ""
    """The record's one-page table and verdict sentence (Markdown), plus the learning curve's sentence where stored."""


def decision_record(ws: Workspace, runs: list[str], recommendation: dict | None = None) -> ReportView:
    """The comparison report / decision record of ``runs`` (the questionnaire's answers, when given, are the
    initial recommendation that the evidence confirms or overturns)."""
    from advisor.report import build_record, render_first_screen, render_html, render_markdown

    record = build_record(ws, list(runs), answers=(recommendation or {}).get("answers") or None)
    record.evidence = _stored_evidence(ws, record)
    v = record.verdict
    lines = [f"**Verdict: {v.headline}**", ""]
    lines += [f"- {r}" for r in v.reasons]
    if v.open_questions:
        lines += ["", "**Open questions**", *[f"- {q}" for q in v.open_questions]]
    curve = record.evidence.get("learning_curve") or {}
    first = render_first_screen(record) + (f"\n\n**How much data would it take?** {curve['sentence']}" if curve.get("sentence") else "")
    return ReportView(title=record.title, verdict_markdown="\n".join(lines), plots=dict(record.plots),
                      markdown=render_markdown(record), html=render_html(record), record=record, first_screen=first)


def _stored_evidence(ws: Workspace, record: object) -> dict:
    """The learning curve, oracle split and forgetting already stored for these runs (the app measures nothing here)."""
    from advisor.meeting_evidence import EvidenceOptions, gather
    from advisor.record_summary import readable_names
    from studies.results.leaderboard import Leaderboard

    board = Leaderboard(ws)
    rows = {r.run_id: board.get(r.run_id) for r in record.comparison.runs}
    return gather(ws, record.comparison, rows, readable_names(list(rows.values())),
                  EvidenceOptions(learning_curve=True, oracle=True, forgetting=True))


def save_report(ws: Workspace, view: ReportView) -> list[Path]:
    """Write the record into ``<ws>/reports/`` as Markdown (with its PNG plots) and self-contained HTML."""
    from advisor.report import write_report

    return [write_report(ws, view.record, "md"), write_report(ws, view.record, "html")]
