"""The advisor layer imports without heavy libraries, and layers only import downward."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("torch", "transformers", "faiss", "duckdb", "sentence_transformers", "peft", "optuna")
# Which top-level packages each layer may import (itself included).
ALLOWED = {
    "core": {"core"},
    "tuning": {"core", "tuning"},
    "rag": {"core", "tuning", "rag"},
    "studies": {"core", "tuning", "rag", "studies"},
    "advisor": {"core", "tuning", "rag", "studies", "advisor"},
}


def _run(code: str) -> str:
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_import_advisor_is_light():
    loaded = _run(
        "import sys, advisor, advisor.cli; advisor.cli.build_parser(); "
        f"print(' '.join(m for m in {HEAVY!r} if m in sys.modules))"
    )
    assert loaded.strip() == "", f"import advisor pulled in: {loaded}"


def test_help_is_light_and_works():
    out = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "advisor", "--help"], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert "usage: advisor" in out.stdout
    imported = {line.split("|")[-1].strip().split(".")[0] for line in out.stderr.splitlines() if "|" in line}
    assert not imported & set(HEAVY), imported & set(HEAVY)


def test_layers_import_only_downward():
    problems = []
    for layer, allowed in ALLOWED.items():
        for path in (ROOT / layer).rglob("*.py"):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                names: list[str] = []
                if isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                    names = [node.module]
                for name in names:
                    top = name.split(".")[0]
                    if top in ALLOWED and top not in allowed:
                        problems.append(f"{path.relative_to(ROOT)} imports {name}")
    assert not problems, problems
