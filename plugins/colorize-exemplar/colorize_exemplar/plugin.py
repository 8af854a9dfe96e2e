"""Entry point of the ``colorize`` plugin group: the ``exemplar`` method and its matchers."""

from __future__ import annotations

from colorize_exemplar import MODELS_DIR
from colorize_exemplar.colorizer import ExemplarColorizer
from colorize_exemplar.matching import MATCHERS
from core.extensions import Command
from core.hookspecs import hookimpl


@hookimpl
def register_methods(register):
    """Register ``exemplar`` when its colorization sub-net is installed (see MODEL_CARD.md).

    The matching features come from the shared gray backbone of ``colorize-backbone``
    (a dependency of this distribution), looked up when the method first runs.
    """
    if (MODELS_DIR / "exemplar-colornet.onnx").is_file():
        register(ExemplarColorizer())


@hookimpl
def register_transfers(register):
    """Register the dense-correspondence matchers (``operates_on="features"``).

    ``exemplar-nn`` and ``exemplar-nn-coarse-to-fine`` (:mod:`colorize_exemplar.matching`);
    the ``exemplar`` method picks one with its ``matcher=`` option.
    """
    for matcher in MATCHERS:
        register(matcher)


@hookimpl
def register_commands(register):
    register(
        Command(
            "index",
            "colorize_exemplar.commands:index_command",
            help="build or update a reference index of colour photos (exemplar)",
        )
    )
    register(
        Command(
            "recommend",
            "colorize_exemplar.commands:recommend_command",
            help="rank the references of an index for a gray photo (exemplar)",
        )
    )
