"""``colorize new-plugin NAME``: scaffold a new plugin distribution.

The template (``core/plugin_template/``) is a complete, working plugin — the
reference-based method of Welsh et al. 2002 — so that a new plugin starts green:
installable, discovered through its entry point, and passing the toolkit's
contract tests. ``plugins/colorize-plugin-example`` in this repository is the
template rendered with ``NAME = plugin-example`` and ``--method welsh``
(a test keeps the two identical).
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

__all__ = ["TEMPLATE_DIR", "configure_parser", "render", "render_files", "run"]

TEMPLATE_DIR = Path(__file__).resolve().parent / "plugin_template"
_NAME = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")


def _names(name: str, method: str | None) -> dict[str, str]:
    if not _NAME.match(name):
        raise ValueError(
            f"plugin name {name!r} must be lowercase letters and digits separated by single "
            "hyphens, starting with a letter (e.g. 'my-method')"
        )
    method = method or name
    if not _NAME.match(method):
        raise ValueError(f"method name {method!r} must look like 'my-method'")
    return {
        "dist": f"colorize-{name}",
        "pkg": f"colorize_{name.replace('-', '_')}",
        "entry": name.replace("-", "_"),
        "method": method,
    }


def render_files(name: str, method: str | None = None) -> dict[str, str]:
    """The scaffold as {relative path: text} for plugin ``name`` and ``method``."""
    names = _names(name, method)
    files = {}
    for template in sorted(TEMPLATE_DIR.rglob("*.tmpl")):
        rel = template.relative_to(TEMPLATE_DIR).as_posix()[: -len(".tmpl")]
        rel = rel.replace("PKG", names["pkg"])
        text = template.read_text(encoding="utf-8")
        for key, value in names.items():
            text = text.replace("{{" + key + "}}", value)
        files[rel] = text
    return files


def render(name: str, dest: str | Path, method: str | None = None) -> Path:
    """Write the scaffold for ``name`` into ``dest/colorize-NAME``; returns that folder.

    Raises
    ------
    FileExistsError
        If the target folder exists (nothing is overwritten).
    """
    files = render_files(name, method)
    root = Path(dest) / f"colorize-{name}"
    if root.exists():
        raise FileExistsError(f"{root} already exists; choose another name or folder")
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``colorize new-plugin``."""
    parser.add_argument("name", help="plugin name, e.g. 'my-method' -> colorize-my-method")
    parser.add_argument("--method", default=None, help="method name (default: NAME)")
    parser.add_argument("--dir", default="plugins", help="parent folder (default: plugins)")


def run(args: argparse.Namespace) -> int:
    """Run ``colorize new-plugin``."""
    try:
        root = render(args.name, args.dir, args.method)
    except (ValueError, FileExistsError) as exc:
        print(f"colorize new-plugin: {exc}", file=sys.stderr)
        return 2
    print(f"created {root}")
    print(f"next: pip install -e {root} && pytest {root}")
    return 0
