"""Entry point of the ``colorize`` plugin group: what colorize-eval adds to the toolkit.

Targets are imported only when used, so registering costs no import of the
application's own dependencies.
"""

from __future__ import annotations

from core.extensions import Command
from core.hookspecs import hookimpl


@hookimpl
def register_commands(register):
    register(
        Command(
            "eval",
            "colorize_eval.evaluate",
            help="score methods on a folder of colour photos, with baselines",
        )
    )
    register(
        Command(
            "explain",
            "colorize_eval.explain",
            help="figure of a method's prediction: uncertainty and histograms",
        )
    )
