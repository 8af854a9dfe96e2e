"""Shared feature extractors ("backbones"): one ONNX graph installed once, used by many methods.

A backbone maps a working-resolution lightness image to a feature pyramid. Plugins register
backbones through the ``register_backbones`` hook (:mod:`core.hookspecs`), just as they register
colour spaces and decoders; a method names the backbone its heads were trained on
(e.g. ``"efficientnet-lite0-gray"``) and asks for its features with :meth:`Backbone.features`.

Features are computed **once per image per process**: :meth:`Backbone.features` keeps the
last few results keyed by a digest of the lightness array, so two methods, two decoders or
the samples of one method that colour the same photo share one backbone pass
(:attr:`Backbone.runs` counts the passes actually made). The cache size is
``COLORIZE_FEATURE_CACHE`` entries (default 4; 0 disables it).

Examples
--------
>>> from core.backbones import get_backbone          # doctest: +SKIP
>>> levels = get_backbone("efficientnet-lite0-gray").features(lightness)  # doctest: +SKIP
>>> sorted(levels)                                    # doctest: +SKIP
['f16', 'f2', 'f32', 'f4', 'f8', 'head']
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections import OrderedDict
from pathlib import Path

import numpy as np

from core import lookup
from core.colorizer import ModelFile
from core.runtime import OnnxModel

__all__ = ["Backbone", "backbone_names", "get_backbone", "level_feeds"]


def _cache_size() -> int:
    try:
        return max(0, int(os.environ.get("COLORIZE_FEATURE_CACHE", "4")))
    except ValueError:
        return 4


class Backbone:
    """A registered feature extractor backed by one ONNX graph.

    Parameters
    ----------
    name : str
        Registry name, e.g. ``"efficientnet-lite0-gray"``.
    path : path-like
        The ``.onnx`` file. Its input is ``lightness`` (N, 1, H, W), CIE L* in [0, 100],
        with H and W multiples of ``size_multiple``; its outputs are the pyramid levels.
    description, citation : str
        Shown by ``colorize backbones`` and in the docs.
    size_multiple : int
        Input sides must be multiples of this (the network's total stride).
    classifier : path-like, optional
        The ONNX graph of the colour ImageNet classifier the backbone was adapted from
        (input ``rgb`` (N, 3, H, W) 0-255, output ``logits``), used by the semantic test
        (:func:`colorize_eval.semantic.semantic_test`).

    Attributes
    ----------
    runs : int
        Backbone passes this object has run (cache hits do not count).
    """

    def __init__(
        self,
        name: str,
        path: str | os.PathLike,
        *,
        description: str = "",
        citation: str = "",
        size_multiple: int = 32,
        classifier: str | os.PathLike | None = None,
    ):
        self.name = name
        self.classifier = None if classifier is None else Path(classifier)
        self.path = Path(path)
        self.description = description
        self.citation = citation
        self.size_multiple = int(size_multiple)
        self.runs = 0
        self.model = OnnxModel(self.path)
        self._cache: OrderedDict[tuple, dict[str, np.ndarray]] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def levels(self) -> tuple[str, ...]:
        """Names of the pyramid levels (the graph's outputs), shallow to deep."""
        return tuple(self.model.output_names)

    def strides(self) -> dict[str, int]:
        """Stride of each level relative to the input (from the graph's metadata)."""
        return {k: int(v) for k, v in self.model.metadata_json("strides", {}).items()}

    def model_files(self) -> tuple[ModelFile, ...]:
        return (self.model.model_file(),)

    def __call__(self, lightness: np.ndarray) -> dict[str, np.ndarray]:
        return self.features(lightness)

    def features(self, lightness: np.ndarray) -> dict[str, np.ndarray]:
        """The feature pyramid of one (H, W) L* image, each level (C, H / s, W / s).

        Raises
        ------
        ValueError
            If ``lightness`` is not 2-D or its sides are not multiples of :attr:`size_multiple`.
        """
        x = np.asarray(lightness)
        if x.ndim != 2:
            raise ValueError(f"{self.name}: expected (H, W) lightness, got shape {x.shape}")
        m = self.size_multiple
        if x.shape[0] % m or x.shape[1] % m or min(x.shape) == 0:
            raise ValueError(
                f"{self.name}: lightness sides must be positive multiples of {m}, got "
                f"{x.shape[0]}x{x.shape[1]}"
            )
        x = np.ascontiguousarray(x, np.float32)
        key = (x.shape, hashlib.blake2b(x.tobytes(), digest_size=16).digest())
        size = _cache_size()
        with self._lock:
            hit = self._cache.get(key) if size else None
            if hit is not None:
                self._cache.move_to_end(key)
                return hit
        outputs = self.model.run(lightness=x[None, None])
        levels = {name: out[0] for name, out in zip(self.levels, outputs, strict=True)}
        for value in levels.values():
            value.setflags(write=False)
        with self._lock:
            self.runs += 1
            if size:
                self._cache[key] = levels
                while len(self._cache) > size:
                    self._cache.popitem(last=False)
        return levels

    def clear_cache(self) -> None:
        """Forget cached features."""
        with self._lock:
            self._cache.clear()

    def __repr__(self) -> str:
        return f"Backbone({self.name!r}, {str(self.path)!r})"


def get_backbone(name: str) -> Backbone:
    """The installed backbone called ``name``.

    Raises
    ------
    core.errors.UnknownNameError
        If no installed plugin registered it (the message lists what is installed and
        which distribution ships the usual one, ``colorize-backbone``).
    """
    return lookup.lookup("backbone", name)


def level_feeds(model: OnnxModel, lightness: np.ndarray) -> dict[str, np.ndarray]:
    """The backbone inputs of a head graph: the levels of ``lightness`` ((H, W) CIE L*)
    named by its ``metadata_props["backbone_levels"]``, each with a batch axis, from the
    backbone named by ``metadata_props["backbone"]`` (:meth:`Backbone.features`: computed
    once per image); ``{}`` for a graph without ``"backbone"`` metadata.
    """
    name = model.metadata_json("backbone")
    if name is None:
        return {}
    levels = get_backbone(name).features(lightness)
    return {k: levels[k][None] for k in model.metadata_json("backbone_levels")}


def backbone_names() -> list[str]:
    """Names of the installed backbones, sorted."""
    return lookup.names("backbone")
