"""Exports of an accepted fine-tune, each checked against the frozen test split it was accepted on.

``export_run(ws, run_id, "merged" | "gguf" | "ollama")`` takes the adapter from the run's registry entry
(refusing it when its checksums fail, as loading does), merges it into its base with peft, and writes
into ``<ws>/registry/<entry>/exports/<format>[-<quant>]/``:

    merged   model/ (safetensors, tokenizer with its chat template, generation config)
    gguf     model-<quant>.gguf (llama.cpp's converter, see :mod:`studies.governance.gguf_file`)
    ollama   model-<quant>.gguf + Modelfile (the evaluation's template, system prompt, stops, greedy)
    always   MODEL_CARD.md (the registry card + this export and its check), export.json (the record)

Before the folder appears, the export is **re-evaluated**: an independent loader (transformers without
peft for the merged folder; transformers' GGUF reader for GGUF; the same plus the Modelfile's own
template and stops for Ollama) answers the first ``sample`` items of the run's stored predictions with
the run's generation settings; greedy outputs are compared item by item with the stored ones and the
primary metric with the run's interval. The record says "matches" or lists the differing items.
Everything is written inside one :func:`core.atomic.atomic_directory`, so an export killed midway leaves
no folder in the registry (its hidden temporary is removed by the next export).
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.atomic import atomic_directory, atomic_write_json, atomic_write_text
from core.errors import ExportError
from core.workspace import Workspace
from studies.governance import gguf_file, modelfile
from studies.results.leaderboard import Leaderboard
from tuning.generate import GenerationSettings

if TYPE_CHECKING:  # pragma: no cover
    from studies.evaluation.run_items import RunItem
    from tuning.models import LoadedModel

FORMATS = ("merged", "gguf", "ollama")
DEFAULT_SAMPLE = 48
LOSSY_MATCH = 0.9
"""Share of items a lossy (quantized) export must reproduce exactly; lossless ones must reproduce all."""
RECORD = "export.json"
Say = Callable[[str], None]


@dataclass
class ItemDiff:
    """One checked item whose greedy output differs from the adapter's stored prediction."""

    index: int
    item_id: str
    expected: str
    got: str


@dataclass
class ExportCheck:
    """The re-evaluation of one export on a sample of the frozen test split."""

    loader: str
    n_items: int
    n_matching: int
    differing: list[ItemDiff]
    required_match: float
    """Share of items that must match (1.0 for lossless exports, 0.9 for quantized ones)."""
    metric: str | None
    export_mean: float | None
    """The primary metric of the export's outputs on the sample."""
    adapter_mean: float | None
    """The adapter's stored values of that metric on the same items."""
    interval: tuple[float, float] | None
    """The run's 95% interval of the metric (the evaluation it was accepted on)."""
    metric_inside: bool
    stops: list[str]
    """End tokens the loaded export stops on (the Modelfile's for Ollama)."""
    stops_match: bool
    """True when they are the evaluation's end tokens."""
    passed: bool
    seconds: float

    @property
    def verdict(self) -> str:
        if not self.differing:
            return "matches"
        return f"{len(self.differing)} of {self.n_items} items differ"


@dataclass
class ExportRecord:
    """What ``export.json`` says: which run and entry, format, files with checksums, and the check."""

    run_id: str
    entry: str
    format: str
    quant: str | None
    path: str
    files: dict[str, str]
    """sha256 of each weights file written (safetensors or GGUF), relative to ``path``."""
    bytes: int
    converter: str | None
    settings: dict[str, Any]
    system_prompt: str | None
    check: ExportCheck
    created_at: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["check"]["verdict"] = self.check.verdict
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ExportRecord":
        check = dict(data["check"])
        check.pop("verdict", None)
        check["differing"] = [ItemDiff(**d) for d in check.get("differing") or []]
        check["interval"] = tuple(check["interval"]) if check.get("interval") else None
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        values["check"] = ExportCheck(**check)
        return cls(**values)


def export_name(fmt: str, quant: str | None) -> str:
    """The folder name of an export under ``exports/``."""
    return fmt if fmt == "merged" else f"{fmt}-{quant}"


def check_request(fmt: str, quant: str | None, sample: int = DEFAULT_SAMPLE) -> str | None:
    """The GGUF type an export of ``fmt`` will use (None for merged); refuses bad requests before any work."""
    if sample < 1:
        raise ExportError(f"`sample >= 1` must hold, but got {sample}.")
    if fmt not in FORMATS:
        raise ExportError(f"Unknown export format {fmt!r}; use one of {', '.join(FORMATS)}.")
    if fmt == "merged":
        if quant not in (None, "f32", "float32"):
            raise ExportError("A merged checkpoint is written in the precision the evaluation used (float32); a quantisation applies "
                              "to gguf and ollama exports only.")
        return None
    quant = quant or "f16"
    if quant not in gguf_file.QUANTS:
        raise ExportError(f"GGUF type {quant!r} is not offered; use one of {', '.join(gguf_file.QUANTS)}.")
    return quant


def exportable(row: dict[str, Any]) -> bool:
    """Whether a leaderboard row is one :func:`registry_entry` takes: an accepted, registered adapter on its own."""
    return row.get("status") == "accepted" and bool(row.get("registry_path")) and row.get("kind") == "lora"


def registry_entry(ws: Workspace, run_id: str, board: Leaderboard | None = None) -> tuple[dict[str, Any], Path]:
    """The accepted run's leaderboard row and registry folder; refuses runs that cannot be exported."""
    row = (board or Leaderboard(ws)).get(run_id)
    entry = row.get("registry_path")
    if row.get("status") != "accepted" or not entry:
        raise ExportError(
            f"Run {run_id} is {row.get('status')}, not an accepted fine-tune in the registry; only accepted models are "
            "exported. Accept it first: on the Leaderboard page, or with `advisor accept` on the command line."
        )
    if not (Path(entry) / "adapter").is_dir():
        raise ExportError(f"Registry entry {entry} has no adapter folder; it was withdrawn or damaged. Accept the run again.")
    if row.get("kind") != "lora":
        raise ExportError(
            f"Run {run_id} is a {row.get('kind')} system: its predictions depend on retrieval, which an exported model "
            "does not carry. Evaluate the adapter on its own (`advisor eval lora:ADAPTER`), accept that run, and export it."
        )
    return row, Path(entry)


def run_settings(row: dict[str, Any]) -> tuple[GenerationSettings, str | None]:
    """The generation settings and system prompt the run was evaluated with (the check repeats them)."""
    config = row.get("config") or {}
    stored = config.get("generation") or {}
    known = {f.name for f in fields(GenerationSettings)}
    settings = GenerationSettings(**{k: v for k, v in stored.items() if k in known})
    system = settings.system_prompt if settings.system_prompt is not None else config.get("system_prompt")
    return settings, system


def export_run(
    ws: Workspace,
    run_id: str,
    fmt: str,
    *,
    quant: str | None = None,
    sample: int = DEFAULT_SAMPLE,
    device: str = "cpu",
    say: Say | None = None,
) -> ExportRecord:
    """Write one export of an accepted run and its check into the registry (see the module docstring)."""
    from studies.evaluation.run_items import load_run_items
    from tuning.adapters import file_checksums, read_metadata, verify_files
    from tuning.generate import stop_token_ids

    quant = check_request(fmt, quant, sample)
    say = say or (lambda _text: None)
    row, entry = registry_entry(ws, run_id)
    adapter = entry / "adapter"
    verify_files(adapter, read_metadata(adapter))  # a corrupt adapter is refused before anything is written
    converter = gguf_file.converter_version() if fmt != "merged" else None
    settings, system = run_settings(row)
    items = load_run_items(ws, run_id)[:sample]
    if not items:
        raise ExportError(f"Run {run_id} has no stored predictions to check an export against; evaluate it again.")
    target = entry / "exports" / export_name(fmt, quant)
    started = time.perf_counter()
    with atomic_directory(target) as tmp:
        merged = tmp / ("model" if fmt == "merged" else ".merged")
        say(f"merging adapter {adapter} into its base model")
        tokenizer = _merge(adapter, ws, merged)
        stops = tokenizer.convert_ids_to_tokens(stop_token_ids(tokenizer))
        files: dict[str, str]
        if fmt == "merged":
            files = {f"model/{k}": v for k, v in file_checksums(merged).items()}
        else:
            gguf_path = tmp / f"model-{quant}.gguf"
            say(f"writing {gguf_path.name} with llama.cpp's converter ({gguf_file.CONVERTER} {converter})")
            gguf_file.convert(merged, gguf_path, quant)
            shutil.rmtree(merged)
            files = file_checksums(tmp, "*.gguf")
            if fmt == "ollama":
                mf = modelfile.build(tokenizer, f"./{gguf_path.name}", system_prompt=system, stops=stops,
                                     max_new_tokens=settings.max_new_tokens,
                                     context_tokens=settings.max_prompt_tokens + settings.max_new_tokens)
                atomic_write_text(tmp / "Modelfile", mf.text())
        say(f"checking the export on the first {len(items)} test items of run {run_id}")
        check = check_export(tmp, fmt, quant, items, row, settings, system, stops, device=device, say=say)
        record = ExportRecord(
            run_id=run_id, entry=entry.name, format=fmt, quant=quant, path=str(target), files=files,
            bytes=sum((tmp / name).stat().st_size for name in files), converter=converter,
            settings={f.name: getattr(settings, f.name) for f in fields(GenerationSettings)}, system_prompt=system,
            check=check, created_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            extra={"wall_s": round(time.perf_counter() - started, 2)},
        )
        atomic_write_text(tmp / "MODEL_CARD.md", model_card(entry, record))
        atomic_write_json(tmp / RECORD, record.to_dict())
    return record


def _merge(adapter: Path, ws: Workspace, out: Path) -> Any:
    """peft's merge of the adapter into its base, saved as safetensors with the tokenizer; returns the tokenizer."""
    from tuning.adapters import load_with_adapter

    loaded = load_with_adapter(adapter, ws, merge=True, dtype="float32", device="cpu")
    loaded.model.save_pretrained(out, safe_serialization=True)
    loaded.tokenizer.save_pretrained(out)
    return loaded.tokenizer


class _ModelfilePrompts:
    """A tokenizer whose chat template is the Modelfile's TEMPLATE (the prompts Ollama would build)."""

    def __init__(self, tokenizer: Any, mf: modelfile.Modelfile) -> None:
        self._tokenizer = tokenizer
        self._modelfile = mf

    def apply_chat_template(self, conversation: Sequence[dict[str, str]], add_generation_prompt: bool = True,
                            tokenize: bool = True) -> Any:
        text = modelfile.render(self._modelfile, conversation)
        return self._tokenizer(text, add_special_tokens=False)["input_ids"] if tokenize else text

    def __getattr__(self, name: str) -> Any:
        return getattr(self._tokenizer, name)


def _load_for_check(folder: Path, fmt: str, quant: str | None, ws_device: str) -> tuple["LoadedModel", str, list[str]]:
    """The export loaded without this product's adapter code, its loader's name, and the end tokens it stops on."""
    from tuning.generate import stop_token_ids

    if fmt == "merged":
        import time as _time

        from transformers import AutoModelForCausalLM, AutoTokenizer

        from tuning.models import LoadedModel, prepare_tokenizer

        began = _time.perf_counter()
        path = folder / "model"
        model = AutoModelForCausalLM.from_pretrained(path).to(ws_device).eval()
        tokenizer = prepare_tokenizer(AutoTokenizer.from_pretrained(path))
        loaded = LoadedModel(model, tokenizer, "merged", str(path), _time.perf_counter() - began)
        return loaded, "transformers (no peft)", tokenizer.convert_ids_to_tokens(stop_token_ids(tokenizer))
    loaded = gguf_file.load_gguf(folder / f"model-{quant}.gguf", ws_device)
    stops = loaded.tokenizer.convert_ids_to_tokens(stop_token_ids(loaded.tokenizer))
    if fmt == "gguf":
        return loaded, "transformers gguf_file= (tokenizer and chat template from the GGUF)", stops
    mf = modelfile.parse((folder / "Modelfile").read_text(encoding="utf-8"))
    loaded.tokenizer = _ModelfilePrompts(loaded.tokenizer, mf)
    return loaded, "transformers gguf_file= with prompts rendered from the Modelfile TEMPLATE/SYSTEM", list(mf.stops)


def check_export(folder: Path, fmt: str, quant: str | None, items: Sequence["RunItem"], row: dict[str, Any],
                 settings: GenerationSettings, system: str | None, eval_stops: Sequence[str], *, device: str = "cpu",
                 say: Say | None = None) -> ExportCheck:
    """Load the export independently, answer ``items`` greedily as the evaluation did, compare outputs and metric."""
    from studies.evaluation import metrics as metric_registry
    from studies.evaluation.extract import extract
    from studies.evaluation.run_items import primary_metric
    from tuning.generate import generate

    began = time.perf_counter()
    loaded, loader, stops = _load_for_check(folder, fmt, quant, device)
    if fmt == "ollama":  # a client sends the question only; the Modelfile's SYSTEM supplies the system prompt
        settings = dataclasses.replace(settings, system_prompt=None)
        conversations = [[{"role": "user", "content": item.input}] for item in items]
    else:
        conversations = [([{"role": "system", "content": system}] if system and settings.system_prompt is None else [])
                         + [{"role": "user", "content": item.input}] for item in items]
    progress = (lambda done, total: say(f"  {done}/{total} items")) if say else None
    outputs = [g.text for g in generate(loaded, conversations, settings, progress=progress)]
    differing = [ItemDiff(i, item.item_id, item.raw, got) for i, (item, got) in enumerate(zip(items, outputs)) if got != item.raw]
    metric = primary_metric(items)
    export_mean = adapter_mean = None
    interval = None
    inside = True
    if metric is not None:
        values, _skipped = metric_registry.score_all([metric], [extract(o).answer for o in outputs], [i.reference for i in items])
        if metric in values:
            export_mean = statistics.fmean(values[metric])
        adapter_mean = statistics.fmean(i.metrics[metric] for i in items if metric in i.metrics)
        stored = (row.get("metrics") or {}).get(metric) or {}
        if stored.get("low") is not None and stored.get("high") is not None:
            interval = (float(stored["low"]), float(stored["high"]))
            inside = export_mean is not None and interval[0] <= export_mean <= interval[1]
    required = 1.0 if fmt == "merged" or quant in gguf_file.LOSSLESS else LOSSY_MATCH
    n_matching = len(items) - len(differing)
    stops_match = set(stops) == set(eval_stops)
    return ExportCheck(
        loader=loader, n_items=len(items), n_matching=n_matching, differing=differing, required_match=required,
        metric=metric, export_mean=export_mean, adapter_mean=adapter_mean, interval=interval, metric_inside=inside,
        stops=list(stops), stops_match=stops_match,
        passed=n_matching >= required * len(items) - 1e-9 and inside and stops_match, seconds=round(time.perf_counter() - began, 2),
    )


def model_card(entry: Path, record: ExportRecord) -> str:
    """The registry entry's card (the evaluation it was accepted on) followed by this export and its check."""
    card_path = entry / "MODEL_CARD.md"
    base = card_path.read_text(encoding="utf-8").rstrip() if card_path.is_file() else f"# {entry.name}"
    c = record.check
    lines = [
        base, "", f"## Export: {export_name(record.format, record.quant)}",
        f"- format `{record.format}`" + (f", GGUF type `{record.quant}`" if record.quant else "")
        + (f", written by {gguf_file.CONVERTER} {record.converter}" if record.converter else ""),
        *(f"- `{name}` sha256 `{digest}`" for name, digest in sorted(record.files.items())),
        f"- generation: greedy, max_new_tokens {record.settings.get('max_new_tokens')}, system prompt "
        + (f"`{record.system_prompt}`" if record.system_prompt else "the chat template's default"),
        "", "## Export check (re-evaluated on the frozen test split)",
        f"- loader: {c.loader}",
        f"- greedy outputs: {c.n_matching} of {c.n_items} items identical to the adapter's stored predictions "
        f"(required: {c.required_match:.0%}); verdict: **{c.verdict}**",
    ]
    if c.metric:
        shown = "" if c.interval is None else f", accepted interval [{c.interval[0]:.3f}, {c.interval[1]:.3f}]"
        export_mean = "n/a" if c.export_mean is None else f"{c.export_mean:.3f}"
        lines.append(f"- {c.metric}: export {export_mean} vs adapter {c.adapter_mean:.3f} on these items{shown}; "
                     f"{'inside' if c.metric_inside else 'OUTSIDE'} the interval")
    shown_stops = ", ".join(f"`{t}`" for t in c.stops)
    lines.append(f"- stops on {shown_stops}: {'the same' if c.stops_match else 'NOT the same'} end tokens as the evaluation")
    lines += [f"- differs on `{d.item_id}`: expected `{d.expected}`, got `{d.got}`" for d in c.differing[:20]]
    if len(c.differing) > 20:
        lines.append(f"- ... and {len(c.differing) - 20} more (see export.json)")
    lines += [f"- check {'PASSED' if c.passed else 'FAILED'}", ""]
    return "\n".join(lines)


def list_exports(ws: Workspace, run_id: str) -> list[ExportRecord]:
    """The exports kept for an accepted run (hidden temporaries of interrupted exports are not exports)."""
    _row, entry = registry_entry(ws, run_id)
    out = []
    folder = entry / "exports"
    for path in sorted(folder.iterdir()) if folder.is_dir() else []:
        record = path / RECORD
        if path.name.startswith(".") or not record.is_file():
            continue
        try:
            out.append(ExportRecord.from_dict(json.loads(record.read_text(encoding="utf-8"))))
        except (OSError, ValueError, TypeError, KeyError) as exc:
            raise ExportError(f"{record} is unreadable ({exc}); export that format again.") from exc
    return out
