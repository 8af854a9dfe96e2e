"""Training recipes: what a method plugin gives the trainer and the exporter.

A plugin registers one recipe per trainable method through the ``register_training_recipes``
hook (:class:`core.extensions.TrainingRecipe`, named after the method), e.g. in its
plugin module::

    @core.hookimpl
    def register_training_recipes(register):
        register(TrainingRecipe("cnn-classification", "colorize_cnn.train:classification"))

The target is imported only here, so ``import core`` stays free of torch.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

import torch

__all__ = ["ExportGraph", "Recipe", "load_recipe", "recipe_names"]


@dataclass
class ExportGraph:
    """One inference graph a method ships.

    Attributes
    ----------
    filename : str
        File name inside the models folder, e.g. ``"cnn-classification.onnx"``.
    module : torch.nn.Module
        The module to export (in eval mode).
    inputs : dict of str to Tensor
        Example inputs by name (also used for the random parity check).
    output_names : list of str
    dynamic_axes : dict of str to dict of int to str
        Per input name, the axes that may vary (``{"lightness": {0: "batch", 2: "height"}}``).
    metadata : dict of str to str
        ``metadata_props`` of the graph (JSON values as strings).
    parity_cases : list of dict of str to Tensor, optional
        Inputs of other sizes for the parity check, for graphs whose inputs' sizes are
        tied to each other (a backbone's levels): used instead of resizing every dynamic
        axis of every input independently.
    """

    filename: str
    module: torch.nn.Module
    inputs: dict[str, torch.Tensor]
    output_names: list[str]
    dynamic_axes: dict[str, dict[int, str]] = field(default_factory=dict)
    metadata: dict[str, str] = field(default_factory=dict)
    parity_cases: list[dict[str, torch.Tensor]] | None = None


class Recipe(ABC):
    """Base class of a method's training recipe.

    Subclasses set :attr:`name` and implement :meth:`build_model`,
    :meth:`loss`, :meth:`predict_chroma` and :meth:`export_graphs`.

    Batches are dictionaries of tensors: ``"lightness"`` (N, 1, H, W) in the
    colour space's lightness units, ``"chroma"`` (N, 2, H, W), ``"rgb"``
    (N, 3, H, W) in [0, 1] and, for labelled data, ``"labels"`` (N, H, W) int64.
    """

    name: str = ""
    colorspace: str = "lab"
    working_size: int = 64
    size_multiple: int = 1
    #: Config defaults this method prefers (merged under the user's config).
    defaults: dict[str, Any] = {}
    #: Method options accepted in the config's ``options`` table.
    option_names: tuple[str, ...] = ()

    @abstractmethod
    def build_model(self, options: dict[str, Any]) -> torch.nn.Module:
        """The torch model for the merged ``options``."""

    @abstractmethod
    def loss(
        self, output: Any, batch: dict[str, torch.Tensor]
    ) -> tuple[torch.Tensor, dict[str, float]]:
        """Training loss (scalar) and extra scalars to log."""

    @abstractmethod
    def predict_chroma(self, output: Any, statistics: dict | None = None) -> torch.Tensor:
        """Point estimate (N, 2, H, W) in colour-space units, for validation metrics."""

    def data_statistics(self, batches: Any) -> dict[str, Any] | None:
        """Statistics of the training data the method ships with its graphs (or None).

        ``batches`` iterates over training batches (dicts as above). The result is
        stored in the checkpoint and handed to :meth:`export_graphs` as
        ``info["statistics"]``.
        """
        return None

    @abstractmethod
    def export_graphs(self, model: torch.nn.Module, info: dict[str, Any]) -> list[ExportGraph]:
        """The inference graphs to export; ``info`` holds the checkpoint's training summary."""

    def check_options(self, options: dict[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(options) - set(self.option_names))
        if unknown:
            raise ValueError(
                f"unknown option(s) {', '.join(unknown)} for method {self.name!r}; "
                f"accepted: {', '.join(self.option_names) or 'none'}"
            )
        return dict(options)


def _registered() -> dict[str, Any]:
    """Method name -> :class:`core.extensions.TrainingRecipe` (not yet loaded)."""
    from core.plugins import get_registry

    return {name: entry.obj for name, entry in get_registry().entries("recipe").items()}


def recipe_names() -> list[str]:
    """Methods with a training recipe installed."""
    return sorted(_registered())


def load_recipe(method: str) -> Recipe:
    """The recipe registered for ``method``.

    Raises
    ------
    KeyError
        If no installed plugin registers a recipe for ``method`` (lists the ones that do).
    """
    found = _registered()
    if method not in found:
        raise KeyError(
            f"no training recipe for method {method!r}; installed: "
            f"{', '.join(sorted(found)) or 'none (install a method plugin)'}"
        )
    recipe = found[method].load()
    if callable(recipe) and not isinstance(recipe, Recipe):
        recipe = recipe()
    if not isinstance(recipe, Recipe):
        raise TypeError(f"recipe {method!r} gave {recipe!r}, not a training.recipe.Recipe")
    return recipe
