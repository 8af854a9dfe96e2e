"""The colorizer interface that every method plugin implements.

A plugin subclasses :class:`Colorizer` and registers an instance through the
``register_methods`` hook. The core does what is common to all methods (:mod:`core.api`);
the colorizer only maps a working-resolution lightness image to chroma.
"""

from __future__ import annotations

import dataclasses
import math
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from core.errors import CapabilityError

__all__ = [
    "CHROMA_SCALE",
    "MAX_WORKING_ASPECT",
    "MIN_WORKING_SIDE",
    "NATIVE_WORKING_PIXELS",
    "WORKING_PIXELS_FACTOR",
    "Capabilities",
    "Colorizer",
    "MethodInfo",
    "ModelFile",
    "Prediction",
    "TEMPERATURE_VIVIDNESS",
    "temperature_for",
]

#: Default bound of the working resolution's long side, in multiples of ``working_size``.
MAX_WORKING_ASPECT = 4
#: Default bound of the working pixel count, in multiples of ``working_size ** 2``
#: (every aspect ratio up to 2:1 keeps the full ``working_size`` on its short side).
WORKING_PIXELS_FACTOR = 2
#: Default working pixel bound of methods that run at input size (``working_size=None``).
NATIVE_WORKING_PIXELS = 2048 * 2048
#: Shortest working side when a bound shrinks an extreme aspect ratio (before rounding to
#: ``size_multiple``): strips narrower than this are stretched across, not squeezed.
MIN_WORKING_SIDE = 8
#: Key of :meth:`Colorizer.vividness_options`' result that the core applies itself: a factor
#: on the method's non-circular chroma channels before hints, clipped to their ranges.
CHROMA_SCALE = "chroma_scale"
#: What ``vividness=`` does for a method that does not say otherwise.
GENERIC_VIVIDNESS = "chroma x (0.5 + vividness), applied by the core before recombination"
#: What ``vividness=`` does for a method that samples with a temperature (:func:`temperature_for`).
TEMPERATURE_VIVIDNESS = "sampling temperature 1 + 0.8 (v - 0.5): 0.6 (muted) to 1.4 (most vivid)"


def temperature_for(vividness: float) -> dict[str, float]:
    """``vividness`` as a sampler's ``temperature`` option, ``1 + 0.8 (v - 0.5)``: 0.6 draws
    the likelier, duller colours, 1.4 more saturated and varied ones, 1 (v = 0.5) the default."""
    return {"temperature": 1.0 + 0.8 * (vividness - 0.5)}


def _round_up(value: int, multiple: int) -> int:
    return max(multiple, -(-int(value) // multiple) * multiple)


def _bounded(
    height: float, width: float, m: int, low: int, side: int, pixels: int
) -> tuple[int, int]:
    """Sides near (height, width), multiples of ``m``, each in [low, side], area <= pixels:
    the largest fitting area of each side rounded down or up, then the closest aspect; else
    the thin side ``low`` and the long side what the bounds leave."""
    best: tuple[float, float, int, int] | None = None
    for h in {max(low, int(height) // m * m), max(low, _round_up(math.ceil(height), m))}:
        for w in {max(low, int(width) // m * m), max(low, _round_up(math.ceil(width), m))}:
            if max(h, w) > side or h * w > pixels:
                continue
            key = (h * w, -abs(math.log((h / w) / (height / width))), h, w)
            if best is None or key[:2] > best[:2]:
                best = key
    if best is not None:
        return best[2], best[3]
    if height <= width:
        return low, max(low, min(side, pixels // low) // m * m)
    return max(low, min(side, pixels // low) // m * m), low


@dataclass(frozen=True)
class Capabilities:
    """What a method can do.

    Attributes
    ----------
    automatic : bool
        Colorizes from the grayscale image alone.
    reference : bool
        Needs (or uses) a colour reference image (exemplar-based methods).
    hints : bool
        Takes the user's colour hints into its own prediction (``predict`` receives
        ``hints=``, :class:`core.hints.Hint` in working-resolution pixels); the core
        spreads hints over every method's chroma regardless (:mod:`core.hints`).
    diverse : bool
        Draws diverse samples (``core.sample``, ``seed=``).
    distribution : bool
        Returns per-pixel chroma distributions (and an uncertainty map).
    segmentation : bool
        Returns a semantic segmentation of the input.
    recommend : bool
        Chooses its own reference for ``reference="auto"`` (He et al. 2018, §4):
        implements :meth:`Colorizer.recommend_reference`.
    """

    automatic: bool = True
    reference: bool = False
    hints: bool = False
    diverse: bool = False
    distribution: bool = False
    segmentation: bool = False
    recommend: bool = False

    def names(self) -> list[str]:
        """Names of the capabilities that are set, e.g. ``["automatic", "diverse"]``."""
        return [name for name, value in self.__dict__.items() if value]


@dataclass(frozen=True)
class ModelFile:
    """A model file shipped by a plugin, with the sha256 its manifest records."""

    path: str
    sha256: str


@dataclass(frozen=True)
class MethodInfo:
    """Everything the registry knows about one installed method (frozen)."""

    name: str
    plugin: str
    version: str
    description: str
    citation: str
    capabilities: Capabilities
    colorspace: str
    working_size: int | None
    model_files: tuple[ModelFile, ...] = ()
    decoders: tuple[str, ...] = ()
    #: One line: what ``vividness=`` does for this method (:attr:`Colorizer.vividness`).
    vividness: str = GENERIC_VIVIDNESS

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dictionary of this record."""
        record = dataclasses.asdict(self)
        record.update(model_files=list(record["model_files"]), decoders=list(self.decoders))
        return record


@dataclass
class Prediction:
    """What a colorizer returns for one working-resolution lightness image.

    Attributes
    ----------
    chroma : ndarray, shape (h, w, 2), float32
        The two chroma channels of the method's colour space at working resolution.
    distributions : dict
        Per-pixel ``core.distributions.Distribution`` keyed by channel name (``"a"``,
        ``"b"``, ``"ab"``, ``"hue"``, ``"chroma"`` ...).
    uncertainty : ndarray (h, w) or None
        Per-pixel uncertainty (e.g. entropy), larger is less certain.
    segmentation : ndarray (h, w) int or None
        Predicted class per pixel.
    class_names : tuple of str
        Names of the segmentation classes.
    extras : dict
        Anything else the method wants to return (stored in the result's metadata).
    """

    chroma: np.ndarray
    distributions: dict[str, Any] = field(default_factory=dict)
    uncertainty: np.ndarray | None = None
    segmentation: np.ndarray | None = None
    class_names: tuple[str, ...] = ()
    extras: dict[str, Any] = field(default_factory=dict)


class Colorizer(ABC):
    """Base class of a colorization method.

    Construction must be cheap: the registry builds every installed colorizer when plugins
    load, so load models lazily (e.g. :class:`core.runtime.OnnxModel`). Set the class
    attributes below; :attr:`name` to :attr:`working_size` are required.
    """

    name: str = ""
    description: str = ""
    citation: str = ""
    capabilities: Capabilities = Capabilities()
    #: Registered colour-space name the method predicts chroma in.
    colorspace: str = "lab"
    #: Short side of the working resolution in pixels; ``None`` runs at input size.
    working_size: int | None = 64
    #: Working height and width are rounded to a multiple of this.
    size_multiple: int = 1
    #: Resize to ``working_size`` x ``working_size`` regardless of aspect ratio.
    square: bool = False
    #: Longest working side in pixels (``None``: see :meth:`working_bounds`).
    max_working_side: int | None = None
    #: Most working pixels (``None``: see :meth:`working_bounds`).
    max_working_pixels: int | None = None
    #: Decoder names this method accepts as ``decoder=`` (empty: none).
    decoders: tuple[str, ...] = ()
    #: Default decoder name (``None`` when the method has no decoders).
    default_decoder: str | None = None
    #: One line saying what :meth:`vividness_options` does (``MethodInfo.vividness``).
    vividness: str = GENERIC_VIVIDNESS

    def model_files(self) -> tuple:
        """Model files (:class:`ModelFile`) this method uses, with their sha256."""
        return ()

    def working_bounds(self) -> tuple[int, int, int]:
        """(shortest side, longest side, most pixels) of a bounded working resolution.

        From :attr:`max_working_side` and :attr:`max_working_pixels`, or by default
        :data:`MAX_WORKING_ASPECT` x ``working_size`` and :data:`WORKING_PIXELS_FACTOR` x
        ``working_size ** 2`` (``working_size=None``: :data:`NATIVE_WORKING_PIXELS` and
        twice its square root). The bounds shrink no side below :data:`MIN_WORKING_SIDE`.

        Returns
        -------
        tuple of int
            ``(shortest, longest, pixels)``; the sides are multiples of ``size_multiple``.
        """
        m = max(1, int(self.size_multiple))
        size = self.working_size
        if self.max_working_pixels is not None:
            pixels = int(self.max_working_pixels)
        elif size is None:
            pixels = NATIVE_WORKING_PIXELS
        else:
            pixels = WORKING_PIXELS_FACTOR * _round_up(size, m) ** 2
        if self.max_working_side is not None:
            side = int(self.max_working_side)
        elif size is None:
            side = 2 * math.isqrt(pixels)
        else:
            side = MAX_WORKING_ASPECT * size
        low = _round_up(MIN_WORKING_SIDE, m)
        side = max(low, side // m * m)
        return low, side, max(pixels, low * low)

    def working_shape(self, height: int, width: int) -> tuple[int, int]:
        """Working resolution (h, w) for an input of ``height`` x ``width`` pixels.

        The short side is scaled to :attr:`working_size` (input size for ``None``; both
        sides for :attr:`square`), both rounded up to :attr:`size_multiple`. Beyond
        :meth:`working_bounds` (a 3 x 20000 scan would ask for 64 x 426 667) the image is
        scaled down further, keeping its aspect ratio; only a side below the shortest
        allowed one is stretched to it. The result is always within the bounds.

        Raises
        ------
        ValueError
            If ``height`` or ``width`` is not a positive integer.

        Examples
        --------
        >>> class M(Colorizer):
        ...     working_size, size_multiple = 64, 4
        ...     def predict(self, lightness, **kw): ...
        >>> M().working_shape(3000, 4000), M().working_shape(3, 20000)
        ((64, 88), (8, 256))
        """
        if int(height) != height or int(width) != width or height < 1 or width < 1:
            raise ValueError(f"expected a positive height and width, got {height} x {width}")
        height, width = int(height), int(width)
        m = max(1, int(self.size_multiple))
        low, side, pixels = self.working_bounds()
        if self.square and self.working_size is not None:
            n = _round_up(self.working_size, m)
            if n > side or n * n > pixels:
                n = max(low, min(side, math.isqrt(pixels)) // m * m)
            return n, n
        scale = 1.0 if self.working_size is None else self.working_size / min(height, width)
        h, w = (_round_up(round(length * scale), m) for length in (height, width))
        if max(h, w) <= side and h * w <= pixels:
            return h, w
        scale = min(scale, side / max(height, width), math.sqrt(pixels / (height * width)))
        return _bounded(height * scale, width * scale, m, low, side, pixels)

    @abstractmethod
    def predict(
        self,
        lightness: np.ndarray,
        *,
        reference: np.ndarray | None = None,
        seed: int | None = None,
        decoder: str | None = None,
        **options: Any,
    ) -> Prediction:
        """Predict chroma for one image.

        Parameters
        ----------
        lightness : ndarray, shape (h, w), float32
            Lightness in this method's colour space, at :meth:`working_shape`.
        reference : ndarray, shape (hr, wr, 3), float32 in [0, 1], optional
            Colour reference image (sRGB) for methods with ``capabilities.reference``.
        seed : int, optional
            Seed for methods that sample.
        decoder : str, optional
            Decoder name (see :attr:`decoders`).
        **options
            Method-specific options; unknown ones must raise ``TypeError``.
        """

    def vividness_options(self, vividness: float, *, decoder: str | None = None) -> dict[str, Any]:
        """Options of :meth:`predict` that give the look ``vividness`` asks for (0 muted, 0.5
        exactly the method's default output, 1 the most vivid), except :data:`CHROMA_SCALE`, a
        factor the core applies to the chroma itself (by default ``0.5 + vividness``). Methods
        override this to map to their own knob (a temperature, a prior correction) and say so
        in :attr:`vividness`.

        Parameters
        ----------
        vividness : float
            In [0, 1] (checked by the core).
        decoder : str, optional
            The ``decoder=`` of the request (``None``: the method's default).

        Returns
        -------
        dict
            Option names and values; the user may not pass these options too.
        """
        return {CHROMA_SCALE: 0.5 + float(vividness)}

    def recommend_reference(
        self, lightness: np.ndarray, *, index: Any = None, **options: Any
    ) -> Any:
        """Choose a colour reference for ``reference="auto"`` (``capabilities.recommend``): the
        fully automatic mode of exemplar methods (He et al. 2018, §4: the top-1 recommendation
        is the reference). The core loads and checks it like a given reference, and records it
        in the result's ``metadata["reference"]``.

        Parameters
        ----------
        lightness : ndarray, shape (H, W), float32
            The target's lightness in this method's colour space, at full resolution.
        index : str or os.PathLike, optional
            What the user passed as ``index=`` (e.g. a reference index file); a method
            that needs one raises :class:`core.errors.CapabilityError` when it is ``None``.
        **options
            Method-specific options; unknown ones must raise ``TypeError``.

        Returns
        -------
        path, PIL image or ndarray
            The reference image, in any form :func:`core.colorize` accepts.
        """
        raise CapabilityError(f"method {self.name!r} cannot recommend a reference")

    def predict_samples(
        self,
        lightness: np.ndarray,
        n: int,
        *,
        seed: int | None = None,
        reference: np.ndarray | None = None,
        **options: Any,
    ) -> list[Prediction]:
        """Draw ``n`` diverse predictions, by default one by one with seeds ``seed, seed + 1,
        ...``; override to batch them in one pass."""
        base = 0 if seed is None else int(seed)
        return [
            self.predict(lightness, reference=reference, seed=base + i, **options) for i in range(n)
        ]

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"
