"""Entry point of the ``colorize`` plugin group: registers the shipped CNN methods."""

from __future__ import annotations

from colorize_cnn.colorizer import COLORIZERS
from core.extensions import Benchmark, TrainingRecipe
from core.hookspecs import hookimpl


@hookimpl
def register_methods(register):
    """Register every variant whose ONNX graph is installed (see MODEL_CARD.md)."""
    for cls in COLORIZERS:
        if cls.shipped():
            register(cls())


@hookimpl
def register_training_recipes(register):
    register(TrainingRecipe("cnn-classification", "colorize_cnn.train:classification"))
    register(TrainingRecipe("cnn-regression", "colorize_cnn.train:regression"))
    register(TrainingRecipe("cnn-smoothl1", "colorize_cnn.train:smoothl1"))


@hookimpl
def register_benchmarks(register):
    register(Benchmark("cnn", "colorize_cnn.bench:benchmark"))
