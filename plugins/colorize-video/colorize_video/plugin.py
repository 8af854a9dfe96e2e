"""Entry point of the ``colorize`` plugin group: what colorize-video adds to the toolkit.

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
            "video",
            "colorize_video.video",
            help="colorize a video file with temporal consistency (keeps fps, audio)",
        )
    )
