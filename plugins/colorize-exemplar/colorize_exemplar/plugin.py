"""Entry point of the ``colorize`` plugin group: the ``exemplar`` method and its matchers."""

from __future__ import annotations

from colorize_exemplar import MODELS_DIR
from colorize_exemplar.colorizer import ExemplarColorizer
from colorize_exemplar.matching import MATCHERS
from core.hookspecs import hookimpl


@hookimpl
def register_methods(register):
    """Register ``exemplar`` when both ONNX graphs are installed (see MODEL_CARD.md)."""
    if all((MODELS_DIR / f"exemplar-{part}.onnx").is_file() for part in ("features", "colornet")):
        register(ExemplarColorizer())


@hookimpl
def register_transfers(register):
    """Register the dense-correspondence matchers (``operates_on="features"``).

    ``exemplar-nn`` and ``exemplar-nn-coarse-to-fine`` (:mod:`colorize_exemplar.matching`);
    the ``exemplar`` method picks one with its ``matcher=`` option.
    """
    for matcher in MATCHERS:
        register(matcher)
