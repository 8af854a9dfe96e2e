"""Entry point of the ``colorize`` plugin group: registers the ``semantic`` method."""

from __future__ import annotations

from colorize_semantic.colorizer import SemanticColorizer
from core.extensions import Benchmark
from core.hookspecs import hookimpl


@hookimpl
def register_methods(register):
    """Register ``semantic`` when its ``full`` graphs are installed (see MODEL_CARD.md)."""
    if SemanticColorizer.shipped():
        register(SemanticColorizer())


@hookimpl
def register_benchmarks(register):
    register(Benchmark("semantic", "colorize_semantic.bench:benchmark"))
