"""An optional model judge for free-text answers: the user's rubric, a fixed 1-5 scale, one score per item.

chrF, ROUGE-L and embedding similarity reward overlap with the reference; a judge can reward what a
person would (correct, complete, grounded). A judge is a model, so its scores only count in a
verdict once its agreement with blind human review is measured (``studies.governance.judge_agreement``).

Two backends behind one small protocol (:class:`Judge`):

* :class:`LocalJudge`: any local transformers causal LM (default: SmolLM2-135M-Instruct). It *scores*
  the five grades ("1" ... "5") as the reply (``tuning.label_scoring``) and takes the most likely, so
  every item gets a valid grade;
* :class:`EndpointJudge`: an OpenAI-compatible chat endpoint (the data-creation client, API key from an
  environment variable only). Replies without a grade, and requests that fail, are counted as
  unparseable, not fatal; several failures in a row stop the run (the endpoint is not working).

:func:`judge_run` grades every stored item of a run and stores the grade mapped to 0-1 as the metric
``judge`` next to the run's other per-item metrics (``predictions.jsonl``; the leaderboard row and
``run.json`` get its interval), with who judged under which rubric in ``judge.json``. Unparseable
items carry no ``judge`` value: a comparison then leaves the judge out rather than guess.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

from core.errors import AdvisorError, EvaluationError
from core.workspace import Workspace
from studies.evaluation.stats import Score, interval

JUDGE_METRIC = "judge"
"""The metric name the judge's scores are stored under."""
SCALE = ("1", "2", "3", "4", "5")
"""The grades a judge gives; grade g is stored as (g - 1) / 4."""
JUDGE_FILE = "judge.json"
MAX_RUBRIC_CHARS = 20_000
MAX_FIELD_CHARS = 4_000
"""Question, reference and answer are each cut to this many characters in the prompt (marked as cut)."""
MAX_CONSECUTIVE_FAILURES = 5
"""An endpoint that fails this many requests in a row stops the run (nothing is stored)."""

DEFAULT_RUBRIC = """Grade how well the answer responds to the question. The reference answer is correct; use it as the ground truth.
5: correct and complete: it says what the reference says that the question asks for, and nothing that contradicts it.
4: correct, but misses a minor detail or adds unneeded text that is still true.
3: partly correct: some key facts are right, but something important is missing or wrong.
2: mostly wrong or unsupported by the reference, with only a small correct part.
1: wrong, contradicts the reference, off-topic, a refusal, or empty.
Judge the content, not the style or the length. Do not reward claims the reference does not support."""
"""The rubric for grounded free-text answers when the user gives none."""

ProgressFn = Callable[[int, int], None]


@dataclass(frozen=True)
class Rubric:
    """The grading instructions (what each grade means) and where they came from."""

    text: str
    source: str = "default"

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()


def load_rubric(path: str | Path | None = None) -> Rubric:
    """The user's rubric (a UTF-8 text file), else :data:`DEFAULT_RUBRIC`."""
    if path is None:
        return Rubric(DEFAULT_RUBRIC, "default")
    p = Path(path)
    if not p.is_file():
        raise EvaluationError(f"Rubric file {p} does not exist (or is not a file): pass a text file that says what each grade 1-5 means.")
    if p.stat().st_size > 4 * MAX_RUBRIC_CHARS:
        raise EvaluationError(f"Rubric file {p} is {p.stat().st_size} bytes; a rubric is at most {MAX_RUBRIC_CHARS} characters.")
    try:
        text = p.read_text(encoding="utf-8").strip()
    except UnicodeDecodeError as exc:
        raise EvaluationError(f"Rubric file {p} is not UTF-8 text ({exc.reason}); save it as UTF-8.") from exc
    if not text:
        raise EvaluationError(f"Rubric file {p} is empty: say what each grade 1-5 means.")
    if len(text) > MAX_RUBRIC_CHARS:
        raise EvaluationError(f"Rubric file {p} has {len(text)} characters; a rubric is at most {MAX_RUBRIC_CHARS}.")
    return Rubric(text, str(p))


def _cut(text: str) -> str:
    text = (text or "").strip()
    return text if len(text) <= MAX_FIELD_CHARS else text[:MAX_FIELD_CHARS] + " [... cut]"


def build_prompt(rubric: Rubric, question: str, reference: str, answer: str) -> str:
    """The judge's one user message: rubric, question, reference, answer, then how to reply."""
    return (
        f"You are grading an answer on a scale from {SCALE[0]} to {SCALE[-1]}.\n\n"
        f"Rubric:\n{rubric.text}\n\n"
        f"Question:\n{_cut(question) or '(empty)'}\n\n"
        f"Reference answer:\n{_cut(reference) or '(empty)'}\n\n"
        f"Answer to grade:\n{_cut(answer) or '(empty)'}\n\n"
        f"Reply with the grade only: one digit from {SCALE[0]} to {SCALE[-1]}."
    )


_LABELLED = re.compile(r"\b(?:score|grade|rating)\b\s*(?:is|of|[:=])?\s*\**\s*([0-9]+(?:\.[0-9]+)?)\s*\**\s*(?:/\s*5|out of 5)?", re.I)
_ALONE = re.compile(r"^[\s*_`'\"(\[]*([0-9]+(?:\.[0-9]+)?)\s*(?:/\s*5|out of 5)?[\s*_`'\".)\]]*$", re.I)


def parse_grade(reply: str | None) -> int | None:
    """The grade in a reply: the last ``Score: N`` (``Grade``, ``Rating``; ``N/5`` too), else a reply that is
    just ``N``; None when there is none or it is not a whole grade on the scale (0, 6, 3.5)."""
    text = (reply or "").strip()
    if not text:
        return None
    found = _LABELLED.findall(text)
    value = found[-1] if found else None
    if value is None:
        m = _ALONE.match(text) or _ALONE.match(text.splitlines()[0])
        value = m.group(1) if m else None
    if value is None or value not in SCALE:
        return None
    return int(value)


def grade_score(grade: int) -> float:
    """A grade on :data:`SCALE` mapped to 0-1 (1 -> 0.0, 5 -> 1.0)."""
    lo, hi = int(SCALE[0]), int(SCALE[-1])
    if not lo <= grade <= hi:
        raise ValueError(f"grade must be in [{lo}, {hi}], got {grade}")
    return (grade - lo) / (hi - lo)


@dataclass
class JudgeReply:
    """One item's grade (None: unparseable) and what the judge said (reply text, or label scores)."""

    grade: int | None
    detail: dict[str, Any] = field(default_factory=dict)
    truncated_prompt: bool = False


class Judge(Protocol):
    """Grades prompts built by :func:`build_prompt`; ``name`` identifies the judge (model or endpoint/model)."""

    name: str

    def grade(self, prompts: Sequence[str], progress: ProgressFn | None = None) -> list[JudgeReply]:
        ...


class LocalJudge:
    """A local transformers causal LM that scores each grade's log-likelihood as the reply (always a valid grade)."""

    def __init__(self, spec: str | None, workspace: Workspace, max_prompt_tokens: int = 4096) -> None:
        self.spec, self.workspace, self.max_prompt_tokens = spec, workspace, max_prompt_tokens
        self._loaded: Any = None
        self.name = f"local:{spec or 'smollm2-135m-instruct'}"

    def grade(self, prompts: Sequence[str], progress: ProgressFn | None = None) -> list[JudgeReply]:
        from tuning.generate import GenerationSettings
        from tuning.label_scoring import score_labels
        from tuning.models import load_base_model

        if self._loaded is None:
            self._loaded = load_base_model(self.spec, self.workspace)
        settings = GenerationSettings(max_prompt_tokens=self.max_prompt_tokens)
        scored = score_labels(self._loaded, [[{"role": "user", "content": p}] for p in prompts], list(SCALE), settings, progress=progress)
        return [
            JudgeReply(int(s.label), {"label_scores": {k: round(v, 4) for k, v in s.scores.items()}}, s.truncated_prompt)
            for s in scored
        ]


class EndpointJudge:
    """An OpenAI-compatible chat endpoint (``url`` is the base, e.g. ``http://host:8000/v1``); temperature 0."""

    def __init__(self, url: str, model: str, api_key_env: str | None = None, timeout_s: float = 120.0, attempts: int = 3,
                 max_tokens: int = 256) -> None:
        from studies.data.creation.model import EndpointGenerator

        self._client = EndpointGenerator(url, model, api_key_env, timeout_s=timeout_s, max_tokens=max_tokens, attempts=attempts)
        self.name = self._client.name

    def grade(self, prompts: Sequence[str], progress: ProgressFn | None = None) -> list[JudgeReply]:
        out: list[JudgeReply] = []
        failures = 0
        for i, prompt in enumerate(prompts, start=1):
            try:
                reply = self._client.reply(prompt)
            except AdvisorError as exc:
                failures += 1
                if failures >= MAX_CONSECUTIVE_FAILURES:
                    raise EvaluationError(
                        f"The judge endpoint failed {failures} requests in a row (last: {exc}); nothing was stored. Check the "
                        "server, the model name and the API key variable, then run the judge again."
                    ) from exc
                out.append(JudgeReply(None, {"error": str(exc)[:500]}))
            else:
                failures = 0
                out.append(JudgeReply(parse_grade(reply), {"reply": reply[:500]}))
            if progress is not None:
                progress(i, len(prompts))
        return out


# ----------------------------------------------------------------------------- a run's judge scores


@dataclass
class JudgeResult:
    """What :func:`judge_run` did to one run."""

    run_id: str
    judge: str
    rubric: str
    """Where the rubric came from (a file path, or 'default')."""
    rubric_sha256: str
    items: int
    parsed: int
    unparsed: int
    truncated_prompts: int
    score: Score | None
    """Mean of the parsed items' scores with its bootstrap interval (None when nothing parsed)."""
    on_leaderboard: bool

    @property
    def identity(self) -> str:
        return judge_identity(self.judge, self.rubric_sha256)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "identity": self.identity, "score": self.score.to_dict() if self.score else None}


def judge_identity(name: str, rubric_sha256: str) -> str:
    """Two runs' judge scores are comparable only when the same judge graded both under the same rubric."""
    return f"{name}|rubric:{rubric_sha256[:16]}"


def judge_run(ws: Workspace, run_id: str, judge: Judge, rubric: Rubric, progress: ProgressFn | None = None) -> JudgeResult:
    """Grade every stored item of ``run_id`` and store the scores as the metric ``judge`` (see the module docstring)."""
    from core.atomic import atomic_write_json
    from studies.evaluation.run_items import item_from_row, read_prediction_rows, write_run_items
    from studies.results.records import utc_now

    rows = read_prediction_rows(ws, run_id)
    if not rows:
        raise EvaluationError(f"Run {run_id!r} has no stored items to judge.")
    items = [item_from_row(row, n) for n, row in enumerate(rows, start=1)]
    prompts = [build_prompt(rubric, i.input, i.reference, i.answer if i.answer.strip() else i.raw) for i in items]
    replies = judge.grade(prompts, progress=progress)
    if len(replies) != len(prompts):
        raise EvaluationError(f"Judge {judge.name} returned {len(replies)} grades for {len(prompts)} items.")
    values: list[float] = []
    for row, reply in zip(rows, replies):
        metrics = row.get("metrics")
        if not isinstance(metrics, dict):
            metrics = row["metrics"] = {}
        metrics.pop(JUDGE_METRIC, None)
        if reply.grade is not None:
            metrics[JUDGE_METRIC] = grade_score(reply.grade)
            values.append(metrics[JUDGE_METRIC])
        row[JUDGE_METRIC] = {"grade": reply.grade, "by": judge.name, **reply.detail}
    score = interval(values) if values else None
    result = JudgeResult(
        run_id=run_id, judge=judge.name, rubric=rubric.source, rubric_sha256=rubric.sha256, items=len(rows), parsed=len(values),
        unparsed=len(rows) - len(values), truncated_prompts=sum(r.truncated_prompt for r in replies), score=score,
        on_leaderboard=False,
    )
    write_run_items(ws, run_id, rows)
    result.on_leaderboard = _store_score(ws, run_id, score)
    atomic_write_json(ws.path("runs", run_id, JUDGE_FILE),
                      {**result.to_dict(), "rubric_text": rubric.text, "scale": list(SCALE), "judged_at": str(utc_now())})
    return result


def _store_score(ws: Workspace, run_id: str, score: Score | None) -> bool:
    """The run's interval on the leaderboard and in ``run.json`` (True when the run is on the leaderboard)."""
    from core.atomic import atomic_write_json
    from studies.evaluation.contract import RUN_FILE
    from studies.results.leaderboard import Leaderboard

    run_file = ws.path("runs", run_id, RUN_FILE)
    if run_file.is_file():
        try:
            record = json.loads(run_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            record = None
        if isinstance(record, dict) and isinstance(record.get("metrics"), dict):
            record["metrics"].pop(JUDGE_METRIC, None)
            if score is not None:
                record["metrics"][JUDGE_METRIC] = score.to_dict()
            atomic_write_json(run_file, record)
    return Leaderboard(ws).set_metric(run_id, JUDGE_METRIC, score.to_dict() if score else None)


def load_judge_record(ws: Workspace, run_id: str) -> dict[str, Any] | None:
    """What ``judge.json`` says about the judge of ``run_id`` (None when the run was never judged or the file is unreadable)."""
    path = ws.path("runs", run_id, JUDGE_FILE)
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("identity") else None
