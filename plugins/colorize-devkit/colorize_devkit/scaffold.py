"""``colorize new-plugin NAME``: scaffold a new plugin distribution.

The template (``plugin_template/`` next to this module) is a minimal method that works
from the start: it installs, is discovered through its ``colorize`` entry point and
passes the toolkit's contract tests (:mod:`colorize_devkit.testing`). Its ``predict`` is
a rule without a model (a tint that follows the lightness), to be replaced by the
method; its description and authors come from the command's arguments, and its
MODEL_CARD.md shows how to ship an ONNX graph with its ``manifest.json``.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

__all__ = ["TEMPLATE_DIR", "configure_parser", "render", "render_files", "run"]

TEMPLATE_DIR = Path(__file__).resolve().parent / "plugin_template"
_NAME = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")


def _one_line(label: str, text: str) -> str:
    text = " ".join(text.split())
    if not text:
        raise ValueError(f"{label} must not be empty")
    return text


def _names(
    name: str, method: str | None, description: str | None, author: str | None
) -> dict[str, str]:
    if not _NAME.match(name):
        raise ValueError(
            f"plugin name {name!r} must be lowercase letters and digits separated by single "
            "hyphens, starting with a letter (e.g. 'my-method')"
        )
    method = method or name
    if not _NAME.match(method):
        raise ValueError(f"method name {method!r} must look like 'my-method'")
    dist = f"colorize-{name}"
    description = _one_line(
        "--description",
        description or f"The '{method}' colorization method, a plugin for Colorize Toolkit.",
    )
    citation = f"{dist} (unpublished)."
    if author is not None:
        author = _one_line("--author", author)
        citation = f"{author}. {citation}"
    author = author or f"the {dist} authors"
    # Literals are JSON strings: valid as Python and as TOML basic strings.
    return {
        "dist": dist,
        "pkg": f"colorize_{name.replace('-', '_')}",
        "entry": name.replace("-", "_"),
        "method": method,
        "description": description,
        "description_literal": json.dumps(description, ensure_ascii=False),
        "author": author,
        "author_literal": json.dumps(author, ensure_ascii=False),
        "citation_literal": json.dumps(citation, ensure_ascii=False),
    }


def render_files(
    name: str,
    method: str | None = None,
    *,
    description: str | None = None,
    author: str | None = None,
) -> dict[str, str]:
    """The scaffold as {relative path: text} for plugin ``name`` and ``method``.

    ``description`` (one line) becomes the method's and the distribution's description,
    ``author`` the distribution's author; the method's citation is
    ``"AUTHOR. colorize-NAME (unpublished)."`` until the method follows a paper.

    Raises
    ------
    ValueError
        A name that is not lowercase words joined by hyphens, or an empty description or
        author.
    """
    names = _names(name, method, description, author)
    files = {}
    for template in sorted(TEMPLATE_DIR.rglob("*.tmpl")):
        rel = template.relative_to(TEMPLATE_DIR).as_posix()[: -len(".tmpl")]
        rel = rel.replace("PKG", names["pkg"])
        text = template.read_text(encoding="utf-8")
        for key, value in names.items():
            text = text.replace("{{" + key + "}}", value)
        files[rel] = text
    return files


def render(
    name: str,
    dest: str | Path,
    method: str | None = None,
    *,
    description: str | None = None,
    author: str | None = None,
) -> Path:
    """Write the scaffold for ``name`` into ``dest/colorize-NAME``; returns that folder.

    Raises
    ------
    FileExistsError
        If the target folder exists (nothing is overwritten).
    ValueError
        As :func:`render_files`.
    """
    files = render_files(name, method, description=description, author=author)
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
    parser.add_argument(
        "--description",
        default=None,
        metavar="TEXT",
        help="one line on what the method does (colorize methods shows it)",
    )
    parser.add_argument(
        "--author",
        default=None,
        metavar="NAME",
        help="author(s) of the plugin; also the method's citation until it follows a paper",
    )
    parser.add_argument("--dir", default="plugins", help="parent folder (default: plugins)")


def run(args: argparse.Namespace) -> int:
    """Run ``colorize new-plugin``."""
    try:
        root = render(
            args.name, args.dir, args.method, description=args.description, author=args.author
        )
    except (ValueError, FileExistsError) as exc:
        print(f"colorize new-plugin: {exc}", file=sys.stderr)
        return 2
    print(f"created {root}")
    print(f"next: pip install -e {root} && pytest {root}")
    return 0
