"""Entry point of the ``colorize`` plugin group: registers the shipped Larsson methods."""

from __future__ import annotations

from colorize_larsson.colorizer import COLORIZERS
from core.hookspecs import hookimpl


@hookimpl
def register_methods(register):
    """Register every variant whose ONNX graph is installed (see MODEL_CARD.md)."""
    for cls in COLORIZERS:
        if cls.shipped():
            register(cls())
