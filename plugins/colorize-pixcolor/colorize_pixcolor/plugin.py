"""Entry point of the ``colorize`` plugin group: registers the ``pixcolor`` method."""

from __future__ import annotations

from colorize_pixcolor.colorizer import PixColor
from core.extensions import Benchmark, TrainingRecipe
from core.hookspecs import hookimpl


@hookimpl
def register_methods(register):
    """Register ``pixcolor`` when its graphs are installed (see MODEL_CARD.md)."""
    if PixColor.shipped():
        register(PixColor())


@hookimpl
def register_training_recipes(register):
    register(TrainingRecipe("pixcolor-pixelcnn", "colorize_pixcolor.train:pixelcnn"))
    register(TrainingRecipe("pixcolor-refine", "colorize_pixcolor.train:refine"))


@hookimpl
def register_benchmarks(register):
    register(Benchmark("pixcolor", "colorize_pixcolor.bench:benchmark"))
