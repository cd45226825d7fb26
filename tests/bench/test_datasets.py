"""The committed data set samples and kind fixtures are valid through the product's own loaders,
and the builders run (small limits), deterministically, from their real sources."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from bench.datasets import build_classification, build_docqa, build_structured
from bench.datasets.debian import parse_depends, read_stanzas, to_package
from bench.datasets.numpydoc import parse
from rag.corpus import load_corpus
from studies.data.datasets import load_pairs

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "data" / "samples"
KINDS = ROOT / "tests" / "fixtures" / "kinds"


def _strict(path: Path):
    """Loaded with every check; no error and no warning (duplicates, conflicts) either."""
    dataset = load_pairs(path)
    assert dataset.report.problems == [], [p.message for p in dataset.report.problems[:5]]
    return dataset


def _flat(text: str) -> str:
    return " ".join(text.split())


@pytest.mark.parametrize("name", ["debian-sections", "debian-metadata", "numpy-docs"])
def test_every_sample_has_an_attributed_readme(name):
    readme = (SAMPLES / name / "README.md").read_text(encoding="utf-8")
    for needed in ("## Source, licence, attribution", "Licence:", "Attribution", "Rebuild: `python -m bench.datasets."):
        assert needed in readme, f"{name}/README.md lacks {needed!r}"


def test_classification_sample_is_balanced_and_grouped():
    dataset = _strict(SAMPLES / "debian-sections" / "pairs.jsonl")
    counts = Counter(p.output for p in dataset.pairs)
    assert set(counts) == set(build_classification.CLASSES)
    assert max(counts.values()) - min(counts.values()) <= 1, counts
    assert all(p.group and p.group.startswith("src:") for p in dataset.pairs)
    inputs = Counter(p.input.lower() for p in dataset.pairs)
    assert inputs.most_common(1)[0][1] == 1  # no description carries two labels


def test_structured_sample_outputs_parse_with_fixed_keys():
    dataset = _strict(SAMPLES / "debian-metadata" / "pairs.jsonl")
    assert len(dataset) >= 200
    for pair in dataset.pairs:
        obj = json.loads(pair.output)
        assert tuple(obj) == build_structured.KEYS, pair.id
        assert obj["name"] in pair.input and obj["version"] in pair.input
        assert all(dep in pair.input for dep in obj["depends"])
        assert (obj["homepage"] is None) or obj["homepage"] in pair.input


@pytest.mark.parametrize("pairs_file", ["pairs.jsonl", "pairs_text.jsonl"])
def test_docqa_sample_answers_sit_in_their_gold_document(pairs_file):
    from rag.retrieval_eval import gold_doc

    corpus = load_corpus(SAMPLES / "numpy-docs" / "corpus.jsonl")
    assert corpus.skipped == [] and corpus.kind == "documents"
    texts = {doc.id: _flat(doc.text) for doc in corpus.documents}
    dataset = _strict(SAMPLES / "numpy-docs" / pairs_file)
    assert dataset.report.format == "jsonl"  # not mistaken for tldr pairs
    for pair in dataset.pairs:
        gold = gold_doc(pair)
        assert gold == pair.group and gold in texts, pair.id
        assert pair.output in texts[gold], pair.id
    assert len({p.group for p in dataset.pairs}) >= 50


@pytest.mark.parametrize("kind", ["classification", "structured", "short_answer", "text", "command"])
def test_kind_fixtures_load(kind):
    dataset = _strict(KINDS / f"{kind}.jsonl")
    assert 20 <= len(dataset) <= 40
    assert (dataset.report.format == "tldr-pairs") == (kind == "command")
    if kind == "classification":
        assert len({p.output for p in dataset.pairs}) == len(build_classification.CLASSES)


# --- parsers ---------------------------------------------------------------------------------

STANZAS = """Package: gnugo
Source: gnugo (3.8-10)
Version: 3.8-10
Installed-Size: 2345
Maintainer: Someone <someone@example.org>
Architecture: amd64
Depends: libc6 (>= 2.34), libncurses6 (>= 6) | libncursesw6, libtinfo6:any
Description: play the game of Go
 GNU Go plays a game of Go against the user.
Homepage: https://www.gnu.org/software/gnugo/
Section: games
Filename: pool/main/g/gnugo/gnugo_3.8-10_amd64.deb

Package: broken
Version: 1
"""


def test_debian_stanza_parsing():
    stanzas = read_stanzas(STANZAS)
    assert len(stanzas) == 2
    package = to_package(stanzas[0])
    assert package is not None and to_package(stanzas[1]) is None  # no section, no description
    assert (package.source, package.section, package.installed_size_kib) == ("gnugo", "games", 2345)
    assert package.depends == ("libc6", "libncurses6", "libtinfo6")
    assert package.description == "play the game of Go"
    assert package.component == "main"
    assert parse_depends("a | b, c (<< 2), a") == ("a", "c")


def test_numpydoc_parsing():
    doc = parse(
        "frob(x, /, n=2)\n\nFrobnicate values.\n\nParameters\n----------\nx : array_like\n    Input.\n"
        "n : int, optional\n    How many times\n    to frobnicate. Default 2.\n*args\n    Ignored.\n\n"
        "Returns\n-------\nndarray\n    The frobnicated array.\n",
        "frob",
    )
    assert doc.summary == "Frobnicate values."
    params = doc.entries("Parameters")
    assert [(e.name, e.type) for e in params] == [("x", "array_like"), ("n", "int, optional"), ("*args", "")]
    assert params[1].first_sentence == "How many times to frobnicate."
    assert [(e.name, e.type, e.description) for e in doc.entries("Returns")] == [("", "ndarray", "The frobnicated array.")]


# --- builders on small limits ----------------------------------------------------------------

def test_classification_builder_on_a_packages_file(tmp_path):
    lines = []
    for section in build_classification.CLASSES:
        for i in range(3):
            lines.append(f"Package: {section}-tool{i}\nVersion: 1.{i}\nSection: {section}\nArchitecture: amd64\n"
                         f"Description: handy {section} tool number {i}\nFilename: pool/main/x/{section}/x.deb\n")
    lines.append("Package: twin-a\nVersion: 1\nSection: games\nDescription: same words here\nFilename: pool/main/t/a.deb\n")
    lines.append("Package: twin-b\nVersion: 1\nSection: sound\nDescription: same words here\nFilename: pool/main/t/b.deb\n")
    lines.append("Package: games-tool9-dev\nVersion: 1\nSection: games\nDescription: headers for the tool\nFilename: pool/main/t/c.deb\n")
    packages = tmp_path / "Packages"
    packages.write_text("\n".join(lines), encoding="utf-8")
    out, sample = tmp_path / "out", tmp_path / "sample"
    code = build_classification.main(["--packages", str(packages), "--out", str(out), "--sample", str(sample),
                                      "--sample-size", "24", "--per-class", "2"])
    assert code == 0
    full = _strict(out / "pairs.jsonl")
    assert Counter(p.output for p in full.pairs) == {c: 2 for c in build_classification.CLASSES}
    assert not any(p.meta["package"].startswith("twin") or p.meta["package"].endswith("-dev") for p in full.pairs)
    assert len(_strict(sample / "pairs.jsonl")) == 24
    assert "| games | 2 |" in (out / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("option", ["--per-class", "--sample-size", "--limit"])
def test_builders_refuse_counts_below_one(option, capsys):
    with pytest.raises(SystemExit) as exit_:
        build_classification.main([option, "0"])
    assert exit_.value.code == 2 and "must be at least 1, got 0" in capsys.readouterr().err


def test_builders_report_a_missing_source(tmp_path, capsys):
    missing = tmp_path / "nope"
    assert build_structured.main(["--packages", str(missing), "--out", str(tmp_path / "o")]) == 2
    assert "nope" in capsys.readouterr().err


needs_apt = pytest.mark.skipif(shutil.which("apt-cache") is None, reason="no apt-cache on this machine")


@needs_apt
def test_debian_builders_run_from_apt_lists(tmp_path):
    run = subprocess.run(["apt-cache", "dumpavail"], check=False, capture_output=True, text=True, errors="replace", timeout=120)
    if run.returncode != 0 or not run.stdout.strip():
        pytest.skip("the apt lists are empty (run apt-get update)")
    head = tmp_path / "Packages"  # the first 8,000 packages: enough for every class, quick to parse
    head.write_text("\n\n".join(run.stdout.split("\n\n")[:8000]) + "\n", encoding="utf-8")
    assert build_structured.main(["--packages", str(head), "--out", str(tmp_path / "s"), "--pairs", "30"]) == 0
    structured = _strict(tmp_path / "s" / "pairs.jsonl")
    assert len(structured) == 30 and all(json.loads(p.output)["name"] in p.input for p in structured.pairs)
    assert build_classification.main(["--packages", str(head), "--out", str(tmp_path / "c"), "--per-class", "5"]) == 0
    assert len(_strict(tmp_path / "c" / "pairs.jsonl")) == 5 * len(build_classification.CLASSES)


def test_docqa_builder_is_deterministic(tmp_path):
    args = ["--docs", "12", "--limit", "60", "--sample-size", "4"]
    for run in ("a", "b"):
        assert build_docqa.main([*args, "--out", str(tmp_path / run), "--sample", str(tmp_path / run / "sample")]) == 0
    for name in ("corpus.jsonl", "pairs.jsonl", "pairs_text.jsonl", "sample/pairs.jsonl"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    corpus = load_corpus(tmp_path / "a" / "corpus.jsonl")
    assert len(corpus.documents) == 12
    pairs = _strict(tmp_path / "a" / "pairs.jsonl")
    assert {p.group for p in pairs.pairs} <= corpus.doc_ids()
    assert (tmp_path / "a" / "LICENSE-numpy.txt").read_text(encoding="utf-8").startswith("Copyright")


def test_committed_docqa_sample_rebuilds_identically(tmp_path):
    import numpy

    readme = (SAMPLES / "numpy-docs" / "README.md").read_text(encoding="utf-8")
    if f"NumPy {numpy.__version__} " not in readme:
        pytest.skip(f"the sample was built from another NumPy than {numpy.__version__}")
    assert build_docqa.main(["--out", str(tmp_path / "full"), "--sample", str(tmp_path / "sample")]) == 0
    for name in ("corpus.jsonl", "pairs.jsonl", "pairs_text.jsonl"):
        assert (tmp_path / "sample" / name).read_bytes() == (SAMPLES / "numpy-docs" / name).read_bytes(), name


def test_builder_help_runs_as_a_module():
    out = subprocess.run([sys.executable, "-m", "bench.datasets.build_docqa", "--help"], check=False, cwd=ROOT,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and "--docs" in out.stdout
