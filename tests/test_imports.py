"""The core's import graph: every module imports alone, no cycles, no heavy dependencies.

Applications (video, the page, Ray, evaluation ...) are plugins with their own
dependencies; ``import core`` and the core distribution must not need any of them.
"""

from __future__ import annotations

import ast
import importlib.machinery
import importlib.metadata
import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CORE = ROOT / "core"
#: Dependencies of applications (plugins), never of the core.
APPLICATION_DEPENDENCIES = ("av", "starlette", "uvicorn", "ray", "torch")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {_module_name(p): p for p in sorted(CORE.rglob("*.py"))}


def _is_extension(package: str, name: str) -> bool:
    """``package.name`` is a compiled module (``core._kernels``) or its C source."""
    folder = ROOT.joinpath(*package.split("."))
    suffixes = (".c", *importlib.machinery.EXTENSION_SUFFIXES)
    return any((folder / f"{name}{suffix}").exists() for suffix in suffixes)


def _core_imports(module: str, path: Path) -> dict[str, int]:
    """The core modules ``module`` imports anywhere in its file (top level, in functions,
    in ``try`` blocks), each with the line of its first import."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: dict[str, int] = {}

    def add(target: str, line: int) -> None:
        while target and target not in MODULES:  # core.x.attr -> core.x
            target = target.rpartition(".")[0]
        if target and target != module:
            found.setdefault(target, line)

    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "core":
                    add(alias.name, node.lineno)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolve against the package
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            if base.split(".")[0] != "core":
                continue
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                if submodule in MODULES:
                    add(submodule, node.lineno)
                elif not _is_extension(base, alias.name):
                    add(base, node.lineno)
    return found


def _find_cycle(graph: dict[str, dict[str, int]]) -> list[str] | None:
    """One cycle of ``graph`` as a list of modules (first == last), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for succ in sorted(graph.get(node, {})):
            if state.get(succ) == 1:
                return path[path.index(succ) :] + [succ]
            if succ not in state:
                cycle = visit(succ)
                if cycle:
                    return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            cycle = visit(node)
            if cycle:
                return cycle
    return None


def test_the_core_module_graph_has_no_cycles():
    graph = {module: _core_imports(module, path) for module, path in MODULES.items()}
    assert graph["core.api"], "the import parser found no core import in core.api"
    cycle = _find_cycle(graph)
    if cycle:
        steps = [
            f"{a} ({MODULES[a].relative_to(ROOT)}:{graph[a][b]}) imports {b}"
            for a, b in zip(cycle, cycle[1:], strict=False)
        ]
        pytest.fail("import cycle in core:\n  " + "\n  ".join(steps))


def test_the_cycle_finder_finds_a_cycle():
    graph = {"a": {"b": 1}, "b": {"c": 2}, "c": {"a": 3, "d": 4}, "d": {}}
    assert _find_cycle(graph) == ["a", "b", "c", "a"]
    assert _find_cycle({"a": {"b": 1}, "b": {}}) is None


def _import_alone(module: str) -> tuple[str, int, str]:
    proc = subprocess.run(
        [sys.executable, "-c", f"import {module}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return module, proc.returncode, proc.stderr


def test_every_core_module_imports_alone_in_a_fresh_interpreter():
    # core.__main__ runs the command line when imported (python -m core); it is covered by
    # the CLI tests.
    modules = [m for m in MODULES if m != "core.__main__"]
    with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 2)) as pool:
        results = list(pool.map(_import_alone, modules))
    failed = [f"{m}: {err.strip() or f'exit status {rc}'}" for m, rc, err in results if rc]
    assert not failed, "modules that fail to import alone:\n" + "\n".join(failed)


def test_import_core_imports_no_application_dependency():
    heavy = (*APPLICATION_DEPENDENCIES, "matplotlib")
    code = f"import core, sys; print(' '.join(m for m in {heavy!r} if m in sys.modules))"
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == [], f"`import core` imported {proc.stdout.strip()}"


def _name(requirement: str) -> str:
    return re.sub(r"[-_.]+", "-", re.match(r"\s*([A-Za-z0-9._-]+)", requirement)[1]).lower()


def test_the_core_distribution_requires_no_application_dependency():
    import tomllib

    installed = importlib.metadata.requires("colorize-toolkit") or []
    required = [r for r in installed if "extra ==" not in r.partition(";")[2]]
    assert required, "colorize-toolkit declares no requirement at all"
    with open(ROOT / "pyproject.toml", "rb") as handle:
        declared = tomllib.load(handle)["project"]["dependencies"]
    for source, requirements in (("installed", required), ("pyproject.toml", declared)):
        names = {_name(r) for r in requirements}
        assert not names & set(APPLICATION_DEPENDENCIES), (source, sorted(names))


def test_the_core_stays_small():
    """Issue 31: the core (public API, registry, colour science, decoders, transfer, hints,
    I/O, runtime, metrics, the batch engine and three sub-commands) is under 9,000 lines of
    Python, counted as ``wc -l`` counts them; applications belong in plugins."""
    lines = sum(len(p.read_text().splitlines()) for p in CORE.rglob("*.py"))
    assert 1000 < lines < 9000, f"core/ has {lines} lines of Python"
