"""Questions over a documentation corpus: NumPy's API reference, one document per function.

Source: the docstrings of the NumPy package installed in this environment (``numpy``,
``numpy.linalg``, ``numpy.fft``, ``numpy.random``; BSD-3-Clause, the NumPy Developers), read with
``inspect``. A document is one public function with a Parameters and a Returns section: its
signature line followed by its docstring. ``--docs`` of them are drawn at random (seeded).

Questions are extractive: each answer is found verbatim in exactly the document it is asked
about, whose id every pair carries as ``page`` (the field the product reads as the gold document)
and as ``group`` (so a document's questions never straddle a split).

- ``pairs.jsonl`` (short_answer): a parameter's default value and type, which parameter a
  description belongs to, the return type, and which function a summary describes.
- ``pairs_text.jsonl`` (text): what a function does (its summary) and what it returns (the
  Returns description).

Where a function has a choice, questions go to parameters whose default is not ``None`` and whose
type is not a bare ``array_like``, so a constant guess scores little. Entries repeated in more
than ``--boilerplate`` documents (``out``, ``where``, ``dtype``... of
the ufuncs) are not asked about; questions whose wording would fit two answers are dropped.

    python -m bench.datasets.build_docqa [--docs 300] [--sample data/samples/numpy-docs]
"""

from __future__ import annotations

import argparse
import inspect
import random
import re
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import import_module
from importlib.metadata import distribution
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.datasets.common import (
    BuildArgs,
    Written,
    positive,
    rebuild,
    run,
    seeded_shuffle,
    write_jsonl,
    write_readme,
)
from bench.datasets.numpydoc import Docstring, Entry, parse

NAME = "numpy-docs"
MODULES = ("numpy", "numpy.linalg", "numpy.fft", "numpy.random")
SIMPLE_DEFAULTS = (type(None), bool, int, float, str)
GENERIC_TYPES = ("array_like", "ndarray", "array_like, optional")
"""Parameter types asked about only when a function has no other typed parameter."""


@dataclass(frozen=True)
class FunctionDoc:
    """One document: a public function and its parsed docstring."""

    id: str
    """Qualified name, e.g. ``numpy.linalg.svd``: the document id and title."""
    signature: inspect.Signature
    text: str
    doc: Docstring


def collect(limit: int | None = None) -> list[FunctionDoc]:
    """Every public function of ``MODULES`` with a signature, Parameters and Returns.

    An object exported under several names (``abs`` and ``absolute``) is one document, named by
    its own ``__name__`` where that is one of them.
    """
    found: list[FunctionDoc] = []
    seen: set[int] = set()
    for module_name in MODULES:
        module = import_module(module_name)
        for name in sorted(dir(module)):
            obj = getattr(module, name, None)
            if name.startswith("_") or not callable(obj) or inspect.isclass(obj) or id(obj) in seen:
                continue
            own = getattr(obj, "__name__", name)
            if own != name and getattr(module, own, None) is obj:
                continue  # an alias: the object is collected under its own name
            seen.add(id(obj))
            raw = inspect.getdoc(obj) or ""
            try:
                signature = inspect.signature(obj)
            except (TypeError, ValueError):
                continue
            doc = parse(raw, own)
            if not (doc.summary and doc.entries("Parameters") and doc.entries("Returns")):
                continue
            qualified = f"{module_name}.{name}"
            found.append(FunctionDoc(qualified, signature, f"{qualified}{signature}\n\n{raw}\n", doc))
            if limit and len(found) >= limit:
                return found
    return found


def _default(signature: inspect.Signature, name: str) -> str | None:
    param = signature.parameters.get(name)
    if param is None or param.default is inspect.Parameter.empty or not isinstance(param.default, SIMPLE_DEFAULTS):
        return None
    return repr(param.default)


def _plain(entries: list[Entry]) -> list[Entry]:
    """Entries naming one real parameter (not ``x1, x2``, ``*args`` or ``**kwargs``)."""
    return [e for e in entries if re.fullmatch(r"[A-Za-z_]\w*", e.name)]


PHRASES = {
    "default": ("What is the default value of the `{p}` parameter of `{f}`?", "In `{f}`, what does `{p}` default to?",
                "If `{f}` is called without `{p}`, what value does `{p}` take?"),
    "param_type": ("What type does the `{p}` parameter of `{f}` accept?", "In `{f}`, what type is the `{p}` argument?"),
    "which_param": ("Which parameter of `{f}` is described as: \"{s}\"", "In `{f}`, which argument does this describe: \"{s}\""),
    "return_type": ("What type of value does `{f}` return?", "What is the return type of `{f}`?"),
    "which_function": ("Which NumPy function is documented as: \"{s}\"", "Name the NumPy function whose summary reads: \"{s}\""),
    "does": ("What does `{f}` do?", "Explain briefly what `{f}` is for."),
    "returns": ("What does `{f}` return?", "Describe the value returned by `{f}`."),
}


def questions(doc: FunctionDoc, common: Counter, summaries: Counter, boilerplate: int, seed: int) -> tuple[list[dict], list[dict]]:
    """The short-answer and text questions about one document (answers verbatim in its text)."""
    rng = random.Random(f"{seed}:{doc.id}")
    f = doc.id
    params = [e for e in _plain(doc.doc.entries("Parameters")) if common[(e.name, e.type, e.description)] <= boilerplate]
    short: list[tuple[str, str, str]] = []
    with_default = [(e, d) for e in params if (d := _default(doc.signature, e.name)) is not None]
    if with_default:  # informative answers first: a constant "None" or "array_like" guess should not score
        entry, value = rng.choice([(e, d) for e, d in with_default if d != "None"] or with_default)
        short.append(("default", rng.choice(PHRASES["default"]).format(p=entry.name, f=f), value))
    typed = [e for e in params if e.type]
    if typed:
        entry = rng.choice([e for e in typed if e.type not in GENERIC_TYPES] or typed)
        short.append(("param_type", rng.choice(PHRASES["param_type"]).format(p=entry.name, f=f), entry.type))
    sentences = Counter(e.first_sentence for e in params)
    describable = [e for e in params if len(e.first_sentence.split()) >= 4 and sentences[e.first_sentence] == 1]
    if describable:
        entry = rng.choice(describable)
        short.append(("which_param", rng.choice(PHRASES["which_param"]).format(f=f, s=entry.first_sentence), entry.name))
    returns = doc.doc.entries("Returns")
    if len(returns) == 1 and returns[0].type:
        short.append(("return_type", rng.choice(PHRASES["return_type"]).format(f=f), returns[0].type))
    if summaries[doc.doc.summary] == 1 and len(doc.doc.summary.split()) >= 3:
        short.append(("which_function", rng.choice(PHRASES["which_function"]).format(s=doc.doc.summary), f))
    text = [("does", rng.choice(PHRASES["does"]).format(f=f), doc.doc.summary)]
    if len(returns) == 1 and len(returns[0].description.split()) >= 3:
        text.append(("returns", rng.choice(PHRASES["returns"]).format(f=f), returns[0].description))
    flat = " ".join(doc.text.split())

    def rows(items):
        out = []
        for kind, question, answer in items:
            answer = " ".join(answer.split())
            if kind in ("param_type", "return_type"):
                answer = answer.rstrip(".")
            if answer and answer in flat:
                out.append({"id": f"{f}#{kind}", "input": question, "output": answer, "group": f, "page": f, "question_type": kind})
        return out

    return rows(short), rows(text)


LICENCE_HEAD = "----"

README = """# NumPy API reference: questions over a documentation corpus (short_answer and text)

{docs:,} documents (`corpus.jsonl`: one public NumPy function each), {short:,} short-answer pairs
(`pairs.jsonl`) and {text:,} free-text pairs (`pairs_text.jsonl`). Every answer is found verbatim
in one document, whose id each pair carries as `page` (the gold document the product's retrieval
evaluation reads) and as `group` (a document's questions stay in one split part).

## Source, licence, attribution
- Source: the docstrings of NumPy {version} (`numpy`, `numpy.linalg`, `numpy.fft`, `numpy.random`),
  as installed from PyPI, read with Python's `inspect`.
- Licence: NumPy is BSD-3-Clause, Copyright (c) 2005-2025, NumPy Developers; the notice and
  conditions are in `LICENSE-numpy.txt` beside this file and must stay with any copy.
  Attribution: the NumPy Developers. The question templates are this project's (Apache-2.0).

## How it was built
`bench/datasets/build_docqa.py` (seed {seed}): public functions with a signature, a Parameters and a
Returns section ({candidates} found, aliases counted once), {docs} drawn at random. A document's
text is its signature line and its docstring; its id and title are the qualified name.
Questions per document (each kept only if its answer occurs in the document):

| question_type | kind | asks | pairs |
|---|---|---|---:|
{types}

Parameter entries repeated in more than {boilerplate} documents (the ufuncs' `out`, `where`...)
are not asked about; a summary shared by two functions is not asked about.

Fields: corpus `id`, `title`, `text`; pairs `id` (`<function>#<question_type>`), `input`,
`output`, `group` and `page` (the document id), `question_type`.

Rebuild: {command}
"""

ASKS = {
    "default": ("short_answer", "a parameter's default value"),
    "param_type": ("short_answer", "a parameter's type"),
    "which_param": ("short_answer", "the parameter a description belongs to"),
    "return_type": ("short_answer", "the type returned"),
    "which_function": ("short_answer", "the function a summary describes"),
    "does": ("text", "what the function does (its summary)"),
    "returns": ("text", "what it returns (the Returns description)"),
}


def _licence_text() -> str:
    dist = distribution("numpy")
    for file in dist.files or []:
        if file.name == "LICENSE.txt":
            text = Path(dist.locate_file(file)).read_text(encoding="utf-8")
            return text.split("\n" + LICENCE_HEAD, 1)[0].rstrip() + "\n"
    raise RuntimeError("NumPy's LICENSE.txt was not found in its installed metadata.")


def build(args: BuildArgs, ns: argparse.Namespace) -> list[Written]:
    n_docs, boilerplate = ns.docs, ns.boilerplate
    candidates = collect(args.limit)
    common = Counter((e.name, e.type, e.description) for d in candidates for e in d.doc.entries("Parameters"))
    summaries = Counter(d.doc.summary for d in candidates)
    chosen = sorted(seeded_shuffle(candidates, args.seed, "docs")[:n_docs], key=lambda d: d.id)
    if not chosen:
        raise RuntimeError("No NumPy function with a signature, Parameters and Returns was found.")
    per_doc = {d.id: questions(d, common, summaries, boilerplate, args.seed) for d in chosen}
    version = distribution("numpy").version
    licence = _licence_text()
    targets = [(args.out, chosen)]
    if args.sample:
        targets.append((args.sample, sorted(seeded_shuffle(chosen, args.seed, "sample")[: args.sample_size], key=lambda d: d.id)))
    written = []
    for folder, docs in targets:
        short = [row for d in docs for row in per_doc[d.id][0]]
        text = [row for d in docs for row in per_doc[d.id][1]]
        counts = Counter(row["question_type"] for row in short + text)
        files = {
            "corpus.jsonl": write_jsonl(folder / "corpus.jsonl", ({"id": d.id, "title": d.id, "text": d.text} for d in docs)),
            "pairs.jsonl": write_jsonl(folder / "pairs.jsonl", short),
            "pairs_text.jsonl": write_jsonl(folder / "pairs_text.jsonl", text),
        }
        (folder / "LICENSE-numpy.txt").write_text(licence, encoding="utf-8")
        write_readme(folder, README.format(
            docs=len(docs), short=len(short), text=len(text), version=version, seed=args.seed,
            candidates=len(candidates), boilerplate=boilerplate,
            types="\n".join(f"| {t} | {ASKS[t][0]} | {ASKS[t][1]} | {counts[t]} |" for t in ASKS),
            command=rebuild(args, folder),
        ))
        written.append(Written(folder, files))
    return written


def main(argv: Sequence[str] | None = None) -> int:
    def extra(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--docs", type=positive, default=300, help="documents in the full corpus (default 300)")
        parser.add_argument("--boilerplate", type=positive, default=10,
                            help="skip parameter entries repeated in more than this many documents (default 10)")

    return run(build, "bench.datasets.build_docqa", NAME, __doc__, 60, argv, extra)


if __name__ == "__main__":
    raise SystemExit(main())
