"""Bad input, everywhere users hand us files: every loader ends in the product's own typed error.

Property/fuzz tests (hypothesis, >= 1,000 generated cases per loader; 10,000 under SOAK=1) feed
random bytes, random JSON/YAML/CSV and mutations of valid files to: the pair data set loader, the
corpus loader, answers files, plans, TrainConfig / RagConfig YAML, and the app's upload handling.
A loader may accept the input or raise an ``AdvisorError`` subclass with a message; any other
exception (a traceback for the user) fails the test. The workspace must be unchanged after a
refusal (no partial write). Targeted cases cover oversized files, deep JSON, UTF-16 / Latin-1,
wrong columns, empty files and a CSV that is really binary.
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from core.errors import AdvisorError
from tests.reliability._util import examples, record_figure, snapshot

ROOT = Path(__file__).resolve().parents[2]
SAMPLE_PAIRS = (ROOT / "data" / "sample" / "pairs.jsonl").read_bytes()
SAMPLE_PAGES = (ROOT / "data" / "sample" / "pages.jsonl").read_bytes()
SAMPLE_PAIRS_HEAD = b"".join(SAMPLE_PAIRS.splitlines(keepends=True)[:12])
SAMPLE_PAGES_HEAD = b"".join(SAMPLE_PAGES.splitlines(keepends=True)[:3])


def fuzz_settings():
    return settings(
        max_examples=examples(),
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
        phases=[Phase.explicit, Phase.generate],  # no shrinking: a failure prints its case at once, CI stays bounded
    )


# ----------------------------------------------------------------------------------- strategies

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30), st.sampled_from(["", " ", "input", "output", "../x", "\x00", "\ufffd", "é", "1e999"]),
)
json_values = st.recursive(
    scalars, lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=10), kids, max_size=4), max_leaves=12
)
field_names = st.sampled_from(["input", "output", "group", "id", "question", "answer", "text", "title", "page", "command", "meta", "data"])
records = st.dictionaries(field_names | st.text(max_size=8), json_values, max_size=6)


def _dump_json(value) -> str:
    return json.dumps(value, ensure_ascii=False, allow_nan=True)


@st.composite
def jsonl_bytes(draw) -> bytes:
    lines = draw(st.lists(records | json_values, max_size=6))
    text = "\n".join(_dump_json(v) for v in lines)
    return _encode(draw, text)


@st.composite
def json_doc_bytes(draw) -> bytes:
    items = draw(st.lists(records, max_size=5))
    doc = draw(st.sampled_from(["list", "data", "value"]))
    value = items if doc == "list" else {"data": items} if doc == "data" else draw(json_values)
    return _encode(draw, _dump_json(value))


@st.composite
def csv_bytes(draw) -> bytes:
    header = draw(st.lists(field_names | st.text(max_size=6), min_size=0, max_size=5))
    rows = draw(st.lists(st.lists(st.text(max_size=12), max_size=6), max_size=6))
    delimiter = draw(st.sampled_from([",", "\t", ";"]))
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter)
    if header:
        writer.writerow(header)
    for row in rows:
        writer.writerow(row)
    text = buffer.getvalue()
    if draw(st.booleans()):
        text = text.replace('"', "", draw(st.integers(0, 3)))  # break quoting now and then
    return _encode(draw, text)


def _encode(draw, text: str) -> bytes:
    encoding = draw(st.sampled_from(["utf-8", "utf-8", "utf-8", "utf-8-sig", "utf-16", "utf-16-le", "latin-1", "cp1252"]))
    return text.encode(encoding, errors="replace")


@st.composite
def mutated(draw, seed: bytes) -> bytes:
    """A valid file with random damage: truncation, byte flips, insertions, deletions."""
    data = bytearray(seed)
    for _ in range(draw(st.integers(1, 6))):
        if not data:
            break
        op = draw(st.sampled_from(["flip", "insert", "delete", "truncate", "dup"]))
        i = draw(st.integers(0, len(data) - 1))
        if op == "flip":
            data[i] = draw(st.integers(0, 255))
        elif op == "insert":
            data[i:i] = draw(st.binary(min_size=1, max_size=8) | st.sampled_from([b"\x00", b"\xff\xfe", b"{", b"[", b'"', b"\n", b"\r"]))
        elif op == "delete":
            del data[i : i + draw(st.integers(1, 20))]
        elif op == "truncate":
            del data[i:]
        else:
            data[i:i] = data[i : i + draw(st.integers(1, 40))]
    return bytes(data)


def _deep(depth: int, opener: str = "[", closer: str = "]") -> str:
    return opener * depth + closer * depth


raw_bytes = st.binary(max_size=600)
special_bytes = st.sampled_from([
    b"", b"\n\n\n", b"\xef\xbb\xbf", b"\xff\xfe\x00\x00", b"\x00" * 64, b"PK\x03\x04" + b"\x00" * 30,
    b"\x89PNG\r\n\x1a\n" + bytes(range(256)), "input,output\nçà,é\n".encode("latin-1"),
    "input,output\nhi,there\n".encode("utf-16"), _deep(5000).encode(), _deep(5000, "{\"a\":", "}").encode()[:20000],
    b'{"input": "a", "output": "b"}\n' * 3, b"input\toutput\nq\ta\n",
])
data_bytes = st.one_of(raw_bytes, special_bytes, jsonl_bytes(), json_doc_bytes(), csv_bytes(), mutated(SAMPLE_PAIRS_HEAD), mutated(SAMPLE_PAGES_HEAD))
suffixes = st.sampled_from([".jsonl", ".json", ".csv", ".tsv", ".ndjson", ".txt", ".md", ""])


def _attempt(fn) -> str:
    """'ok' if ``fn`` returns; the error class name if it raises an AdvisorError with a message; anything else fails."""
    try:
        fn()
    except AdvisorError as exc:
        assert str(exc).strip(), f"{type(exc).__name__} without a message"
        return type(exc).__name__
    return "ok"


def _write(folder: Path, stem: str, suffix: str, data: bytes) -> Path:
    path = folder / f"{stem}{suffix}"
    path.write_bytes(data)
    return path


# ----------------------------------------------------------------------------------- data sets

def test_fuzz_load_pairs(tmp_path, workspace):
    from studies.data.datasets import load_pairs

    outcomes: Counter = Counter()
    before = snapshot(workspace.root)

    @fuzz_settings()
    @given(data=data_bytes, suffix=suffixes, mapped=st.booleans())
    def case(data, suffix, mapped):
        path = _write(tmp_path, "pairs", suffix, data)
        mapping = {"input": "question", "output": "answer"} if mapped else None
        outcomes[_attempt(lambda: load_pairs(path, mapping))] += 1

    case()
    assert snapshot(workspace.root) == before
    total = sum(outcomes.values())
    assert total >= examples()
    record_figure("bad_input.load_pairs", cases=total, outcomes=dict(outcomes))


# ----------------------------------------------------------------------------------- corpora

def test_fuzz_load_corpus(tmp_path, workspace):
    from rag.corpus import load_corpus

    outcomes: Counter = Counter()
    before = snapshot(workspace.root)
    folder = tmp_path / "folder"

    @fuzz_settings()
    @given(data=data_bytes, suffix=suffixes, as_folder=st.booleans())
    def case(data, suffix, as_folder):
        if as_folder:
            folder.mkdir(exist_ok=True)
            for old in folder.iterdir():
                old.unlink()
            _write(folder, "doc", suffix, data)
            _write(folder, "other", ".md", data[: len(data) // 2])
            outcomes[_attempt(lambda: load_corpus(folder))] += 1
        else:
            path = _write(tmp_path, "corpus", suffix, data)
            outcomes[_attempt(lambda: load_corpus(path))] += 1

    case()
    assert snapshot(workspace.root) == before
    total = sum(outcomes.values())
    assert total >= examples()
    record_figure("bad_input.load_corpus", cases=total, outcomes=dict(outcomes))


# ----------------------------------------------------------------------------------- YAML files

def _yaml_text(draw_value) -> str:
    return yaml.safe_dump(draw_value, allow_unicode=True)


# Deeper YAML nesting costs PyYAML ~1.6 s per parse (depth 1,100): it has its own targeted case below.
yaml_junk = st.sampled_from([
    "", "---\n", "[", "a: [1, 2", "a: !!python/object/apply:os.system ['true']", "!!binary AAAA", "a: &x [*x]",
    "? [a, b]\n: c", "a: b\na: c", "\t- tab", "- " * 50 + "x", _deep(400), "a:\n" + "  " * 200 + "b: 1", "%YAML 9.9\n---\na: 1",
    "a: 2001-12-14t21:59:43.10-05:00", "a: .nan", "a: 1e400", "\x00\x01", "x" * 5000,
])


@st.composite
def config_text(draw, fields: list[str], nested: dict[str, list[str]] | None = None) -> bytes:
    kind = draw(st.sampled_from(["mapping", "mapping", "mapping", "junk", "value", "mutated"]))
    if kind == "junk":
        return _encode(draw, draw(yaml_junk))
    if kind == "value":
        return _encode(draw, _yaml_text(draw(json_values)))
    mapping = {}
    for name in draw(st.lists(st.sampled_from(fields + ["unknown_field"]), max_size=6, unique=True)):
        if nested and name in nested and draw(st.booleans()):
            mapping[name] = draw(st.dictionaries(st.sampled_from(nested[name] + ["zz"]), json_values, max_size=4))
        else:
            mapping[name] = draw(json_values)
    text = yaml.safe_dump(mapping, allow_unicode=True) if draw(st.booleans()) else _dump_json(mapping)
    if kind == "mutated":
        return draw(mutated(text.encode("utf-8")))
    return _encode(draw, text)


def _dataclass_fields(cls) -> list[str]:
    import dataclasses

    return [f.name for f in dataclasses.fields(cls)]


def _fuzz_config_loader(tmp_path: Path, workspace, label: str, load, fields: list[str], nested=None, suffix_choices=(".yaml", ".yml", ".json")):
    outcomes: Counter = Counter()
    before = snapshot(workspace.root)

    @fuzz_settings()
    @given(data=config_text(fields, nested), suffix=st.sampled_from(list(suffix_choices)))
    def case(data, suffix):
        path = _write(tmp_path, "config", suffix, data)
        outcomes[_attempt(lambda: load(path))] += 1

    case()
    assert snapshot(workspace.root) == before
    total = sum(outcomes.values())
    assert total >= examples()
    record_figure(f"bad_input.{label}", cases=total, outcomes=dict(outcomes))


def test_fuzz_train_config(tmp_path, workspace):
    from core.config import load_config
    from tuning.config import TrainConfig

    _fuzz_config_loader(tmp_path, workspace, "TrainConfig", lambda p: load_config(TrainConfig, p), _dataclass_fields(TrainConfig))


def test_fuzz_rag_config(tmp_path, workspace):
    from core.config import load_config
    from rag.config import RagConfig

    _fuzz_config_loader(tmp_path, workspace, "RagConfig", lambda p: load_config(RagConfig, p), _dataclass_fields(RagConfig))


def test_fuzz_plan(tmp_path, workspace):
    from advisor.plan import Budget, DataPlan, LoraPlan, Plan, RagPlan, load_plan

    nested = {"data": _dataclass_fields(DataPlan), "rag": _dataclass_fields(RagPlan), "lora": _dataclass_fields(LoraPlan),
              "budget": _dataclass_fields(Budget)}
    _fuzz_config_loader(tmp_path, workspace, "load_plan", load_plan, _dataclass_fields(Plan), nested)


def test_fuzz_answers(tmp_path, workspace):
    from advisor.questions import load_answers, load_questionnaire

    ids = load_questionnaire().ids()
    _fuzz_config_loader(tmp_path, workspace, "load_answers", load_answers, ids)


# ----------------------------------------------------------------------------------- the app's uploads

upload_names = st.one_of(
    st.text(max_size=40),
    st.builds(lambda stem, suffix: stem + suffix, st.text(max_size=20), st.sampled_from([".jsonl", ".csv", ".md", ".yaml", ".json"])),
    st.builds(lambda stem, suffix: stem + suffix, st.text(max_size=20),
              st.sampled_from([".jsonl", ".json", ".csv", ".tsv", ".md", ".txt", ".yaml", ".exe", ".JSONL", ""])),
    st.sampled_from(["../../etc/passwd.jsonl", "/etc/passwd.csv", "..\\..\\x.json", ".jsonl", "..jsonl", "a/../../b.csv",
                     "\x00.jsonl", "con.jsonl", "x" * 400 + ".jsonl", " .csv", "%2e%2e%2f.jsonl"]),
)


def test_fuzz_app_uploads(workspace):
    """The Data/Sweeps pages' upload path: ``store_upload`` then the loader the page runs on the stored file."""
    from advisor.sweep_launch import sweep_config_from_file
    from core.uploads import store_upload
    from rag.corpus import load_corpus
    from studies.data.datasets import load_pairs

    outcomes: Counter = Counter()
    followers = {"pairs": load_pairs, "corpus": load_corpus, "plans": lambda path: sweep_config_from_file(str(path))}
    uploads = workspace.root / "uploads"

    @fuzz_settings()
    @given(data=data_bytes | config_text(["name", "objective", "n_trials", "space", "lora", "budget"]), name=upload_names,
           purpose=st.sampled_from(["pairs", "corpus", "plans", "../x"]), tiny_limit=st.booleans())
    def case(data, name, purpose, tiny_limit):
        before = snapshot(workspace.root)
        stored: list[Path] = []

        def upload():
            stored.append(store_upload(workspace, name, data, purpose, **({"max_mb": 0} if tiny_limit else {})))

        outcome = _attempt(upload)
        if outcome != "ok":
            assert snapshot(workspace.root) == before, "a refused upload changed the workspace"
            outcomes["refused:" + outcome] += 1
            return
        path = stored[0]
        assert uploads.resolve() in path.resolve().parents, f"upload escaped the uploads folder: {path}"
        changed = {k for k, v in snapshot(workspace.root).items() if before.get(k) != v}
        assert all(k == "uploads" or k.startswith("uploads/") for k in changed), changed
        outcomes["stored:" + _attempt(lambda: followers[purpose](path))] += 1
        path.unlink()

    case()
    total = sum(outcomes.values())
    assert total >= examples()
    record_figure("bad_input.app_uploads", cases=total, outcomes=dict(outcomes))


def test_fuzz_app_answers_upload():
    """The Decide page's "load answers" upload: ``parse_saved_answers(bytes, filename)``."""
    from advisor.answers import parse_saved_answers
    from advisor.questions import load_questionnaire

    qn = load_questionnaire()
    outcomes: Counter = Counter()

    @fuzz_settings()
    @given(data=config_text(qn.ids()) | raw_bytes | mutated(SAMPLE_PAIRS_HEAD), name=st.sampled_from(["answers.yaml", "answers.json", "a.yml", "x"]))
    def case(data, name):
        outcomes[_attempt(lambda: parse_saved_answers(data, name, qn))] += 1

    case()
    total = sum(outcomes.values())
    assert total >= examples()
    record_figure("bad_input.app_answers_upload", cases=total, outcomes=dict(outcomes))


# ----------------------------------------------------------------------------------- targeted cases

def _targeted_files(tmp_path: Path) -> dict[str, Path]:
    files = {
        "empty.jsonl": b"",
        "empty.csv": b"",
        "blank.json": b"   \n\n",
        "deep.json": _deep(200_000).encode(),
        "deep-object.jsonl": (_deep(100_000, '{"a":', "}")).encode(),
        "deep.yaml": _deep(1_500).encode(),  # past the recursion limit; PyYAML takes ~1 s per parse here
        "utf16.jsonl": '{"input": "q", "output": "a"}\n'.encode("utf-16"),
        "utf16.csv": "input,output\nq,a\n".encode("utf-16"),
        "utf16le-nobom.csv": "input,output\nq,a\n".encode("utf-16-le"),
        "latin1.csv": "input,output\ncafé,crème brûlée\n".encode("latin-1"),
        "latin1.jsonl": '{"input": "café", "output": "crème"}\n'.encode("latin-1"),
        "wrong-columns.csv": b"question,answer\nq,a\n",
        "wrong-fields.jsonl": b'{"question": "q", "answer": "a"}\n',
        "binary.csv": bytes(range(256)) * 64,
        "zip-as.csv": b"PK\x03\x04\x14\x00\x00\x00\x08\x00" + bytes(range(1, 255)) * 20,
        "png-as.jsonl": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)),
        "huge-line.jsonl": b'{"input": "' + b"a" * 3_000_000 + b'", "output": "b"}\n',
    }
    out = {}
    for name, data in files.items():
        out[name] = tmp_path / name
        out[name].write_bytes(data)
    return out


def test_targeted_bad_files_end_in_typed_errors(tmp_path, workspace):
    from advisor.plan import load_plan
    from advisor.questions import load_answers
    from core.config import load_config
    from rag.config import RagConfig
    from rag.corpus import load_corpus
    from studies.data.datasets import load_pairs
    from tuning.config import TrainConfig

    loaders = {
        "load_pairs": load_pairs, "load_corpus": load_corpus, "load_answers": load_answers, "load_plan": load_plan,
        "TrainConfig": lambda p: load_config(TrainConfig, p), "RagConfig": lambda p: load_config(RagConfig, p),
    }
    before = snapshot(workspace.root)
    tried = 0
    accepted = []
    for name, path in _targeted_files(tmp_path).items():
        for label, load in loaders.items():
            tried += 1
            if _attempt(lambda: load(path)) == "ok":
                accepted.append((name, label))
    assert snapshot(workspace.root) == before
    # None of these is a usable data set, corpus, plan or config; an empty config/plan file means "all defaults".
    defaults = {(name, label) for name in ("empty.jsonl", "empty.csv", "blank.json") for label in ("load_plan", "TrainConfig", "RagConfig")}
    assert set(accepted) <= defaults, sorted(set(accepted) - defaults)
    record_figure("bad_input.targeted", cases=tried)


def test_oversized_files_are_refused_before_reading(tmp_path):
    from core.config import MAX_CONFIG_BYTES, load_config
    from rag.corpus import MAX_FILE_BYTES, load_corpus
    from studies.data.datasets import load_pairs
    from studies.data.validation import Limits
    from tuning.config import TrainConfig

    big = tmp_path / "big.jsonl"
    with open(big, "wb") as handle:  # sparse: no disk used
        handle.truncate(max(MAX_FILE_BYTES, 200_000_000) + 1)
    with pytest.raises(AdvisorError, match="limit"):
        load_pairs(big)
    with pytest.raises(AdvisorError, match="limit"):
        load_pairs(big, limits=Limits(max_file_bytes=1000))
    with pytest.raises(AdvisorError, match="limit"):
        load_corpus(big)
    conf = tmp_path / "big.yaml"
    with open(conf, "wb") as handle:
        handle.truncate(MAX_CONFIG_BYTES + 1)
    with pytest.raises(AdvisorError, match="limit"):
        load_config(TrainConfig, conf)


def test_oversized_upload_is_refused_and_nothing_is_written(workspace):
    from core.uploads import MAX_UPLOAD_MB, store_upload

    before = snapshot(workspace.root)
    with pytest.raises(AdvisorError, match="MB"):
        store_upload(workspace, "big.jsonl", b"x" * (MAX_UPLOAD_MB * 1_000_000 + 1), "pairs")
    assert snapshot(workspace.root) == before


def test_failed_save_leaves_the_previous_data_set(tmp_path, workspace, monkeypatch):
    """A data set save that dies midway (disk full) leaves the earlier save intact."""
    import errno

    from studies.data import datasets
    from studies.data.datasets import load_pairs, save_dataset

    sample = tmp_path / "pairs.jsonl"
    sample.write_bytes(SAMPLE_PAIRS_HEAD)
    save_dataset(workspace, load_pairs(sample), "mine")
    before = snapshot(workspace.root)
    real_dumps = json.dumps
    calls = {"n": 0}

    def failing_dumps(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] > 3:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_dumps(*args, **kwargs)

    monkeypatch.setattr(datasets.json, "dumps", failing_dumps)
    with pytest.raises(AdvisorError) as caught:
        save_dataset(workspace, load_pairs(sample), "mine")
    assert "No space left on device" in str(caught.value) and "Free disk space" in str(caught.value)
    monkeypatch.undo()
    assert snapshot(workspace.root) == before
