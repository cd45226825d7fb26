"""Data creation from documents: extractive rules, model replies, an endpoint, filters, review, data sets."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.errors import DataError
from studies.data.creation.candidates import Candidate
from studies.data.creation.extractive import extract_candidates
from studies.data.creation.filters import FilterConfig, filter_candidates, grounding
from studies.data.creation.generation import GenerationRequest, generate
from studies.data.creation.model import (
    EndpointGenerator,
    parse_reply,
    passages,
    write_candidates,
)
from studies.data.creation.review_queue import ReviewQueue, build_dataset
from studies.data.creation.store import DECISIONS, read_jsonl
from tests.openai_fake import FakeOpenAI
from tests.rag_fakes import FakeEncoder

ROOT = Path(__file__).resolve().parents[3]

DOC = """# grep

Search files for lines that match patterns.

## Options

  -i, --ignore-case     Ignore case distinctions in patterns and input data.
  -v, --invert-match    Select the lines that do not match instead of the matching ones.

## Exit status

The exit status is 0 if a line is selected and 1 if no lines were selected at all.

## What is a pattern?

A pattern is a regular expression that describes a set of strings to match.

Glossary
--------

regex
    A regular expression, a compact notation for sets of strings used by many tools.

- **context**: The lines printed around each match when the -C option is given.

| Name | Description |
|------|-------------|
| `GREP_COLOR` | Sets the colour used to highlight matches in the output. |

To search a folder recursively, run:

```
grep -r pattern dir/
```

Parameters
----------
path : str
    The file or folder to search through for the pattern.

Q: Does grep support Perl regular expressions?
A: Yes, with the -P option on builds that include PCRE.
"""


def test_each_extractive_rule_finds_its_shape_with_the_answer_in_its_span():
    found = {c.question: c for c in extract_candidates("grep", DOC, "grep")}
    expected = {
        "What does the documentation in grep say about Exit status?": ("extractive:section", "The exit status is 0"),
        "What is a pattern?": ("extractive:faq", "A pattern is a regular expression"),
        "Does grep support Perl regular expressions?": ("extractive:faq", "Yes, with the -P option"),
        "What is regex?": ("extractive:definition", "A regular expression, a compact notation"),
        "What is context?": ("extractive:definition", "The lines printed around each match"),
        "What does the --ignore-case option of grep do?": ("extractive:option", "Ignore case distinctions"),
        "What does the --invert-match option of grep do?": ("extractive:option", "Select the lines that do not match"),
        "What does the `path` parameter of grep do?": ("extractive:option", "The file or folder to search"),
        "What is GREP_COLOR in grep?": ("extractive:option", "Sets the colour used"),
        "How do I search a folder recursively?": ("extractive:code", "grep -r pattern dir/"),
    }
    for question, (generator, start) in expected.items():
        assert question in found, (question, sorted(found))
        c = found[question]
        assert c.generator == generator and c.answer.startswith(start)
        assert DOC[c.span[0]:c.span[1]].split()[:3] == c.answer.split()[:3], c
        assert c.doc_id == "grep" and c.id.startswith("c-")
    # structured blocks are not read again as a section's paragraph
    assert "What does the documentation in grep say about Options?" not in found


_words = st.lists(st.sampled_from("alpha beta gamma delta epsilon zeta theta kappa lambda sigma omega".split()), min_size=4, max_size=12)


@settings(max_examples=60, deadline=None)
@given(heading=_words, body=_words, term=st.sampled_from(["widget", "gadget", "sprocket"]), definition=_words)
def test_extractive_answers_are_always_grounded_in_their_span(heading, body, term, definition):
    text = (f"# Title\n\n## {' '.join(heading)}\n\n{' '.join(body).capitalize()} is described here in full.\n\n"
            f"- **{term}**: {' '.join(definition)} and more words to be long enough.\n")
    for c in extract_candidates("doc", text, "Title"):
        assert grounding(c.answer, text[c.span[0]:c.span[1]]) == 1.0, c


def _cand(q: str, a: str, doc: str, span=(0, 0)) -> Candidate:
    return Candidate(question=q, answer=a, doc_id=doc, span=span, generator="test")


DOCS = {
    "cats": "Cats sleep for sixteen hours a day and purr when content. Cats hunt mice at night.",
    "boats": "Boats float because they displace water heavier than themselves. Sails catch the wind.",
    "trees": "Trees grow rings every year; counting the rings tells the age of the tree.",
}


def _span(doc: str, answer: str) -> tuple[int, int]:
    i = DOCS[doc].index(answer)
    return i, i + len(answer)


def test_filters_catch_duplicates_near_duplicates_ungrounded_unroutable_and_unsafe():
    cands = [
        _cand("How long do cats sleep each day?", "sixteen hours a day", "cats", _span("cats", "sixteen hours a day")),
        _cand("how long do CATS sleep each day", "sixteen hours a day", "cats", _span("cats", "sixteen hours a day")),  # duplicate
        _cand("Each day, how long do cats sleep?", "sixteen hours a day", "cats", _span("cats", "sixteen hours a day")),  # near-dup
        _cand("Why do boats float on water?", "because magic keeps them up", "boats", _span("boats", "Boats float")),  # ungrounded
        _cand("How do you tell the age of a tree from its rings?", "displace water", "boats", _span("boats", "displace water")),  # unroutable
        _cand("What key do cats use at night?", "AKIAABCDEFGHIJKLMNOP sixteen", "cats", (0, 0)),  # unsafe: a secret
        _cand("Why?", "x", "trees", (0, 0)),  # length
        _cand("What do counting tree rings tell?", "the age of the tree", "trees", _span("trees", "the age of the tree")),
    ]
    report = filter_candidates(cands, DOCS, FakeEncoder(), FilterConfig(near_duplicate=0.95, route_k=1))
    by_filter = {r.candidate.question: r.filter for r in report.rejected}
    assert by_filter == {
        "how long do CATS sleep each day": "duplicate",
        "Each day, how long do cats sleep?": "near_duplicate",
        "Why do boats float on water?": "ungrounded",
        "How do you tell the age of a tree from its rings?": "unroutable",
        "What key do cats use at night?": "unsafe",
        "Why?": "length",
    }
    assert [c.question for c in report.kept] == ["How long do cats sleep each day?", "What do counting tree rings tell?"]
    summary = report.summary()
    assert summary["candidates"] == 8 and summary["kept"] == 2 and sum(summary["dropped"].values()) == 6
    assert summary["thresholds"]["near_duplicate"] == 0.95


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(list(DOCS)), st.integers(0, 5)), min_size=1, max_size=25))
def test_filters_account_for_every_candidate_exactly_once(picks):
    cands = []
    for doc, n in picks:
        words = DOCS[doc].split()
        answer = " ".join(words[n:n + 4])
        cands.append(_cand(f"What about {' '.join(words[n:n + 3])} in {doc}?", answer, doc, _span(doc, answer)))
    report = filter_candidates(cands, DOCS, FakeEncoder())
    assert len(report.kept) + len(report.rejected) == len(cands)
    assert {id(c) for c in report.kept}.isdisjoint({id(r.candidate) for r in report.rejected})
    questions = [c.question.lower() for c in report.kept]
    assert len(questions) == len(set(questions))


def test_filter_thresholds_are_validated():
    with pytest.raises(Exception, match="near_duplicate"):
        filter_candidates([], DOCS, FakeEncoder(), FilterConfig(near_duplicate=1.5))


def test_model_replies_parse_and_passages_keep_their_spans():
    assert parse_reply("Question: What is X?\nAnswer: X is a thing.") == ("What is X?", "X is a thing.")
    assert parse_reply("**Question:** Why?\n**Answer:** Because.\n\nQuestion: another") == ("Why?", "Because.")
    assert parse_reply("I'm sorry, I cannot help with that.") is None
    text = ("First paragraph " * 20 + "\n\n" + "Second one. " * 30 + "\n\n" + "Tail " * 40).strip()
    items = passages("d", text, "T", max_chars=300, min_chars=50)
    assert items and all(text[p.start:p.end] == p.text for p in items)
    assert all(len(p.text) <= 300 for p in items)


class _Echo:
    name = "echo"

    def complete(self, prompts, progress=None):
        return [f"Question: What does passage {i} say?\nAnswer: {p.split('Passage')[1][:40]}" if i % 2 == 0 else "no idea"
                for i, p in enumerate(prompts)]


def test_model_written_candidates_keep_provenance_and_count_unparsed_replies():
    items = passages("d", "Alpha beta gamma delta. " * 20, "Doc", max_chars=200, min_chars=20)
    out = write_candidates(_Echo(), items)
    assert out.prompts == len(items) and out.unparsed == len(items) // 2
    c = out.candidates[0]
    assert c.generator == "model:echo" and c.prompt and c.span == (items[0].start, items[0].end) and c.meta["raw"]


def test_endpoint_generator_talks_openai_chat_completions_with_retries_and_a_secret_key(fake_endpoint, monkeypatch):
    monkeypatch.setenv("TEST_KEY", "sk-very-secret")
    FakeOpenAI.fail_first = 1  # one server error: retried
    gen = EndpointGenerator(fake_endpoint, "served-model", api_key_env="TEST_KEY", timeout_s=5)
    replies = gen.complete(["Read\n\nPassage (from \"T\"):\nCats sleep a lot.\n\nReply"])
    assert "Question:" in replies[0] and FakeOpenAI.calls[-1]["auth"] == "Bearer sk-very-secret"
    assert FakeOpenAI.calls[-1]["body"]["model"] == "served-model" and FakeOpenAI.calls[-1]["body"]["temperature"] == 0
    assert "sk-very-secret" not in gen.name
    wrong_path = EndpointGenerator(fake_endpoint.replace("/v1", "/nope"), "m", timeout_s=5, attempts=1)
    with pytest.raises(DataError) as err:
        wrong_path.complete(["x"])  # 404: a client error, not retried
    assert "failed after 1 attempt" in str(err.value)
    with pytest.raises(DataError, match="not an http"):
        EndpointGenerator("ftp://x", "m")
    with pytest.raises(DataError, match="environment variable"):
        EndpointGenerator("http://u:pw@host/v1", "m")
    monkeypatch.delenv("TEST_KEY")
    with pytest.raises(DataError, match="TEST_KEY is empty"):
        EndpointGenerator(fake_endpoint, "m", api_key_env="TEST_KEY")


def _corpus(tmp_path: Path) -> Path:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "grep.md").write_text(DOC, encoding="utf-8")
    (folder / "tar.md").write_text(
        "# tar\n\nArchive files into one tape archive.\n\n## Options\n\n  -c, --create    Create a new archive from the files.\n"
        "  -x, --extract   Extract the files from an archive.\n\n## Compression\n\nThe -z option filters the archive "
        "through gzip so the result is smaller.\n", encoding="utf-8")
    return folder


def test_generation_end_to_end_with_an_endpoint_then_review_and_build(tmp_path, workspace, fake_endpoint):
    request = GenerationRequest(corpus=str(_corpus(tmp_path)), name="docs", model=EndpointGenerator(fake_endpoint, "m", timeout_s=5))
    result = generate(request, workspace, FakeEncoder())
    summary = result.summary()
    assert summary["kept"] == len(result.report.kept) > 5
    assert any(g.startswith("model:endpoint:") for g in result.by_generator) and "extractive:option" in result.by_generator
    manifest = json.loads((result.path / "generation.json").read_text())
    assert manifest["documents"] == 2 and manifest["filters"]["candidates"] == summary["candidates"]
    assert len(read_jsonl(result.path / "rejected.jsonl")) == sum(summary["dropped"].values())

    queue = ReviewQueue(workspace, "docs")
    first, second, third = queue.candidates[:3]
    queue.decide(first.id, "accept", "ana")
    queue.decide(second.id, "edit", "ben", question="A better question about grep?", answer=second.answer)
    queue.decide(third.id, "reject", "ana")
    with pytest.raises(DataError, match="already reviewed"):
        queue.decide(third.id, "accept", "ana", expected_pending=True)  # a double click: nothing recorded
    before, span, after = queue.source(first)
    assert span and first.answer.split()[0] in span
    again = ReviewQueue(workspace, "docs")  # resumed: decisions survive
    assert again.progress().reviewed == 3 and again.next_pending().id == queue.candidates[3].id

    path = build_dataset(workspace, "docs", "docs-v1")
    manifest = json.loads((path / "dataset.json").read_text())
    assert manifest["review"] == {"accepted": 1, "edited": 1, "rejected": 1, "pending": len(queue.candidates) - 3,
                                  "unreviewed_included": 0, "reviewers": ["ana", "ben"], "generation": "docs"}
    from studies.data.datasets import load_pairs
    from studies.data.readiness import readiness
    from studies.data.splits import make_split

    loaded = load_pairs(path / "pairs.jsonl")
    assert {p.input for p in loaded.pairs} == {first.question, "A better question about grep?"}
    assert {p.group for p in loaded.pairs} <= {"grep", "tar"} and all(p.meta["generator"] for p in loaded.pairs)
    assert readiness(loaded).reviewed == 2

    with_pending = build_dataset(workspace, "docs", "docs-all", include_unreviewed=True)
    everything = load_pairs(with_pending / "pairs.jsonl")
    with pytest.raises(DataError, match="nobody reviewed"):
        make_split(everything, seed=0)
    split = make_split(everything, seed=0, fractions=(0.5, 0.0, 0.5), allow_unreviewed=True)
    assert split.unreviewed == len(queue.candidates) - 3 and split.manifest()["unreviewed_override"] == split.unreviewed

    with pytest.raises(DataError, match="already has review decisions"):
        generate(request, workspace, FakeEncoder())  # reviewed work is never overwritten


def test_csv_round_trip_records_decisions_and_refuses_bad_rows_whole(tmp_path, workspace):
    generate(GenerationRequest(corpus=str(_corpus(tmp_path)), name="csv"), workspace, FakeEncoder())
    queue = ReviewQueue(workspace, "csv")
    out = queue.export_csv(tmp_path / "review.csv")
    import csv

    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert len(rows) == len(queue.candidates) and rows[0]["source"]
    rows[0]["decision"], rows[1]["decision"] = "accept", "edit"
    rows[1]["edited_answer"] = "An edited answer."
    rows[2]["decision"] = "maybe"
    def write(rs):
        with (tmp_path / "back.csv").open("w", encoding="utf-8", newline="") as handle:
            w = csv.DictWriter(handle, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows(rs)
    write(rows)
    with pytest.raises(DataError, match="line 4: decision 'maybe'"):
        queue.import_csv(tmp_path / "back.csv", "carla")
    assert ReviewQueue(workspace, "csv").progress().reviewed == 0  # nothing recorded
    rows[2]["decision"] = "reject"
    write(rows)
    progress = queue.import_csv(tmp_path / "back.csv", "carla")
    assert (progress.accepted, progress.edited, progress.rejected) == (1, 1, 1)
    assert ReviewQueue(workspace, "csv").decisions[rows[1]["id"]].answer == "An edited answer."


def test_a_torn_decision_line_from_a_crash_is_ignored_and_later_decisions_still_land(tmp_path, workspace):
    generate(GenerationRequest(corpus=str(_corpus(tmp_path)), name="torn"), workspace, FakeEncoder())
    queue = ReviewQueue(workspace, "torn")
    queue.decide(queue.candidates[0].id, "accept", "ana")
    with open(queue.dir / DECISIONS, "a", encoding="utf-8") as handle:
        handle.write('{"candidate_id": "' + queue.candidates[1].id + '", "deci')  # killed mid-write
    resumed = ReviewQueue(workspace, "torn")
    assert resumed.progress().reviewed == 1
    resumed.decide(queue.candidates[2].id, "reject", "ana")
    assert ReviewQueue(workspace, "torn").progress().reviewed == 2


_REVIEWER = """
import sys
from core.workspace import Workspace
from studies.data.creation.review_queue import ReviewQueue
queue = ReviewQueue(Workspace.resolve(sys.argv[1]), "kill")
for c in queue.pending():
    queue.decide(c.id, "accept", "bot")
    print(c.id, flush=True)
    import time; time.sleep(0.02)
"""


def test_sigkill_during_review_loses_no_decision_that_was_acknowledged(tmp_path, workspace):
    generate(GenerationRequest(corpus=str(_corpus(tmp_path)), name="kill"), workspace, FakeEncoder())
    total = len(ReviewQueue(workspace, "kill").candidates)
    proc = subprocess.Popen([sys.executable, "-c", _REVIEWER, str(workspace.root)], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    acknowledged = [proc.stdout.readline().strip() for _ in range(min(3, total - 1))]
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    decided = ReviewQueue(workspace, "kill").decisions
    assert set(acknowledged) <= set(decided) and len(decided) < total


_GENERATOR = """
import sys, time
from core.workspace import Workspace
from studies.data.creation.generation import GenerationRequest, generate
from tests.rag_fakes import FakeEncoder

class Slow:
    name = "slow"
    def complete(self, prompts, progress=None):
        print("started", flush=True)
        time.sleep(60)
        return ["" for _ in prompts]

generate(GenerationRequest(corpus=sys.argv[2], name="killed", model=Slow()), Workspace.resolve(sys.argv[1]), FakeEncoder())
"""


def test_sigkill_during_generation_leaves_nothing_half_written(tmp_path, workspace):
    proc = subprocess.Popen([sys.executable, "-c", _GENERATOR, str(workspace.root), str(_corpus(tmp_path))], cwd=ROOT,
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "started"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    folder = workspace.root / "generated" / "killed"
    assert not folder.exists() or not (folder / "candidates.jsonl").exists()
    with pytest.raises(DataError, match="No generation named"):
        ReviewQueue(workspace, "killed")


def test_generation_requests_are_validated():
    with pytest.raises(DataError, match="No corpus"):
        GenerationRequest(corpus=" ", name="x").validate()
    with pytest.raises(DataError, match="Nothing to generate"):
        GenerationRequest(corpus="c", name="x", extractive=False).validate()
    with pytest.raises(DataError, match="Unknown extractive rule"):
        GenerationRequest(corpus="c", name="x", rules=["nope"]).validate()


DOCSTRING = """numpy.angle(z, deg=False)

Return the angle of the complex argument.

Parameters
----------
z : array_like
    A complex number or sequence of complex numbers.
deg : bool, optional
    Return angle in degrees if True, radians if False (default).

Returns
-------
angle : ndarray or scalar
    The counterclockwise angle from the positive real axis on the complex plane.

Examples
--------
>>> np.angle([1.0, 1.0j])
array([ 0.        ,  1.57079633])
"""


def test_api_docstrings_give_summary_parameter_and_return_questions_and_no_example_noise():
    found = {c.question: (c.generator, c.answer) for c in extract_candidates("numpy.angle", DOCSTRING, "numpy.angle")}
    assert found == {
        "What does numpy.angle do?": ("extractive:summary", "Return the angle of the complex argument."),
        "What does the `z` parameter of numpy.angle do?": ("extractive:option", "A complex number or sequence of complex numbers."),
        "What does the `deg` parameter of numpy.angle do?": ("extractive:option", "Return angle in degrees if True, radians if False (default)."),
        "What does numpy.angle return?": ("extractive:returns", "The counterclockwise angle from the positive real axis on the complex plane."),
    }
