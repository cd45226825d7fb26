"""Embedder fine-tuning on the team's pairs with sentence-transformers' own trainer.

Each training pair's input is an anchor, the best chunk of its gold document the positive (with the
pair's own example taken out, as at test time, so the model learns to match a question to a document
that does not quote it), and the best-ranked chunks of *other* documents under the current retriever
hard negatives; the other positives of a batch are in-batch negatives (MultipleNegativesRankingLoss).
Group-aware: only the split's train part is used, and no document that answers a validation or test
pair appears as a positive or a negative. The result is saved under ``<ws>/embedders/NAME`` with its
manifest (:mod:`rag.embedder_store`); ``rag build --embedder NAME`` uses it.
"""

from __future__ import annotations

import re
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from core.config import Problems
from core.errors import RagError

if TYPE_CHECKING:  # pragma: no cover
    from core.workspace import Workspace
    from rag.index import RagIndex

StageProgress = Callable[[str, int, int], None]


@dataclass
class EmbedderTuneConfig:
    """How an embedder is fine-tuned (recorded in its manifest)."""

    base: str | None = None
    """Embedder to start from: a sentence-transformers folder, a workspace embedder, or None for all-MiniLM-L6-v2."""
    epochs: float = 1.0
    """Passes over the training pairs."""
    batch_size: int = 32
    """Pairs per batch; each pair's positive is an in-batch negative for the others."""
    learning_rate: float = 5e-5
    """AdamW peak learning rate (linear decay after warm-up)."""
    warmup_ratio: float = 0.1
    """Share of steps spent warming the learning rate up."""
    hard_negatives: int = 1
    """Hard negatives mined per pair from the current retriever (0: in-batch negatives only)."""
    mine_depth: int = 10
    """Retrieved documents searched for hard negatives."""
    max_seq_length: int = 256
    """Tokens per text in training (longer chunks are cut; the index embeds up to the model's own window)."""
    max_pairs: int | None = None
    """Train on the first N usable pairs only (quick looks); None: all."""
    query_prefix: str = ""
    """Instruction put before every query in training; the tuned embedder applies it to queries at search time."""
    seed: int = 0

    def validate(self) -> None:
        problems = Problems("EmbedderTuneConfig")
        problems.check(0 < self.epochs <= 100, f"`0 < epochs <= 100` must hold, but got epochs={self.epochs}")
        problems.check(self.batch_size >= 2, f"`batch_size >= 2` must hold (in-batch negatives need two pairs), but got {self.batch_size}")
        problems.check(0 < self.learning_rate < 1, f"`0 < learning_rate < 1` must hold, but got {self.learning_rate}")
        problems.check(0 <= self.warmup_ratio < 1, f"`0 <= warmup_ratio < 1` must hold, but got {self.warmup_ratio}")
        problems.check(0 <= self.hard_negatives <= 8, f"`0 <= hard_negatives <= 8` must hold, but got {self.hard_negatives}")
        problems.check(self.mine_depth >= self.hard_negatives, f"`mine_depth >= hard_negatives` must hold, but got (mine_depth={self.mine_depth}, hard_negatives={self.hard_negatives})")
        problems.check(8 <= self.max_seq_length <= 8192, f"`8 <= max_seq_length <= 8192` must hold, but got {self.max_seq_length}")
        problems.check(self.max_pairs is None or self.max_pairs >= 2, f"`max_pairs >= 2` must hold, but got {self.max_pairs}")
        problems.raise_if_any()


@dataclass
class TrainingExample:
    anchor: str
    positive: str
    negatives: list[str]
    doc_id: str
    group: str = ""
    """The pair's group key (recorded in the manifest for the evaluation contract)."""


@dataclass
class TuningData:
    """Training examples and what was left out, and why."""

    examples: list[TrainingExample]
    held_out_docs: int
    """Documents answering a validation or test pair: never a positive or a negative."""
    skipped: dict[str, int] = field(default_factory=dict)
    """reason -> pairs not used."""


_WORDS = re.compile(r"[a-z0-9]+")


def _norm(text: str) -> str:
    return " ".join(_WORDS.findall(text.lower()))


def strip_own_example(text: str, question: str, answer: str) -> str:
    """``text`` without the lines that quote the pair itself: a line holding the whole question, or
    the answer alone (up to backticks and case). At test time a question's own example is removed
    from the corpus, so training must not reward matching it verbatim."""
    q, a = _norm(question), _norm(answer)
    kept = []
    for line in text.splitlines():
        n = _norm(line)
        if (q and q in n) or (a and n == a):
            continue
        kept.append(line)
    return "\n".join(kept).strip()


def held_out_documents(split: Any) -> set[str]:
    """Gold documents of the validation and test pairs (and their groups): never trained on."""
    from rag.retrieval_eval import gold_doc

    out: set[str] = set()
    for pair in [*split.validation, *split.test]:
        out.update(d for d in (gold_doc(pair), pair.group) if d)
    return out


def build_examples(
    pairs: Sequence[Any], index: "RagIndex", search: Callable[[list[str], int], list[list[Any]]],
    held_out: set[str], config: EmbedderTuneConfig, progress: StageProgress | None = None,
) -> TuningData:
    """Anchor / positive / hard-negative examples for ``pairs`` (train part) against ``index``'s chunks.

    ``search(questions, k)`` is the current retriever (hits best first). The positive is the gold
    document's best-ranked chunk (its first chunk when the retriever missed it); negatives are the
    best-ranked chunks of other, non-held-out documents that do not contain the answer verbatim.
    """
    from rag.retrieval_eval import gold_doc

    first_chunk: dict[str, int] = {}
    for cid, chunk in enumerate(index.chunks):
        first_chunk.setdefault(chunk.doc_id, cid)
    skipped: dict[str, int] = {}
    usable = []
    for pair in pairs:
        doc = gold_doc(pair)
        reason = None
        if doc is None:
            reason = "no gold document (meta.page, doc or group)"
        elif doc in held_out or (pair.group and pair.group in held_out):
            reason = "gold document answers a validation or test pair"
        elif doc not in first_chunk:
            reason = "gold document not in the index"
        if reason:
            skipped[reason] = skipped.get(reason, 0) + 1
        else:
            usable.append((pair, doc))
    if config.max_pairs is not None:
        usable = usable[: config.max_pairs]
    examples: list[TrainingExample] = []
    block = 256
    for start in range(0, len(usable), block):
        part = usable[start : start + block]
        hits = search([p.input for p, _ in part], config.mine_depth) if config.hard_negatives else [[] for _ in part]
        for (pair, doc), ranked in zip(part, hits):
            gold_hit = next((h for h in ranked if h.doc_id == doc), None)
            positive = strip_own_example(gold_hit.text if gold_hit else index.chunks[first_chunk[doc]].text, pair.input, pair.output)
            if not positive:
                skipped["gold text is only the pair itself"] = skipped.get("gold text is only the pair itself", 0) + 1
                continue
            answer = pair.output.strip().lower()
            negatives, seen = [], {doc}
            for h in ranked:
                if len(negatives) >= config.hard_negatives:
                    break
                if h.doc_id in seen or h.doc_id in held_out or (len(answer) >= 3 and answer in h.text.lower()):
                    continue
                seen.add(h.doc_id)
                negatives.append(h.text)
            if len(negatives) < config.hard_negatives:
                skipped["too few hard negatives"] = skipped.get("too few hard negatives", 0) + 1
                continue
            examples.append(TrainingExample(config.query_prefix + pair.input, positive, negatives, doc, pair.group_key))
        if progress is not None:
            progress("mine hard negatives", min(start + block, len(usable)), len(usable))
    return TuningData(examples, len(held_out), skipped)


def examples_dataset(examples: Sequence[TrainingExample]) -> Any:
    """A ``datasets.Dataset`` with columns anchor, positive, negative_1..n (the layout MNRL reads)."""
    from datasets import Dataset

    n = len(examples[0].negatives) if examples else 0
    columns: dict[str, list[str]] = {"anchor": [e.anchor for e in examples], "positive": [e.positive for e in examples]}
    for i in range(n):
        columns[f"negative_{i + 1}"] = [e.negatives[i] for e in examples]
    return Dataset.from_dict(columns)


@dataclass
class TrainStats:
    seconds: float
    steps: int
    pairs: int
    pairs_per_s: float
    loss: float | None


def trainer_arguments(output_dir: str, config: EmbedderTuneConfig, **extra: Any) -> Any:
    """The SentenceTransformerTrainingArguments used here (also by the throughput bench's direct run)."""
    import torch
    from sentence_transformers import SentenceTransformerTrainingArguments
    from sentence_transformers.base.sampler import BatchSamplers

    return SentenceTransformerTrainingArguments(
        output_dir=output_dir, num_train_epochs=config.epochs, per_device_train_batch_size=config.batch_size,
        learning_rate=config.learning_rate, warmup_steps=config.warmup_ratio,  # a float < 1: a share of the steps
        seed=config.seed,
        batch_sampler=BatchSamplers.NO_DUPLICATES, save_strategy="no", report_to="none", logging_steps=10,
        use_cpu=not torch.cuda.is_available(), bf16=torch.cuda.is_available(), dataloader_num_workers=0,
        **extra,
    )


def position_limit(model: Any) -> int | None:
    """Positions the embedder's transformer has (512 for MiniLM; 128 for some small BERTs): training beyond
    them fails inside the model with a tensor-size error, so ``max_seq_length`` is capped to it."""
    try:
        return int(model[0].auto_model.config.max_position_embeddings)
    except (AttributeError, TypeError, ValueError, IndexError, KeyError):
        return None


def train_embedder(model: Any, examples: Sequence[TrainingExample], config: EmbedderTuneConfig,
                   progress: StageProgress | None = None, show_bar: bool = False) -> TrainStats:
    """Fine-tune ``model`` in place: SentenceTransformerTrainer + MultipleNegativesRankingLoss."""
    from sentence_transformers import SentenceTransformerTrainer
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss
    from transformers import TrainerCallback

    if len(examples) < 2:
        raise RagError(f"Embedder fine-tuning needs at least 2 usable training pairs, but got {len(examples)}: "
                       "the data set's train part must have pairs whose gold document is in the index.")
    model.max_seq_length = min(config.max_seq_length, position_limit(model) or config.max_seq_length)

    class _Progress(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):  # noqa: ANN001
            if progress is not None:
                progress("train embedder", state.global_step, state.max_steps)

    with tempfile.TemporaryDirectory(prefix="embedder-train-") as tmp:
        trainer = SentenceTransformerTrainer(
            model=model, args=trainer_arguments(tmp, config, disable_tqdm=not show_bar),
            train_dataset=examples_dataset(examples), loss=MultipleNegativesRankingLoss(model), callbacks=[_Progress()],
        )
        from transformers.trainer_callback import PrinterCallback

        trainer.remove_callback(PrinterCallback)  # it prints log dicts to stdout, where the CLI writes its JSON
        began = time.perf_counter()
        out = trainer.train()
        seconds = time.perf_counter() - began
    pairs = int(len(examples) * config.epochs)
    return TrainStats(round(seconds, 2), int(out.global_step), pairs, round(pairs / seconds, 2) if seconds else 0.0,
                      round(float(out.training_loss), 5) if out.training_loss is not None else None)


@dataclass
class TuneResult:
    name: str
    path: str
    manifest: dict[str, Any]
    skipped: dict[str, int]


def refuse_existing(ws: "Workspace", name: str) -> None:
    """Refuse a fine-tuned embedder name already taken in ``ws`` (also checked before a background job starts)."""
    from rag.embedder_store import embedder_dir

    target = embedder_dir(ws, name)
    if target.exists():
        raise RagError(f"Fine-tuned embedder {name!r} already exists in {target}; pick another name (replacing it must be asked for explicitly).")


def tune_embedder(
    ws: "Workspace", name: str, index_name: str, split: Any, config: EmbedderTuneConfig | None = None,
    progress: StageProgress | None = None, force: bool = False, show_bar: bool = False,
) -> TuneResult:
    """Mine, train and save ``<ws>/embedders/NAME`` from ``split.train`` against index ``index_name``
    (its retriever mines the hard negatives). An existing embedder of that name is kept unless ``force``."""
    from core.atomic import atomic_directory, atomic_write_json
    from core.config import to_dict
    from rag.embedder import as_encoder, load_embedder
    from rag.embedder_store import MANIFEST, EmbedderManifest, embedder_dir, folder_files
    from rag.pipeline import RagPipeline

    config = config or EmbedderTuneConfig()
    config.validate()
    target = embedder_dir(ws, name)
    if not force:
        refuse_existing(ws, name)
    model = load_embedder(config.base, ws=ws)
    base_name = model.advisor_name
    pipe = RagPipeline.open(ws, index_name, encoder=as_encoder(model))  # refuses an index of another embedder
    held_out = held_out_documents(split)
    data = build_examples(split.train, pipe.index, lambda qs, k: pipe.retriever.search(qs, k), held_out, config, progress)
    stats = train_embedder(model, data.examples, config, progress, show_bar)
    dimension = int((getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension)())
    with atomic_directory(target) as tmp:
        model.save(str(tmp), safe_serialization=True, create_model_card=False)
        manifest = EmbedderManifest(
            name=name, base=base_name, dimension=dimension,
            data={"dataset": split.dataset_name, "dataset_hash": split.dataset_hash, "split_version": split.version,
                  "seed": split.seed, "pairs": len(data.examples), "hard_negatives": config.hard_negatives,
                  "held_out_documents": data.held_out_docs, "skipped": data.skipped, "index": index_name,
                  "index_corpus_hash": pipe.index.manifest.corpus.get("hash")},
            hyperparameters=to_dict(config), training=asdict(stats), files=folder_files(tmp),
            trained_groups=sorted({e.group for e in data.examples}),
            created_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        )
        atomic_write_json(tmp / MANIFEST, manifest.to_dict())
    return TuneResult(name, str(target), manifest.to_dict(), data.skipped)
