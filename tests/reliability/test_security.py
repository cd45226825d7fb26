"""Security: names cannot escape the workspace, no pickles from user files, FAISS only through the
manifest, XSRF and an upload limit on, optional sign-in off by default, no secrets in logs or outputs.
"""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
import tomllib
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from core.errors import AdvisorError
from tests.reliability._util import examples, record_figure, snapshot

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = ("core", "advisor", "studies", "rag", "tuning", "ui", "bench")

# ----------------------------------------------------------------------------- traversal strings

TRAVERSALS = [
    "..", ".", "../x", "../../etc/passwd", "..\\..\\windows", "/etc/passwd", "/tmp", "a/../../b", "a/b", "a\\b",
    "\x00", "x\x00y", "..%2f..%2f", "%2e%2e/", "~", "~/x", ".hidden", "-rf", "", " ", "a\nb", "C:\\x", "\\\\server\\share",
    "....//", "..;/", "./x", "x/.", "x" * 200, "\u2025/x", "..\u2215x", "x/", "/", "//", "\t",
]


@st.composite
def traversal_names(draw) -> str:
    """Strings built from path pieces: separators, dots, absolute prefixes, NUL, control characters."""
    pieces = st.sampled_from(["..", ".", "/", "\\", "~", "\x00", "%2e", "%2f", "etc", "passwd", "x", "C:", "\n", ":", "*"])
    name = "".join(draw(st.lists(pieces | st.text(max_size=3), min_size=1, max_size=8)))
    return draw(st.sampled_from([name, "../" + name, name + "/..", "/" + name, "..\\" + name]))


names = st.one_of(st.sampled_from(TRAVERSALS), traversal_names(), st.text(max_size=20))


def escapes(name: str) -> bool:
    """Would ``name`` mean anything but one plain folder entry?"""
    return (not name or name in {".", ".."} or "/" in name or "\\" in name or "\x00" in name or name.startswith((".", "-", "~"))
            or any(ord(c) < 32 for c in name) or len(name) > 128)


def fuzz_settings(n: int | None = None):
    return settings(max_examples=n or examples(), deadline=None, database=None, suppress_health_check=list(HealthCheck),
                    phases=[Phase.explicit, Phase.generate])


def test_user_chosen_names_cannot_escape_the_workspace(workspace, tmp_path, monkeypatch):
    """Every API that turns a user-chosen name into a path, fed traversal strings."""
    from advisor import report
    from core.uploads import store_upload
    from core.workspace import KINDS
    from rag.index import open_index
    from studies.data.datasets import LoadedDataset, ValidationReport, save_dataset
    from studies.governance.registry import accept
    from studies.evaluation.run_items import load_run_items
    from studies.data.splits import load_split
    from studies.sweeps.processes import sweep_dir
    from tests.reliability._writer import FakeRecord
    from tuning.adapters import merge_adapter
    from tuning.config import TrainConfig
    from tuning.train import train

    # only the naming is under test; monkeypatch puts the real renderer back for the tests after this one
    monkeypatch.setattr(report, "render_markdown", lambda record: f"# report {record.gen}\n")

    class SmallRecord(FakeRecord):
        def __init__(self) -> None:
            super().__init__(1)
            self.plots = {"plot0": b"png"}

    dataset = LoadedDataset(name="d", pairs=[], report=ValidationReport("x", "jsonl"), content_hash="0", source="x")
    outside = snapshot(tmp_path / "outside")
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "secret").write_text("keep")
    outside = snapshot(tmp_path)
    counts: Counter = Counter()

    uses = {
        "workspace path": lambda n: [workspace.path(kind, n) for kind in KINDS],
        "workspace path part": lambda n: workspace.path("runs", "ok", n),
        "index name": lambda n: open_index(workspace, n),
        # train() with a plain name would go on to load the base model: only names that must be refused are passed.
        "adapter name (train)": lambda n: train(TrainConfig(), [], [], workspace, n) if escapes(n) else None,
        "adapter name (merge)": lambda n: merge_adapter("missing", workspace, n),
        "run id": lambda n: load_run_items(workspace, n),
        "split version": lambda n: load_split(workspace, n),
        "report name": lambda n: report.write_report(workspace, SmallRecord(), "md", name=n),
        "data set name": lambda n: save_dataset(workspace, dataset, n),
        "registry name": lambda n: accept(workspace, "no-such-run", "me", "why", name=n),
        "sweep name": lambda n: sweep_dir(workspace, n),
    }

    @fuzz_settings()
    @given(name=names)
    def case(name):
        before = snapshot(workspace.root) if escapes(name) else {}
        for label, use in uses.items():
            try:
                result = use(name)
            except AdvisorError as exc:
                assert str(exc)
                counts["refused"] += 1
                continue
            counts["accepted"] += 1
            assert not escapes(name) or name == "", f"{label} accepted {name!r}"  # "": no name given, the default is used
            for path in result if isinstance(result, list) else [result]:
                if isinstance(path, Path):
                    resolved = path.resolve()
                    assert workspace.root in resolved.parents, f"{label}: {name!r} -> {resolved}"
        if escapes(name) and name != "":
            changed = {k for k, v in snapshot(workspace.root).items()
                       if before.get(k) != v and v != "dir" and not k.startswith("leaderboard.duckdb")}  # accept() opens the board first
            assert not changed, f"{name!r} wrote {changed}"
        if not escapes(name) and name:  # a plain name made real artefacts: remove them (keeps each case cheap)
            import shutil

            for kind in ("datasets", "reports", "sweeps", "registry"):
                shutil.rmtree(workspace.root / kind / name, ignore_errors=True)
        # Upload file names are sanitised, never refused for their characters, and stay in uploads/<purpose>/.
        try:
            stored = store_upload(workspace, name + ".jsonl", b'{"input": "q", "output": "a"}\n', "pairs")
        except AdvisorError:
            counts["refused"] += 1
        else:
            assert stored.parent == (workspace.root / "uploads" / "pairs").resolve(), stored
            stored.unlink()
            counts["upload sanitised"] += 1

    case()
    assert snapshot(tmp_path) == {**outside, **{k: v for k, v in snapshot(tmp_path).items() if k.startswith("ws")}}
    assert (tmp_path / "outside" / "secret").read_text() == "keep"
    record_figure("security.traversal", names_tried=examples(), apis=len(uses) + 1, calls=sum(counts.values()), outcomes=dict(counts))


def test_known_traversal_strings_are_refused_by_safe_name():
    from core.workspace import safe_name

    for name in TRAVERSALS:
        if escapes(name):
            with pytest.raises(AdvisorError):
                safe_name(name)


# ----------------------------------------------------------------------------- no pickles

UNSAFE_LOADS = [
    (re.compile(r"\bpickle\.loads?\("), "pickle.load"),
    (re.compile(r"\b(c?pickle|dill|cloudpickle|joblib)\.load"), "pickle-family load"),
    (re.compile(r"\bread_pickle\("), "pandas.read_pickle"),
    (re.compile(r"allow_pickle\s*=\s*True"), "np.load(allow_pickle=True)"),
    (re.compile(r"\byaml\.(unsafe_load|load)\((?![^)]*SafeLoader)"), "yaml.load without SafeLoader"),
    (re.compile(r"\bshelve\.open\("), "shelve"),
    (re.compile(r"trust_remote_code\s*=\s*True"), "trust_remote_code=True"),
]


def _product_sources() -> list[Path]:
    files = [ROOT / "streamlit_app.py"]
    for package in PRODUCT:
        files += sorted((ROOT / package).rglob("*.py"))
    return [f for f in files if f.is_file()]


def _torch_load_without_weights_only(path: Path) -> list[int]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    bad = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "load":
            owner = node.func.value
            if isinstance(owner, ast.Name) and owner.id == "torch":
                ok = any(k.arg == "weights_only" and isinstance(k.value, ast.Constant) and k.value.value is True for k in node.keywords)
                if not ok:
                    bad.append(node.lineno)
    return bad


def test_no_pickle_loads_anywhere_in_the_product():
    problems = []
    files = _product_sources()
    for path in files:
        text = path.read_text(encoding="utf-8")
        for pattern, label in UNSAFE_LOADS:
            for match in pattern.finditer(text):
                line = text[: match.start()].count("\n") + 1
                problems.append(f"{path.relative_to(ROOT)}:{line}: {label}")
        problems += [f"{path.relative_to(ROOT)}:{line}: torch.load without weights_only=True" for line in _torch_load_without_weights_only(path)]
    assert not problems, "unsafe deserialisation:\n" + "\n".join(problems)
    record_figure("security.no_pickle", files_scanned=len(files), findings=0)


def test_faiss_files_are_read_only_through_the_manifest(workspace):
    """``faiss.read_index`` appears once, in rag/index.py, after every file's sha256 is checked."""
    callers = [p for p in _product_sources() if "read_index(" in p.read_text(encoding="utf-8") and p.name != "index.py"]
    assert not callers, callers
    import inspect

    import rag.index as index_module

    source = inspect.getsource(index_module.open_index)
    assert source.index("sha256_file(path)") < source.index("faiss.read_index")

    # A FAISS file dropped into the workspace without a manifest is never handed to FAISS.
    import faiss

    calls = []
    real = faiss.read_index
    faiss.read_index = lambda *a, **k: calls.append(a) or real(*a, **k)
    try:
        folder = workspace.root / "indexes" / "dropped"
        folder.mkdir(parents=True)
        (folder / "index.faiss").write_bytes(b"\x00" * 64)
        (folder / "chunks.jsonl").write_text("")
        with pytest.raises(AdvisorError, match="manifest"):
            index_module.open_index(workspace, "dropped")
    finally:
        faiss.read_index = real
    assert calls == []


# ----------------------------------------------------------------------------- the Streamlit server

def test_streamlit_config_keeps_xsrf_on_and_limits_uploads():
    from core.uploads import MAX_UPLOAD_MB

    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text(encoding="utf-8"))
    server = config.get("server", {})
    assert server.get("enableXsrfProtection", True) is True, "XSRF protection must stay on"
    assert server.get("enableCORS", True) is True, "CORS off would switch XSRF protection off too"
    assert 0 < server.get("maxUploadSize", 200) <= MAX_UPLOAD_MB
    assert config.get("client", {}).get("showErrorDetails") in ("none", "type", False), "stack traces leak paths"
    assert not (ROOT / ".streamlit" / "secrets.toml").exists() or "secrets.toml" in (ROOT / ".gitignore").read_text()


def test_sign_in_is_off_by_default_and_required_when_turned_on(workspace, monkeypatch):
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("ADVISOR_WORKSPACE", str(workspace.root))
    monkeypatch.delenv("ADVISOR_AUTH", raising=False)
    open_app = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=60).run()
    assert not open_app.exception
    assert not [b for b in open_app.button if b.label == "Log in"]

    monkeypatch.setenv("ADVISOR_AUTH", "1")
    gated = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=60).run()
    assert not gated.exception
    assert [b for b in gated.button if b.label == "Log in"], "sign-in required but no Log in button"
    shown = " ".join(str(m.value) for m in [*gated.markdown, *gated.info, *gated.title])
    assert "sign in" in shown.lower(), shown
    assert len(gated.selectbox) + len(gated.radio) + len(gated.text_input) == 0, "page content shown before sign-in"


# ----------------------------------------------------------------------------- no secrets in logs

TOKEN = "sk-reliability-T0KEN-9f8e7d6c5b4a"
PG_PASSWORD = "Pg-Secr3t-Reliability-42"


def _cli(ws: Path, *args: str, env: dict[str, str], timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "advisor", "--workspace", str(ws), *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)


def test_no_secrets_in_logs_or_outputs(workspace, tmp_path):
    """Commands run with tokens in the environment and a password in the storage URL; nothing prints or stores them."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_TOKEN": TOKEN, "OPENAI_API_KEY": TOKEN, "HUGGING_FACE_HUB_TOKEN": TOKEN,
           "ADVISOR_APP_PASSWORD": TOKEN, "PGPASSWORD": PG_PASSWORD}
    bad_url = f"postgresql://advisor:{PG_PASSWORD}@127.0.0.1:9/nowhere"  # nothing listens on port 9
    plan = tmp_path / "sweep.yaml"
    plan.write_text("objective: synthetic\nn_trials: 3\nheartbeat_interval: 1\npruner: none\nbase: {steps: 2, step_seconds: 0.0}\n")
    runs = [
        _cli(workspace.root, "sweep", "list", "--storage", bad_url, env=env),
        _cli(workspace.root, "sweep", "start", "--plan", str(plan), "--name", "leak", "--storage", bad_url, env=env),
        _cli(workspace.root, "sweep", "status", "leak", "--storage", bad_url, env=env),
        _cli(workspace.root, "sweep", "list", env={**env, "ADVISOR_OPTUNA_STORAGE": bad_url}),
        _cli(workspace.root, "sweep", "start", "--plan", str(plan), "--name", "ok", "--workers", "1", env=env),
        _cli(workspace.root, "sweep", "status", "ok", "--format", "json", env=env),
        _cli(workspace.root, "data", "check", str(ROOT / "data" / "sample" / "pairs.jsonl"), env=env),
        _cli(workspace.root, "leaderboard", env=env),
    ]
    failed_on_purpose = runs[:4]
    assert all(r.returncode != 0 for r in failed_on_purpose), [r.stderr[-300:] for r in failed_on_purpose]
    assert all("***" in r.stderr for r in failed_on_purpose[:1]), failed_on_purpose[0].stderr
    texts = {f"command {i} output": r.stdout + r.stderr for i, r in enumerate(runs)}
    for path in workspace.root.rglob("*"):
        if path.is_file():
            texts[str(path.relative_to(workspace.root))] = path.read_bytes().decode("utf-8", "replace")
    leaks = [where for where, text in texts.items() if TOKEN in text or PG_PASSWORD in text]
    assert not leaks, f"secrets found in: {leaks}"
    record_figure("security.secrets", commands=len(runs), files_scanned=len(texts) - len(runs), leaks=0)


@pytest.mark.postgres
def test_postgres_password_is_not_written_to_the_workspace(workspace, tmp_path):
    """A sweep on PostgreSQL with a password: sweep.json, logs and outputs never hold it; status still works."""
    import psycopg
    from sqlalchemy.engine import make_url

    admin = os.environ.get("ADVISOR_TEST_POSTGRES_URL")
    if not admin:
        pytest.skip("ADVISOR_TEST_POSTGRES_URL is not set (CI sets it in .ci/run; locally see RELIABILITY.md)")
    role = f"reliability_{os.getpid()}"
    with psycopg.connect(admin.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as con:
        con.execute(f"CREATE ROLE {role} LOGIN SUPERUSER PASSWORD '{PG_PASSWORD}'")
    url = make_url(admin).set(username=role, password=PG_PASSWORD).render_as_string(hide_password=False)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    plan = tmp_path / "sweep.yaml"
    plan.write_text("objective: synthetic\nn_trials: 2\nheartbeat_interval: 1\npruner: none\nbase: {steps: 2, step_seconds: 0.0}\n")
    name = f"pw-{os.getpid()}"
    try:
        started = _cli(workspace.root, "sweep", "start", "--plan", str(plan), "--name", name, "--storage", url, "--workers", "1", env=env)
        assert started.returncode == 0, started.stderr[-2000:]
        status = _cli(workspace.root, "sweep", "status", name, env={**env, "ADVISOR_OPTUNA_STORAGE": url})
        assert status.returncode == 0, status.stderr[-2000:]
        texts = {"start": started.stdout + started.stderr, "status": status.stdout + status.stderr}
        for path in workspace.root.rglob("*"):
            if path.is_file():
                texts[str(path.relative_to(workspace.root))] = path.read_bytes().decode("utf-8", "replace")
        leaks = [where for where, text in texts.items() if PG_PASSWORD in text]
        assert not leaks, f"the storage password was written to: {leaks}"
    finally:
        with psycopg.connect(admin.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as con:
            con.execute(f"REASSIGN OWNED BY {role} TO CURRENT_USER")
            con.execute(f"DROP OWNED BY {role}")
            con.execute(f"DROP ROLE {role}")
    record_figure("security.postgres_password", files_scanned=len(texts) - 2, leaks=0)
