"""Packaging of the core and the plugin distributions, from their metadata (nothing is
installed or built here; ``make dist-check`` installs the wheels).

The distributions must install in any order: every first-party name a pyproject mentions is
a folder of this repository, each wheel holds the data files its code reads, and each
distribution declares what it imports.
"""

from __future__ import annotations

import ast
import glob
import graphlib
import importlib.util
import re
import sys
from importlib import resources
from importlib.metadata import PackageNotFoundError, distribution, packages_distributions
from pathlib import Path

import pytest
import tomllib
from packaging.requirements import Requirement

from core.plugins import FIRST_PARTY

ROOT = Path(__file__).resolve().parent.parent
PYPROJECTS = sorted(ROOT.glob("plugins/*/pyproject.toml"))
#: The `colorize new-plugin` template rendered: an example to read, not part of [all].
EXAMPLE = "colorize-plugin-example"
#: First-party import packages (the root distribution's and the plugins').
OWN_MODULES = {"core", "training", "onnx_export"}
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg"}


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def project(path: Path) -> dict:
    return tomllib.loads(path.read_text(encoding="utf-8"))


PLUGINS = {canonical(project(p)["project"]["name"]): p.parent for p in PYPROJECTS}


def requirements(proj: dict) -> dict[str, list[Requirement]]:
    """{"": dependencies, extra: its requirements} of a pyproject's [project] table."""
    reqs = {"": [Requirement(r) for r in proj.get("dependencies", [])]}
    for extra, items in proj.get("optional-dependencies", {}).items():
        reqs[extra] = [Requirement(r) for r in items]
    return reqs


def top_package(folder: Path) -> str:
    """The import package of a plugin folder (colorize-NAME -> colorize_NAME)."""
    return folder.name.replace("-", "_")


def test_every_first_party_plugin_has_its_folder_under_plugins():
    for name in sorted(FIRST_PARTY - {"colorize-toolkit"}):
        path = ROOT / "plugins" / name / "pyproject.toml"
        assert path.is_file(), f"{name} is in core.plugins.FIRST_PARTY but {path} is missing"
        assert canonical(project(path)["project"]["name"]) == name, path
    assert set(PLUGINS) == FIRST_PARTY - {"colorize-toolkit"}


@pytest.mark.parametrize("name", sorted(PLUGINS))
def test_first_party_requirements_name_folders_of_this_repository(name):
    proj = project(PLUGINS[name] / "pyproject.toml")["project"]
    reqs = requirements(proj)
    assert "colorize-toolkit" in {canonical(r.name) for r in reqs[""]}, (
        f"{name} must depend on colorize-toolkit"
    )
    for extra, items in reqs.items():
        for req in items:
            own = canonical(req.name)
            if own.startswith("colorize-") or own in FIRST_PARTY:
                assert own in FIRST_PARTY and (own in PLUGINS or own == "colorize-toolkit"), (
                    f"{name} [{extra or 'dependencies'}] needs {req.name}, which is no "
                    "distribution of this repository: nothing could install it from a checkout"
                )


def test_first_party_dependencies_have_no_cycle():
    graph = {}
    for name, folder in PLUGINS.items():
        deps = requirements(project(folder / "pyproject.toml")["project"])[""]
        graph[name] = {canonical(r.name) for r in deps} & set(PLUGINS)
    graphlib.TopologicalSorter(graph).prepare()  # raises CycleError


def test_root_extras_list_the_plugins():
    extras = requirements(project(ROOT / "pyproject.toml")["project"])
    listed = {canonical(r.name) for r in extras["all"]}
    expected = set(PLUGINS) - {EXAMPLE}
    assert listed == expected, (
        "the [all] extra lists every plugin under plugins/ except the example: "
        f"missing {sorted(expected - listed)}, unknown {sorted(listed - expected)}"
    )
    for extra, items in extras.items():
        for req in items:
            if canonical(req.name).startswith("colorize-"):
                assert canonical(req.name) in PLUGINS, f"[{extra}] names {req.name}"


@pytest.mark.parametrize("name", sorted(PLUGINS))
def test_pyproject_fields(name):
    proj = project(PLUGINS[name] / "pyproject.toml")["project"]
    assert (PLUGINS[name] / proj["readme"]).is_file(), f"{name}: readme {proj['readme']} missing"
    assert proj.get("license"), f"{name}: no license"
    assert proj["requires-python"] == project(ROOT / "pyproject.toml")["project"]["requires-python"]


def shipped_files(folder: Path, top: str, package_data: dict[str, list[str]]) -> set[str]:
    """Files under ``folder/top`` that setuptools puts in the wheel: the modules, and the
    package data its globs match (setuptools' own rule: per package, relative to it, ``**``
    for any depth)."""
    files = set()
    for init in (folder / top).rglob("__init__.py"):
        pkg = init.parent
        dotted = pkg.relative_to(folder).as_posix().replace("/", ".")
        files |= {p.relative_to(folder).as_posix() for p in pkg.glob("*.py")}
        for pattern in package_data.get("*", []) + package_data.get(dotted, []):
            for match in glob.glob(pattern, root_dir=pkg, recursive=True):
                if (pkg / match).is_file():
                    files.add((pkg / match).relative_to(folder).as_posix())
    return files


def data_files(folder: Path, top: str) -> set[str]:
    """Non-Python files of package ``top`` that its code may read (the figures next to a
    model card are shown by the documentation site only; .c sources are compiled)."""
    files = set()
    for path in (folder / top).rglob("*"):
        if not path.is_file() or "__pycache__" in path.parts:
            continue
        if path.suffix in {".py", ".pyc", ".so", ".c"}:
            continue
        if path.suffix in IMAGE_SUFFIXES and (path.parent / "MODEL_CARD.md").exists():
            continue
        files.add(path.relative_to(folder).as_posix())
    return files


PACKAGES = [(name, folder, top_package(folder)) for name, folder in sorted(PLUGINS.items())]
PACKAGES += [("colorize-toolkit", ROOT, top) for top in sorted(OWN_MODULES)]


@pytest.mark.parametrize(("name", "folder", "top"), PACKAGES, ids=[p[2] for p in PACKAGES])
def test_package_data_globs_ship_every_data_file(name, folder, top):
    package_data = project(folder / "pyproject.toml")["tool"]["setuptools"].get("package-data", {})
    missing = data_files(folder, top) - shipped_files(folder, top, package_data)
    assert not missing, (
        f"{name}: [tool.setuptools.package-data] in {folder.name}/pyproject.toml matches "
        f"none of {sorted(missing)}, so the wheel would lack them"
    )


def installed(dist: str) -> bool:
    try:
        distribution(dist)
    except PackageNotFoundError:
        return False
    return True


@pytest.mark.parametrize(("name", "folder", "top"), PACKAGES, ids=[p[2] for p in PACKAGES])
def test_installed_package_data_is_found_through_importlib_resources(name, folder, top):
    if not installed(name):
        pytest.skip(f"{name} is not installed")
    root = resources.files(top)
    for rel in sorted(data_files(folder, top)):
        inner = rel.split("/", 1)[1]
        assert root.joinpath(inner).is_file(), f"{top}: {inner} not found as package data"


@pytest.mark.parametrize(
    ("dist", "top", "data"),
    [
        ("colorize-toolkit", "core", ["data/detroit_ca1915.jpg", "py.typed"]),
        ("colorize-ui", "colorize_ui", ["static/index.html", "static/app.js", "static/style.css"]),
        ("colorize-devkit", "colorize_devkit", ["plugin_template/pyproject.toml.tmpl"]),
    ],
)
def test_the_application_data_is_where_its_code_reads_it(dist, top, data):
    if not installed(dist):
        pytest.skip(f"{dist} is not installed")
    for rel in data:
        assert resources.files(top).joinpath(rel).is_file(), f"{dist}: {top}/{rel} missing"


def imported_modules(folder: Path, top: str) -> dict[str, str]:
    """{top-level module: a file importing it} over every module of package ``top``."""
    found: dict[str, str] = {}
    for path in sorted((folder / top).rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for module in names:
                found.setdefault(module.split(".")[0], path.relative_to(folder).as_posix())
    return found


@pytest.mark.parametrize("name", sorted(PLUGINS))
def test_a_plugin_declares_what_it_imports(name):
    """Every third-party module a plugin imports is a dependency or in one of its extras
    (not only a dependency of colorize-toolkit's that it happens to bring)."""
    folder = PLUGINS[name]
    declared = {
        canonical(r.name)
        for reqs in requirements(project(folder / "pyproject.toml")["project"]).values()
        for r in reqs
    }
    owners = packages_distributions()
    undeclared = []
    for module, where in sorted(imported_modules(folder, top_package(folder)).items()):
        if module in sys.stdlib_module_names or module in OWN_MODULES:
            continue
        if module.startswith("colorize_"):
            own = canonical(module)
            if own in PLUGINS and own != name:
                undeclared += [] if own in declared else [f"{module} ({where}): {own}"]
            continue
        dists = {canonical(d) for d in owners.get(module, [])}
        if not dists and importlib.util.find_spec(module) is None:
            dists = {canonical(module)}  # not installed here: its name must be declared
        if not dists & declared:
            undeclared.append(f"{module} ({where}): {' or '.join(sorted(dists))}")
    assert not undeclared, f"{name} imports undeclared distributions: {undeclared}"
