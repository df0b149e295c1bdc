"""The package's shape, checked from its source: imports run one way (no cycles), the engine depends on
nothing else of the project nor on the CLI's libraries, and only ``rnncli/cli/`` writes to the terminal."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "rnncli"


def modules() -> dict[str, Path]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def imports(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The project modules that ``name`` imports anywhere in its body (function-level imports too: a
    lazy import is still a dependency). A module's own ancestor packages do not count: Python has
    already started them when it runs the module."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names]
        else:
            continue
        ancestors = {".".join(name.split(".")[:i]) for i in range(1, name.count(".") + 1)}
        found |= {t for t in targets if t in known and t != name and t not in ancestors}
    return found


def test_no_import_cycles():
    known = modules()
    graph = {name: imports(name, path, known) for name, path in known.items()}
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:  # nxt is on the path that led here
                raise AssertionError("import cycle: " + " → ".join(path[path.index(nxt):] + [node, nxt]))
            if nxt not in state:
                visit(nxt, path + [node])
        state[node] = 2

    for name in graph:
        if name not in state:
            visit(name, [])


def test_the_engine_imports_nothing_of_the_project_nor_the_cli_libraries():
    known = modules()
    for name, path in known.items():
        if not name.startswith("rnncli.engine"):
            continue
        outside = {m for m in imports(name, path, known) if not m.startswith("rnncli.engine")}
        assert not outside, f"{name} imports {sorted(outside)}"
        text = path.read_text(encoding="utf-8")
        for library in ("typer", "rich", "yaml"):
            assert f"import {library}" not in text and f"from {library}" not in text, f"{name} imports {library}"


def test_only_the_cli_writes_to_the_terminal():
    for name, path in modules().items():
        if name.startswith("rnncli.cli"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                assert node.func.id != "print", f"{name} calls print() (line {node.lineno})"
            if isinstance(node, ast.Attribute) and node.attr in ("stdout", "stderr"):
                assert not (isinstance(node.value, ast.Name) and node.value.id == "sys"), \
                    f"{name} uses sys.{node.attr} (line {node.lineno})"


# Lower tiers never import higher ones: cli → config / training / evaluation / tools → tasks → models → engine,
# with data/ and the shared foundations (errors, file writes) below the models. The config sits above the
# tasks because each task says which keys apply to it.
TIERS = {
    "rnncli.engine": 0,
    "rnncli.errors": 1, "rnncli.fileio": 1, "rnncli.data": 1,
    "rnncli.models": 2,
    "rnncli.tasks": 3,
    "rnncli.config": 4, "rnncli.rundir": 4, "rnncli.training": 4, "rnncli.evaluation": 4, "rnncli.tools": 4,
    "rnncli.cli": 5, "rnncli.api": 5, "rnncli.__main__": 5, "rnncli": 5,
}


def tier(name: str) -> int:
    while name not in TIERS:
        name = name.rpartition(".")[0]
    return TIERS[name]


def test_imports_run_from_the_cli_down_to_the_engine():
    known = modules()
    upward = [f"{name} (tier {tier(name)}) imports {target} (tier {tier(target)})"
              for name, path in known.items() for target in sorted(imports(name, path, known))
              if tier(target) > tier(name) and target != "rnncli"]
    assert not upward, "\n".join(upward)
