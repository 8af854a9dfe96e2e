"""Entry point of the ``colorize`` plugin group: registers the shipped Larsson methods."""

from __future__ import annotations

from colorize_larsson.colorizer import COLORIZERS
from core.extensions import Benchmark, Explainer, TrainingRecipe
from core.hookspecs import hookimpl


@hookimpl
def register_methods(register):
    """Register every variant whose ONNX graph is installed (see MODEL_CARD.md)."""
    for cls in COLORIZERS:
        if cls.shipped():
            register(cls())


@hookimpl
def register_training_recipes(register):
    register(TrainingRecipe("larsson", "colorize_larsson.train:huechroma"))
    register(TrainingRecipe("larsson-lab", "colorize_larsson.train:lab_marginal"))
    register(TrainingRecipe("larsson-lab-joint", "colorize_larsson.train:lab_joint"))
    register(TrainingRecipe("larsson-lab-l2", "colorize_larsson.train:lab_l2"))


@hookimpl
def register_explainers(register):
    register(Explainer("larsson", "colorize_larsson.explain:explain"))
    register(Explainer("larsson-lab", "colorize_larsson.explain:explain"))
    register(Explainer("larsson-lab-joint", "colorize_larsson.explain:explain"))


@hookimpl
def register_benchmarks(register):
    register(Benchmark("larsson", "colorize_larsson.bench:benchmark"))
