"""Loading and validating pair data sets: formats, mappings, tldr imports, every problem at once."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.errors import DataError
from studies.data.datasets import InvalidDataError, Limits, Pair, content_hash, load_pairs, parse_mapping, save_dataset
from studies.data.readiness import readiness, verdict_for

ROWS = [
    {"input": "List files", "output": "ls", "group": "ls"},
    {"input": "List all files", "output": "ls -a", "group": "ls"},
    {"input": "Show disk usage", "output": "du -h", "group": "du"},
]


def write_jsonl(path: Path, rows: list) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_jsonl_json_csv_give_the_same_pairs_and_hash(tmp_path):
    jsonl = write_jsonl(tmp_path / "d.jsonl", ROWS)
    arr = tmp_path / "d.json"
    arr.write_text(json.dumps(ROWS, indent=2), encoding="utf-8")
    wrapped = tmp_path / "w.json"
    wrapped.write_text(json.dumps({"meta": {"x": [1, 2]}, "data": ROWS}, indent=1), encoding="utf-8")
    csv = tmp_path / "d.csv"
    csv.write_text("input,output,group\nList files,ls,ls\nList all files,ls -a,ls\nShow disk usage,du -h,du\n", encoding="utf-8")
    loaded = [load_pairs(p) for p in (jsonl, arr, wrapped, csv)]
    assert [d.report.format for d in loaded] == ["jsonl", "json", "json", "csv"]
    for d in loaded:
        assert [(p.input, p.output, p.group) for p in d.pairs] == [(r["input"], r["output"], r["group"]) for r in ROWS]
        assert d.report.ok and not d.report.problems
    assert len({d.content_hash for d in loaded}) == 1
    assert loaded[0].version == loaded[0].content_hash and len(loaded[0].content_hash) == 64


def test_json_item_line_numbers(tmp_path):
    path = tmp_path / "d.json"
    rows = [{"input": "a", "output": "1"}, {"input": "", "output": "2"}, {"input": "c"}]
    path.write_text("[\n" + ",\n".join(json.dumps(r) for r in rows) + "\n]\n", encoding="utf-8")
    report = load_pairs(path, strict=False).report
    assert [(p.kind, p.line) for p in report.errors] == [("empty", 3), ("missing-field", 4)]


def test_mapping_renames_columns_and_keeps_other_fields(tmp_path):
    path = tmp_path / "qa.csv"
    path.write_text('question,answer,topic,source\n"How, exactly?",Like this,t1,s\nWhy?,Because,t2,s\n', encoding="utf-8")
    d = load_pairs(path, mapping={"input": "question", "output": "answer", "group": "topic"})
    assert [(p.input, p.output, p.group) for p in d.pairs] == [("How, exactly?", "Like this", "t1"), ("Why?", "Because", "t2")]
    assert d.pairs[0].meta["source"] == "s" and d.pairs[0].meta["line"] == 2
    assert parse_mapping("input=question, output=answer") == {"input": "question", "output": "answer"}
    with pytest.raises(DataError, match="FIELD=COLUMN"):
        parse_mapping("input")
    with pytest.raises(DataError, match="Unknown field"):
        load_pairs(path, mapping={"prompt": "question"})


def test_csv_missing_column_is_one_clear_problem(tmp_path):
    path = tmp_path / "qa.csv"
    path.write_text("question,answer\nq,a\n", encoding="utf-8")
    with pytest.raises(InvalidDataError) as info:
        load_pairs(path)
    assert [p.kind for p in info.value.report.errors] == ["missing-field"]
    assert "column mapping" in str(info.value) and "--map" not in str(info.value)  # the app shows it too


def test_ids_are_kept_or_numbered_and_must_be_unique(tmp_path):
    d = load_pairs(write_jsonl(tmp_path / "a.jsonl", [{"id": "x1", "input": "a", "output": "b"}, {"input": "c", "output": "d"}]))
    assert [p.id for p in d.pairs] == ["x1", "2"]
    assert d.pairs[1].group is None and d.pairs[1].group_key == "pair:2"
    bad = load_pairs(write_jsonl(tmp_path / "b.jsonl", [{"id": 7, "input": "a", "output": "b"}, {"id": "7", "input": "c", "output": "d"}]), strict=False)
    assert [(p.kind, p.line) for p in bad.report.errors] == [("duplicate-id", 2)]


def test_broken_file_lists_every_problem_with_line_numbers(tmp_path):
    path = tmp_path / "broken.jsonl"
    lines = [
        b'{"input": "ok", "output": "fine"}',  # 1
        b'{"input": "no closing brace", "output": "x"',  # 2 bad JSON
        b'{"output": "missing input"}',  # 3 missing field
        b'{"input": "   ", "output": "y"}',  # 4 empty
        b'{"input": "latin-1 \xe9", "output": "z"}',  # 5 not UTF-8
        b'{"input": "' + b"x" * 60 + b'", "output": "long"}',  # 6 too long (limit 50)
        b"",  # 7 blank: ignored
        b'{"input": "ok", "output": "fine"}',  # 8 exact duplicate of 1
        b'{"input": "ok", "output": "other"}',  # 9 conflict with 1
        b'["not", "an object"]',  # 10
        b'{"input": 3, "output": "n"}',  # 11 wrong type
    ]
    path.write_bytes(b"\n".join(lines) + b"\n")
    with pytest.raises(InvalidDataError) as info:
        load_pairs(path, limits=Limits(max_item_chars=50))
    report = info.value.report
    got = [(p.line, p.kind) for p in report.problems]
    assert got == [
        (2, "bad-json"),
        (3, "missing-field"),
        (4, "empty"),
        (5, "not-utf8"),
        (6, "too-long"),
        (8, "duplicate"),
        (9, "conflict"),
        (10, "bad-record"),
        (11, "wrong-type"),
    ]
    assert {p.severity for p in report.problems if p.kind in ("duplicate", "conflict")} == {"warning"}
    assert report.records == 10 and report.valid == 3
    assert report.duplicates == 1 and report.conflicting_inputs == 1 and report.conflicting_records == 3
    message = str(info.value)
    for line in (2, 3, 4, 5, 6, 10, 11):
        assert f"line {line}:" in message
    # Not strict: the valid pairs and the full report come back.
    d = load_pairs(path, limits=Limits(max_item_chars=50), strict=False)
    assert len(d.pairs) == 3 and not d.report.ok


def test_duplicates_alone_keep_the_data_loadable(tmp_path):
    rows = [{"input": "a", "output": "1"}, {"input": "a", "output": "1"}, {"input": "a", "output": "2"}]
    d = load_pairs(write_jsonl(tmp_path / "d.jsonl", rows))
    assert d.report.ok and len(d.pairs) == 3
    assert d.report.counts() == {"conflict": 1, "duplicate": 1}


def test_unreadable_files_raise_clear_errors(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        load_pairs(tmp_path / "nope.jsonl")
    binary = tmp_path / "model.bin"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    with pytest.raises(DataError, match="binary"):
        load_pairs(binary)
    utf16 = tmp_path / "u.csv"
    utf16.write_bytes("input,output\na,b\n".encode("utf-16"))
    with pytest.raises(DataError, match="UTF-16"):
        load_pairs(utf16)
    big = write_jsonl(tmp_path / "big.jsonl", ROWS)
    with pytest.raises(DataError, match="limit is 10 bytes"):
        load_pairs(big, limits=Limits(max_file_bytes=10))
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n\n", encoding="utf-8")
    with pytest.raises(InvalidDataError, match="no records"):
        load_pairs(empty)


def test_bad_whole_json_reports_its_line(tmp_path):
    path = tmp_path / "d.json"
    path.write_text('[\n{"input": "a", "output": "b"},\n{"input": "c" "output": "d"}\n]', encoding="utf-8")
    report = load_pairs(path, strict=False).report
    assert [(p.kind, p.line) for p in report.errors] == [("bad-json", 3)]


def test_csv_problems_per_row(tmp_path):
    path = tmp_path / "d.csv"
    path.write_bytes(b'input,output\na,b\n"multi\nline",c\n,empty input\nx,y,extra\nlatin \xe9,z\nok,fine\n')
    report = load_pairs(path, strict=False).report
    assert [(p.kind, p.line) for p in report.errors] == [("empty", 5), ("bad-record", 6), ("not-utf8", 7)]
    assert report.valid == 3


def test_tldr_pairs_pages_and_folder_agree(tmp_path, sample_pairs, sample_pages):
    pairs = load_pairs(sample_pairs)
    pages = load_pairs(sample_pages)
    assert pairs.report.format == "tldr-pairs" and pages.report.format == "tldr-pages"
    assert len(pairs.pairs) == 684 and pairs.content_hash == pages.content_hash
    first = pairs.pairs[0]
    assert first.group == "common/docker" and first.id == "common/docker#1"
    assert first.meta["page"] == "common/docker" and first.meta["command"] == "docker"
    # The same pages as a folder of Markdown (a tldr checkout).
    root = tmp_path / "tldr"
    from rag.tldr import read_pages_jsonl

    wanted = 0
    for _line, page in read_pages_jsonl(sample_pages):
        platform, name = page.id.split("/")
        (root / platform).mkdir(parents=True, exist_ok=True)
        (root / platform / f"{name}.md").write_text(page.markdown, encoding="utf-8")
        wanted += len(page.examples)
    folder = load_pairs(root)
    assert folder.report.format == "tldr-markdown" and folder.report.ok
    assert len(folder.pairs) == wanted
    assert {p.group for p in folder.pairs} == {p.group for p in pages.pairs}


def test_tldr_folder_reports_every_bad_page(tmp_path):
    root = tmp_path / "pages" / "common"
    root.mkdir(parents=True)
    (root / "good.md").write_text("# good\n\n> Does things.\n\n- Do a thing:\n\n`good --thing`\n", encoding="utf-8")
    (root / "notitle.md").write_text("no title here\n", encoding="utf-8")
    (root / "latin.md").write_bytes(b"# latin\n\n- caf\xe9:\n\n`x`\n")
    d = load_pairs(tmp_path / "pages", strict=False)
    assert sorted((p.file, p.kind) for p in d.report.errors) == [("common/latin.md", "not-utf8"), ("common/notitle.md", "bad-page")]
    assert [(p.id, p.input, p.output, p.group) for p in d.pairs] == [("common/good#1", "Do a thing", "good --thing", "common/good")]
    assert d.pairs[0].meta["line"] == 5 and d.pairs[0].meta["file"] == "common/good.md"


def test_tldr_pages_jsonl_reports_every_bad_line(tmp_path):
    path = tmp_path / "pages.jsonl"
    good = {"id": "common/a", "command": "a", "examples": [{"intent": "Run a", "command": "a"}], "markdown": "# a"}
    path.write_text("\n".join([json.dumps(good), "{oops", json.dumps({"id": "common/b", "examples": "nope", "markdown": ""})]) + "\n", encoding="utf-8")
    d = load_pairs(path, strict=False)
    assert d.report.format == "tldr-pages"
    assert [(p.kind, p.line) for p in d.report.errors] == [("bad-json", 2), ("bad-page", 3)]
    assert len(d.pairs) == 1


def test_content_hash_normalises_text_and_tracks_changes():
    a = [Pair("1", "Cafe\u0301 ", "x\r\ny", "g")]
    b = [Pair("1", "Caf\u00e9", "x\ny", "g")]
    assert content_hash(a) == content_hash(b)
    assert content_hash(b) != content_hash([Pair("1", "Caf\u00e9", "x\ny", "h")])
    assert content_hash(b) != content_hash([Pair("2", "Caf\u00e9", "x\ny", "g")])


def test_saved_dataset_reloads_with_the_same_hash(workspace, sample_pairs):
    d = load_pairs(sample_pairs)
    folder = save_dataset(workspace, d, name="tldr-sample")
    manifest = json.loads((folder / "dataset.json").read_text())
    assert manifest["pairs"] == 684 and manifest["content_hash"] == d.content_hash
    again = load_pairs(folder / "pairs.jsonl")
    assert again.content_hash == d.content_hash
    assert again.pairs[0].meta["page"] == "common/docker"


def test_readiness_summary(sample_pairs):
    d = load_pairs(sample_pairs)
    r = readiness(d)
    assert r.pairs == 684 and r.groups == 101 and r.ungrouped == 0
    assert r.group_min >= 1 and r.group_max >= r.group_median
    assert r.input_chars.min <= r.input_chars.median <= r.input_chars.max
    assert r.output_tokens.max >= 1
    assert r.duplicates == d.report.duplicates
    assert r.level == "minimal"
    assert "pairs" in r.render()
    assert verdict_for(50)[0] == "too-small" and "100" in verdict_for(50)[1]
    assert verdict_for(500)[0] == "minimal"
    assert verdict_for(5_000)[0] == "workable"
    assert verdict_for(20_000)[0] == "comfortable"
    assert "conflicting" in verdict_for(1_000, duplicates=100, conflicting_inputs=0)[1]


def test_limits_are_validated():
    from core.errors import ConfigError

    with pytest.raises(ConfigError, match="max_item_chars"):
        Limits(max_item_chars=0).validate()


LINE_KINDS = [
    b'{"input": "q", "output": "a"}',
    b'{"input": "q2", "output": "a2", "group": "g"}',
    b'{"input": "", "output": "a"}',
    b'{"output": "a"}',
    b'{"input": "q", "output": 5}',
    b"{broken",
    b"[1, 2]",
    b'{"input": "caf\xe9", "output": "x"}',
    b"",
    b"   ",
]


@settings(max_examples=80, deadline=None)
@given(
    choices=st.lists(st.integers(0, len(LINE_KINDS) - 1), min_size=0, max_size=30),
    noise=st.lists(st.text(min_size=1, max_size=20).filter(lambda t: "\n" not in t and "\r" not in t), max_size=3),
)
def test_fuzzed_jsonl_reports_problems_within_the_file(tmp_path_factory, choices, noise):
    lines = [LINE_KINDS[c] for c in choices] + [json.dumps({"input": t, "output": t}).encode() for t in noise]
    path = tmp_path_factory.mktemp("fuzz") / "f.jsonl"
    path.write_bytes(b"\n".join(lines))
    try:
        d = load_pairs(path, strict=False)
    except DataError as exc:  # only "no records"-style refusals of the whole file are allowed here
        pytest.fail(f"unexpected refusal: {exc}")
    report = d.report
    assert report.records == sum(1 for line in lines if line.strip())
    assert all(p.line is None or 1 <= p.line <= len(lines) for p in report.problems)
    error_lines = {p.line for p in report.errors}
    assert len(d.pairs) + len(error_lines - {None}) == report.records
    assert all(p.input and p.output for p in d.pairs)
    assert len({p.id for p in d.pairs}) == len(d.pairs)


def test_deeply_nested_lines_are_reported_in_pairs_and_pages_files(tmp_path):
    """Both JSONL readers (pairs and tldr pages) go through one line decoder: a too-deep line is a problem, not a crash."""
    deep = "[" * 100_000
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text(json.dumps({"input": "a", "output": "b"}) + "\n" + deep + "\n", encoding="utf-8")
    pages = tmp_path / "pages.jsonl"
    pages.write_text(json.dumps({"id": "p", "examples": [{"intent": "a", "command": "b"}]}) + "\n" + deep + "\n", encoding="utf-8")
    for path, fmt in ((pairs, "jsonl"), (pages, "tldr-pages")):
        report = load_pairs(path, strict=False).report
        assert report.format == fmt and [(p.kind, p.line) for p in report.errors] == [("bad-json", 2)] and report.valid == 1


def test_common_column_names_get_a_concrete_mapping_in_the_error(tmp_path):
    from studies.data.datasets import suggest_mapping

    assert suggest_mapping(["text", "label"]) == {"input": "text", "output": "label"}
    assert suggest_mapping(["Question", "Answer", "id"]) == {"input": "Question", "output": "Answer"}
    assert suggest_mapping(["prompt", "completion"]) == {"input": "prompt", "output": "completion"}
    assert suggest_mapping(["input", "label"]) == {"input": "input", "output": "label"}
    assert suggest_mapping(["foo", "bar"]) is None and suggest_mapping(["text"]) is None
    csv_path = tmp_path / "t.csv"
    csv_path.write_text('text,label\n"printer broken",hardware\n', encoding="utf-8")
    report = load_pairs(csv_path, strict=False).report
    assert report.suggested_mapping == {"input": "text", "output": "label"}
    assert "input=text,output=label" in report.errors[0].message and len(report.errors) == 1
    jsonl = tmp_path / "q.jsonl"
    jsonl.write_text('{"question": "a", "answer": "b"}\n{"question": "c", "answer": "d"}\n', encoding="utf-8")
    report = load_pairs(jsonl, strict=False).report
    assert report.suggested_mapping == {"input": "question", "output": "answer"}
    assert "input=question,output=answer" in report.errors[0].message
    fixed = load_pairs(jsonl, mapping=report.suggested_mapping)
    assert [p.output for p in fixed.pairs] == ["b", "d"]
