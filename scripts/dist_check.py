"""``make dist-check``: the built wheels install in any order into a fresh venv and work there.

Run with the development venv's Python once the wheels of the core and of every plugin are
in ``--dist`` (the Makefile builds them)::

    python scripts/dist_check.py --dist build/dist --venv build/wheel-venv [--seed N]

1. Every wheel holds every file of its packages in the checkout (Python modules, package
   data: the demo photo, the page's static files, the plugin template, models), except the
   figures next to a MODEL_CARD.md, which only the documentation site shows.
2. A fresh venv (no torch, nothing from the checkout) gets the third-party requirements of
   all the wheels in one ``pip install`` from the package index as configured (PyPI or a
   mirror). The first-party distributions are on no index, so the index is never asked
   for them: with ``--find-links`` plus the index, pip would take a same-named project of
   somebody else from the index if its version were higher.
3. Each wheel then gets its own ``pip install --no-index --find-links DIST NAME``, dependants
   before their dependencies (``--seed N``: a shuffled order), so each one resolves the
   first-party distributions it needs from the folder alone.
4. ``pip check``, and from a temporary folder outside the checkout: ``colorize --help``;
   ``colorize COMMAND --help`` for every sub-command it lists; ``colorize demo``;
   ``colorize new-plugin`` (the template is package data); ``colorize train`` / ``export``
   fail without torch with exit code 2 and the install line, not a traceback; and
   ``import core`` imports none of av, starlette, uvicorn, ray, torch, onnx.
5. This script again inside the venv (``--inside``): the core and every plugin import from
   site-packages, load through their entry points, every model file matches its manifest,
   and every automatic method colorizes the bundled photo without torch installed.
"""

from __future__ import annotations

import argparse
import email.parser
import graphlib
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parent.parent
#: Sub-commands that need the [train] extra (torch), which the wheel venv leaves out on purpose.
NEEDS_TORCH = {
    "train": ["larsson", "--data", "{tmp}"],
    "export": ["larsson", "--checkpoint", "{tmp}/last.ckpt", "--out", "{tmp}/models"],
}
TRAIN_HINT = "pip install 'colorize-toolkit[train]'"
#: Modules that ``import core`` must not import (they belong to plugins or to [train]).
NOT_IN_CORE = ("av", "starlette", "uvicorn", "ray", "torch", "onnx")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
#: Environment variables that would hide plugins from the checks.
FILTERS = ("COLORIZE_PLUGINS", "COLORIZE_DISABLE_PLUGINS", "PYTHONPATH")


def canonical(name: str) -> str:
    """A distribution name as pip compares it."""
    return re.sub(r"[-_.]+", "-", name).lower()


class Wheel:
    """A built wheel: its distribution name, requirements and files."""

    def __init__(self, path: Path) -> None:
        from packaging.requirements import Requirement

        self.path = path
        with zipfile.ZipFile(path) as zf:
            self.files = {n for n in zf.namelist() if ".dist-info/" not in n}
            meta_name = next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))
            meta = email.parser.Parser().parsestr(zf.read(meta_name).decode("utf-8"))
        self.name = canonical(meta["Name"])
        # Requirements of a plain install: those behind an `extra == ...` marker are left out.
        self.requires = [
            req
            for req in map(Requirement, meta.get_all("Requires-Dist") or [])
            if req.marker is None or req.marker.evaluate({"extra": ""})
        ]

    def source_dir(self) -> Path:
        """The project folder the wheel was built from."""
        return ROOT if self.name == "colorize-toolkit" else ROOT / "plugins" / self.name


def run(cmd: list[str], *, cwd: Path | None = None, env: dict | None = None, check: bool = True):
    """Run ``cmd``, capturing its output; on failure print it and raise."""
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    if check and proc.returncode != 0:
        sys.stderr.write(proc.stdout + proc.stderr)
        raise SystemExit(f"dist-check: failed ({proc.returncode}): {' '.join(cmd)}")
    return proc


def package_files(folder: Path, top: str) -> set[str]:
    """Files of package ``top`` in project ``folder``, relative to it: build products and the
    figures next to a MODEL_CARD.md (the documentation site shows them) left out."""
    files = set()
    for path in (folder / top).rglob("*"):
        if not path.is_file() or "__pycache__" in path.parts or path.suffix in (".pyc", ".so"):
            continue
        if path.suffix in IMAGE_SUFFIXES and (path.parent / "MODEL_CARD.md").exists():
            continue
        files.add(path.relative_to(folder).as_posix())
    return files


def check_wheel_contents(wheels: list[Wheel]) -> None:
    """A wheel holds its packages' files in the checkout, and nothing else (no stale copies
    from an earlier build)."""
    for wheel in wheels:
        tops = {name.split("/")[0] for name in wheel.files if "/" in name}
        source = set().union(*(package_files(wheel.source_dir(), top) for top in tops))
        shipped = {name for name in wheel.files if not name.endswith(".so")}
        if source - shipped:
            raise SystemExit(f"dist-check: {wheel.path.name} lacks {sorted(source - shipped)}")
        if shipped - source:
            raise SystemExit(
                f"dist-check: {wheel.path.name} has files that are not in the checkout "
                f"(a stale build folder?): {sorted(shipped - source)}"
            )
    print(f"wheels: {len(wheels)}, each with exactly the files of its packages")


def install_order(wheels: dict[str, Wheel], seed: int | None) -> list[str]:
    """Dependants before their dependencies, or a shuffled order with ``seed``."""
    names = sorted(wheels)
    if seed is not None:
        random.Random(seed).shuffle(names)
        return names
    graph = {
        name: sorted(
            canonical(r.name) for r in wheels[name].requires if canonical(r.name) in wheels
        )
        for name in names
    }
    return list(reversed(list(graphlib.TopologicalSorter(graph).static_order())))


def third_party_requirements(wheels: dict[str, Wheel]) -> list[str]:
    """The union of the wheels' requirements on distributions that are not in the folder."""
    reqs = set()
    for wheel in wheels.values():
        for req in wheel.requires:
            if canonical(req.name) not in wheels:
                req = type(req)(str(req))
                req.marker = None
                reqs.add(str(req))
    return sorted(reqs)


def install(venv: Path, dist: Path, wheels: dict[str, Wheel], seed: int | None) -> None:
    python = str(venv / "bin" / "python")
    reqs = third_party_requirements(wheels)
    start = time.perf_counter()
    run([python, "-m", "pip", "install", "-q", *reqs])
    print(
        f"third-party requirements ({len(reqs)}, from the index): "
        f"{time.perf_counter() - start:.0f} s"
    )
    order = install_order(wheels, seed)
    how = f"shuffled, seed {seed}" if seed is not None else "dependants first"
    print(f"installing {len(order)} wheels one at a time without the index ({how}):")
    for name in order:
        start = time.perf_counter()
        proc = run([python, "-m", "pip", "install", "--no-index", "--find-links", str(dist), name])
        done = re.findall(r"^Successfully installed (.*)$", proc.stdout, re.M)
        added = done[0].split() if done else []
        print(
            f"  {name}: installed {', '.join(added) or 'nothing new'} "
            f"({time.perf_counter() - start:.1f} s)"
        )
        if added and not any(canonical(a.rsplit("-", 1)[0]) == name for a in added):
            raise SystemExit(f"dist-check: pip did not install {name} itself: {added}")
    run([python, "-m", "pip", "check"])
    print("pip check: no broken requirements")


def check_commands(venv: Path) -> None:
    """The ``colorize`` command of the wheels, run outside the checkout."""
    env = {k: v for k, v in os.environ.items() if k not in FILTERS}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    colorize = str(venv / "bin" / "colorize")
    python = str(venv / "bin" / "python")
    with tempfile.TemporaryDirectory(prefix="dist-check-") as tmp:
        cwd = Path(tmp)
        text = run([colorize, "--help"], cwd=cwd, env=env).stdout
        section = text.split("positional arguments:", 1)[1].split("\n\n", 1)[0]
        listed = re.findall(r"^ {4}(\S+)", section, re.M)
        registered = run(
            [python, "-c", "from core.cli import commands; print(*commands())"], cwd=cwd, env=env
        ).stdout.split()
        if sorted(listed) != sorted(registered):
            raise SystemExit(f"dist-check: colorize --help lists {listed}, registered {registered}")
        for name in listed:
            proc = run([colorize, name, "--help"], cwd=cwd, env=env, check=False)
            if proc.returncode != 0 or not proc.stdout.startswith(f"usage: colorize {name}"):
                sys.stderr.write(proc.stdout + proc.stderr)
                raise SystemExit(f"dist-check: `colorize {name} --help` exited {proc.returncode}")
        print(f"colorize COMMAND --help: all {len(listed)} sub-commands ({', '.join(listed)})")

        for name, args in NEEDS_TORCH.items():
            args = [a.format(tmp=tmp) for a in args]
            proc = run([colorize, name, *args], cwd=cwd, env=env, check=False)
            err = proc.stderr.strip()
            if proc.returncode != 2 or "Traceback" in err or TRAIN_HINT not in err:
                sys.stderr.write(proc.stdout + proc.stderr)
                raise SystemExit(
                    f"dist-check: `colorize {name}` without torch exited {proc.returncode}; "
                    f"expected 2 and the line `{TRAIN_HINT}`, no traceback"
                )
        print(f"colorize {' / '.join(NEEDS_TORCH)} without torch: exit code 2, {TRAIN_HINT}")

        proc = run([colorize, "demo", "-o", str(cwd / "demo")], cwd=cwd, env=env)
        written = sorted(p.name for p in (cwd / "demo").iterdir())
        if not any(n.endswith(".png") for n in written):
            raise SystemExit(f"dist-check: colorize demo wrote {written}")
        print(f"colorize demo: {proc.stdout.splitlines()[0]}")

        run([colorize, "new-plugin", "probe", "--dir", str(cwd)], cwd=cwd, env=env)
        if not (cwd / "colorize-probe" / "pyproject.toml").is_file():
            raise SystemExit("dist-check: colorize new-plugin wrote no pyproject.toml")
        print("colorize new-plugin: the template renders from the wheel")

        probe = (
            "import sys, json, core; "
            f"print(json.dumps([m for m in {NOT_IN_CORE!r} if m in sys.modules]))"
        )
        leaked = json.loads(run([python, "-c", probe], cwd=cwd, env=env).stdout)
        if leaked:
            raise SystemExit(f"dist-check: `import core` imports {leaked}")
        print(f"import core: none of {', '.join(NOT_IN_CORE)}")

        inside_run = subprocess.run([python, __file__, "--inside"], cwd=cwd, env=env)
        if inside_run.returncode != 0:
            raise SystemExit("dist-check: the checks inside the wheel venv failed")


def inside() -> int:
    """The checks that run inside the wheel venv."""
    from importlib import resources
    from importlib.metadata import distributions

    import core
    from core.plugins import FIRST_PARTY, get_registry
    from core.runtime import verify_model_file

    assert "site-packages" in core.__file__, f"core imported from {core.__file__}"
    photo = resources.files("core") / "data" / "detroit_ca1915.jpg"
    assert photo.is_file(), "core/data/detroit_ca1915.jpg is not package data"
    registry = get_registry()
    assert not registry.failures, f"plugins failed to load: {registry.failures}"
    installed = {canonical(d.metadata["Name"]) for d in distributions()} & FIRST_PARTY
    assert installed == FIRST_PARTY, f"not installed: {sorted(FIRST_PARTY - installed)}"
    plugins = {p["distribution"] for p in registry.plugins()}
    missing = FIRST_PARTY - {canonical(p) for p in plugins}
    assert not missing, f"plugins not found through entry points: {sorted(missing)}"
    for info in core.methods():
        for model in info.model_files:
            assert "site-packages" in model.path, model.path
            verify_model_file(model.path)
        if info.capabilities.automatic:
            out = core.colorize(photo, info.name, seed=0)
            assert out.size == core.colorize(photo, info.name, seed=0).size
            print(
                f"ok: {info.name} ({info.plugin} {info.version}), "
                f"{len(info.model_files)} model file(s)"
            )
    try:
        import torch  # noqa: F401
    except ImportError:
        pass
    else:
        raise AssertionError("torch is installed in the wheel venv; inference must not need it")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dist", type=Path, default=ROOT / "build" / "dist")
    parser.add_argument("--venv", type=Path, default=ROOT / "build" / "wheel-venv")
    parser.add_argument("--python", default=sys.executable, help="interpreter of the new venv")
    parser.add_argument("--seed", type=int, default=None, help="install in a shuffled order")
    parser.add_argument("--inside", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.inside:
        return inside()

    start = time.perf_counter()
    found = [Wheel(p) for p in sorted(args.dist.glob("*.whl"))]
    wheels = {w.name: w for w in found}
    expected = {
        canonical(tomllib.loads(p.read_text(encoding="utf-8"))["project"]["name"])
        for p in (ROOT / "plugins").glob("*/pyproject.toml")
    }
    missing = (expected | {"colorize-toolkit"}) - set(wheels)
    if missing:
        raise SystemExit(f"dist-check: no wheel in {args.dist} for {sorted(missing)}")
    check_wheel_contents(found)
    run([args.python, "-m", "venv", "--clear", str(args.venv)])
    install(args.venv.resolve(), args.dist.resolve(), wheels, args.seed)
    check_commands(args.venv.resolve())
    print(f"dist-check: ok in {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
