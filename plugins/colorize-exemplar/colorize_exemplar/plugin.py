"""Entry point of the ``colorize`` plugin group: registers the ``exemplar`` method."""

from __future__ import annotations

from colorize_exemplar import MODELS_DIR
from colorize_exemplar.colorizer import ExemplarColorizer
from core.hookspecs import hookimpl


@hookimpl
def register_methods(register):
    """Register ``exemplar`` when both ONNX graphs are installed (see MODEL_CARD.md)."""
    if all((MODELS_DIR / f"exemplar-{part}.onnx").is_file() for part in ("features", "colornet")):
        register(ExemplarColorizer())
