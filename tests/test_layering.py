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


PRODUCT = ("core", "tuning", "rag", "studies", "advisor", "ui")


def import_graph() -> dict[str, set[str]]:
    """Module -> product modules it imports (top-level and late imports alike: a late import hides a
    cycle, it does not remove the missing seam)."""
    modules: dict[str, Path] = {}
    for top in PRODUCT:
        for path in (ROOT / top).rglob("*.py"):
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            modules[name.removesuffix(".__init__")] = path

    def resolve(name: str) -> str | None:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in modules else node.module for a in node.names]
            for target in targets:
                found = resolve(target)
                # importing one's own parent package (its __init__) is how a subpackage is reached, not a cycle
                if found and found != name and not name.startswith(found + "."):
                    graph[name].add(found)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_cycle_finder_finds_a_cycle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle_anywhere_in_the_product():
    graph = import_graph()
    assert "studies.sweeps.worker" in graph and "studies.data.pair" in graph, "the graph must see the subpackages"
    assert cycles(graph) == []


def test_studies_shows_its_five_concepts():
    subpackages = {p.name for p in (ROOT / "studies").iterdir() if (p / "__init__.py").exists()}
    assert subpackages == {"data", "evaluation", "sweeps", "results", "governance"}
    assert [p.name for p in (ROOT / "studies").glob("*.py")] == ["__init__.py"], "modules belong in a concept's subpackage"
