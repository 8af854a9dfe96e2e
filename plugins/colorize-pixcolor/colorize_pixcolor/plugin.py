"""Entry point of the ``colorize`` plugin group: registers the ``pixcolor`` method."""

from __future__ import annotations

from colorize_pixcolor.colorizer import PixColor
from core.hookspecs import hookimpl


@hookimpl
def register_methods(register):
    """Register ``pixcolor`` when its graphs are installed (see MODEL_CARD.md)."""
    if PixColor.shipped():
        register(PixColor())
