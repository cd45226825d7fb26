"""The first screen of the decision record, and the evidence a review meeting asks for next.

:func:`one_page` turns a comparison into what fits on one screen: each system under a readable name
("RAG (hybrid, k=3)", "LoRA r=8, trial 1", "RAG + LoRA"), the primary metric with an interval bar,
cost per 1,000 requests and per month at the team's volume, latency p95 against the budget, the
verdict in one sentence and what would settle what is open. :func:`gather_evidence` adds, on request,
the learning curve, the oracle-context split and forgetting, all read from the leaderboard and the
files stored beside the runs. Volumes and budgets come from the questionnaire's answers.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from studies.evaluation.compare import RunComparison, RunSummary

REQUESTS_PER_DAY = {"low": 1_000, "medium": 10_000, "high": 300_000}
"""Requests per day assumed for each questionnaire answer (the top of 'under 1,000', the middle of 1k-100k, 3x 100k)."""
LATENCY_BUDGET_S = {"relaxed": 10.0, "interactive": 3.0, "strict": 0.5}
"""Seconds per answer (p95) allowed by each questionnaire answer."""
BAR_WIDTH = 12
FINE_TUNED = ("lora", "dora", "qlora", "full", "rag+lora")
METHOD_WORDS = {"lora": "LoRA", "dora": "DoRA", "qlora": "QLoRA", "full": "Full fine-tune"}


def readable_name(row: dict[str, Any]) -> str:
    """A name a reader understands from a leaderboard row: its kind, its key settings, its trial."""
    kind = str(row.get("kind") or "")
    config = row.get("config") or {}
    rag = config.get("rag") or {}
    train = config.get("train_config") or {}
    retriever = rag.get("retriever")
    k = rag.get("k")
    rag_bits = ", ".join(b for b in (str(retriever) if retriever else "", f"k={k}" if k else "") if b)
    rank = train.get("rank")
    method = str(train.get("method") or "lora")
    trial = row.get("trial")
    if trial is None:
        found = re.search(r"-t0*(\d+)$", str(config.get("adapter") or ""))
        trial = int(found.group(1)) if found else None
    label = METHOD_WORDS.get(method, method)
    ft = " ".join(b for b in (label, f"r={rank}" if rank and method != "full" else "") if b)
    if trial is not None:
        ft += f", trial {trial}"
    share = re.search(r"-lc(\d{3})$", str(config.get("adapter") or ""))  # a learning-curve retraining on a share of the data
    if share:
        ft += f", {int(share.group(1))}% of the training pairs"
    # a classification answered by free generation instead of label scoring reads differently
    free = "free generation" if config.get("decoding") == "generate" and (config.get("task") or {}).get("kind") == "classification" else ""
    examples = ", ".join(b for b in (f"k={config['k']}" if config.get("k") else "", free) if b)
    if kind == "base":
        return f"Base model ({', '.join(b for b in (str(row.get('base_model') or 'prompted'), free) if b)})"
    if kind == "rag-examples":
        vote = config.get("method") == "rag-examples-vote" or str(row.get("system") or "").endswith(":vote")
        name = "Vote of the nearest training examples" if vote else "Nearest training examples as few-shot"
        return f"{name} ({examples})" if examples else name
    if kind == "rag-examples+lora":
        return f"Few-shot examples + {ft}" + (f" ({examples})" if examples else "")
    if kind == "rag":
        return f"RAG ({rag_bits})" if rag_bits else "RAG"
    if kind == "rag-oracle":
        return f"RAG, gold document ({rag_bits})" if rag_bits else "RAG, gold document"
    if kind == "rag+lora":
        return f"RAG + {ft}" + (f" ({rag_bits})" if rag_bits else "")
    if kind in FINE_TUNED:
        return ft
    return str(row.get("system") or kind)


def readable_names(rows: list[dict[str, Any]]) -> dict[str, str]:
    """``run id -> readable name``, made unique with the run id's tail where two would read the same."""
    names = {str(r["run_id"]): readable_name(r) for r in rows}
    counts: dict[str, int] = {}
    for n in names.values():
        counts[n] = counts.get(n, 0) + 1
    return {rid: (f"{n} [{rid[-6:]}]" if counts[n] > 1 else n) for rid, n in names.items()}


def readable_text(text: str, systems: dict[str, str]) -> str:
    """``text`` with system names (``rag+lora:idx:adapter``, ``rag-examples``) replaced by readable ones.

    Spec-like names are replaced wherever they stand as a whole name, longest first so none replaces part of
    another; a plain word such as "base" only where it stands as a name, in parentheses.
    """
    for system in sorted(systems, key=len, reverse=True):
        if re.fullmatch(r"[a-z]+", system):
            text = text.replace(f"({system})", f"({systems[system]})")
        else:
            text = re.sub(rf"(?<![\w:+-]){re.escape(system)}(?![\w:+-])", lambda _m, name=systems[system]: name, text)
    return text


def interval_bar(mean: float, low: float, high: float, lo: float = 0.0, hi: float = 1.0, width: int = BAR_WIDTH) -> str:
    """A text bar over [lo, hi]: ``-`` outside the interval, ``=`` inside it, ``o`` at the mean."""
    span = (hi - lo) or 1.0

    def at(x: float) -> int:
        return min(width - 1, max(0, int(round((x - lo) / span * (width - 1)))))

    cells = ["-"] * width
    for i in range(at(low), at(high) + 1):
        cells[i] = "="
    cells[at(mean)] = "o"
    return "[" + "".join(cells) + "]"


@dataclass
class PageRow:
    """One system on the first screen."""

    run_id: str
    name: str
    kind: str
    mean: float
    low: float
    high: float
    bar: str
    per_1k_usd: float
    per_month_usd: float
    latency_p95_s: float
    within_budget: bool | None
    best: bool = False


@dataclass
class OnePage:
    """What the decision record shows first."""

    metric: str
    n_items: int
    part: str
    rows: list[PageRow]
    verdict: str
    open_questions: list[str]
    requests_per_day: float
    volume_source: str
    latency_budget_s: float | None
    prices: str
    costs: list[dict[str, Any]] = field(default_factory=list)
    """Every system's :class:`~studies.evaluation.cost.ServingCost` (and hosted API rows) as dicts."""
    break_even: list[str] = field(default_factory=list)
    command: str = ""
    budget_source: str = ""
    """Where the latency budget came from: the plan, or the questionnaire's answer."""
    systems: dict[str, str] = field(default_factory=dict)
    """System spec -> the readable name used above, so any other text about these runs reads the same."""

    def readable(self, text: str) -> str:
        """``text`` with every system spec replaced by its readable name (as on the first screen)."""
        return readable_text(text, self.systems)


def volume_of(answers: dict[str, Any] | None, requests_per_day: float | None = None) -> tuple[float, str]:
    """Requests per day: the given number, else the questionnaire's answer, else its default ('medium')."""
    if requests_per_day is not None:
        return float(requests_per_day), "given"
    answer = str((answers or {}).get("request_volume") or "medium")
    return float(REQUESTS_PER_DAY.get(answer, REQUESTS_PER_DAY["medium"])), f"questionnaire: request_volume={answer}"


def latency_budget_of(answers: dict[str, Any] | None, plan_budget_s: float | None = None) -> tuple[float | None, str]:
    """The p95 budget in seconds and its source: the plan's when it has one, else the questionnaire's answer, else none."""
    if plan_budget_s is not None:
        return float(plan_budget_s), "plan: latency_budget_s"
    answer = (answers or {}).get("latency_budget")
    budget = LATENCY_BUDGET_S.get(str(answer)) if answer else None
    return budget, (f"questionnaire: latency_budget={answer}" if budget is not None else "")


def _profile(row: dict[str, Any], summary: "RunSummary", table: Any) -> Any:
    from studies.evaluation.cost import ServingProfile

    env = row.get("environment") or {}
    device = str(env.get("gpu") or env.get("device") or "cpu")
    eval_usd = summary.latency_s * int(row.get("n_items") or 0) * table.hourly(device) / 3600.0
    build = max(0.0, summary.money_usd - eval_usd) if summary.kind in FINE_TUNED else 0.0
    return ServingProfile(summary.system, summary.kind, summary.latency_s, float(row.get("latency_p95_s") or summary.latency_s),
                          summary.prompt_tokens, summary.completion_tokens, device, build)


def one_page(comparison: "RunComparison", verdict: Any, rows: dict[str, dict[str, Any]], answers: dict[str, Any] | None = None,
             *, requests_per_day: float | None = None, prices: str | None = None, command: str = "",
             latency_budget_s: float | None = None) -> OnePage:
    """The first screen for ``comparison`` (leaderboard ``rows`` by run id) and its ``verdict``.

    ``latency_budget_s`` (a plan's) wins over the budget the questionnaire's answer implies."""
    from studies.evaluation.cost import ServingProfile, break_even, load_price_table, serving_cost

    table = load_price_table(prices)
    volume, source = volume_of(answers, requests_per_day)
    budget, budget_source = latency_budget_of(answers, latency_budget_s)
    names = readable_names([rows[r.run_id] for r in comparison.runs])
    metric = comparison.primary
    page_rows, costs, by_run = [], [], {}
    for run in comparison.runs:
        cost = serving_cost(_profile(rows[run.run_id], run, table), volume, table, budget)
        by_run[run.run_id] = cost
        s = run.scores[metric]
        page_rows.append(PageRow(run.run_id, names[run.run_id], run.kind, s.mean, s.low, s.high, interval_bar(s.mean, s.low, s.high),
                                 cost.per_1k_usd, cost.per_month_usd, cost.latency_p95_s, cost.within_budget,
                                 run.run_id == comparison.best[metric]))
        costs.append({**cost.to_dict(), "name": names[run.run_id], "run_id": run.run_id})
    base = next((r for r in comparison.runs if r.kind == "base"), None)
    for api in sorted(table.api):
        if base is not None:
            p = ServingProfile(f"Hosted API {api}", "api", base.latency_s, base.latency_s, base.prompt_tokens, base.completion_tokens, api_model=api)
            costs.append({**serving_cost(p, volume, table).to_dict(), "run_id": None})
    notes = []
    rag = [r for r in comparison.runs if r.kind == "rag"]
    tuned = [r for r in comparison.runs if r.kind in FINE_TUNED and r.kind != "rag+lora"]
    if rag and tuned:
        best_rag = max(rag, key=lambda r: r.scores[metric].mean)
        best_ft = max(tuned, key=lambda r: r.scores[metric].mean)
        be = break_even(by_run[best_rag.run_id], by_run[best_ft.run_id], volume)
        notes.append(be.sentence.replace(best_rag.system, names[best_rag.run_id]).replace(best_ft.system, names[best_ft.run_id]))
    systems = {run.system: names[run.run_id] for run in comparison.runs}

    def readable(text: str) -> str:
        return readable_text(text, systems)

    return OnePage(metric, comparison.n_items, comparison.part, page_rows, readable(verdict.headline),
                   [readable(q) for q in verdict.open_questions], volume, source, budget, table.source, costs, notes, command,
                   budget_source, systems)


def reproduce_command(workspace_root: Any, run_ids: list[str], *, answers: str | None = None, metric: str | None = None,
                      fmt: str = "md", name: str | None = None, flags: list[str] | None = None) -> str:
    """The `advisor report` command line that writes this record again."""
    parts = ["python", "-m", "advisor", "--workspace", str(workspace_root), "report", "--runs", ",".join(run_ids)]
    if answers:
        parts += ["--answers", str(answers)]
    if metric:
        parts += ["--metric", metric]
    parts += ["--format", fmt] + (["--name", name] if name else []) + list(flags or [])
    return shlex.join(parts)
