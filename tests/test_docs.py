"""The documentation mentions every public name."""

from pathlib import Path

import core

DOCS = Path(__file__).resolve().parent.parent / "docs"


def test_every_public_function_is_in_the_api_reference():
    text = (DOCS / "api.md").read_text()
    missing = [
        name for name in core.__all__ if f"`core.{name}" not in text and f"`{name}" not in text
    ]
    assert not missing, f"docs/api.md does not document: {missing}"


def test_every_cli_command_is_in_the_cli_reference():
    from core.cli import build_parser

    text = (DOCS / "cli.md").read_text()
    parser = build_parser()
    commands = parser._subparsers._group_actions[0].choices  # argparse has no public accessor
    missing = [c for c in commands if f"`colorize {c}" not in text]
    assert not missing, f"docs/cli.md does not document: {missing}"
