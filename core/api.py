"""The public API: :func:`colorize`, :func:`colorize_result`, :func:`sample`,
:func:`methods` and :func:`get_method`, and the pipeline stages they run.

Full-resolution policy
----------------------
Each method runs at its working resolution. The core reduces the input to the
method's lightness at full resolution, resizes that lightness to the working
resolution, asks the method for chroma, upsamples the chroma (bilinear) and
recombines it with the full-resolution lightness, then applies the lightness
correction of Larsson et al. (2016), App. A.4 (add L - L̂ to every RGB channel).
The output therefore has exactly the input's size and, up to gamut clipping,
its lightness. The recombination runs in horizontal strips (on several threads),
so memory stays bounded for large (e.g. 4000×3000) inputs.

The working resolution is bounded on both sides and in pixels for every method
(:meth:`core.Colorizer.working_shape`, :meth:`core.Colorizer.working_bounds`): a
panorama or a 3 × 20000 film strip is scaled to fit, keeping its aspect ratio as
far as the bounds allow, instead of asking a network for a strip-long activation.
An input that still cannot be colorized (a working shape over the method's bounds,
or not enough memory) is refused with an :class:`~core.errors.InvalidImageError`
naming it.

Colour hints (``hints=``) correct the upsampled chroma at full resolution, before the
recombination, for every method (:mod:`core.hints`); global hints (``global_hints=``, a
palette or a reference photo's colours) go first, and ``vividness=`` maps to each
method's own knob (:meth:`core.Colorizer.vividness_options`).

Pipeline stages
---------------
Applications that need more than one call per image (video with a temporal pass,
benchmarks, evaluation scripts) compose the same stages :func:`colorize_result` runs,
kept here under ``core.api`` (not re-exported by :mod:`core`):

1. :func:`check_request` -- refuse a method / reference / decoder / index combination
   before any image is read;
2. :func:`prepare` -- load and validate the input, its full-resolution lightness, the
   working-resolution lightness and the reference (a :class:`Prepared`);
3. :func:`predict` -- the method's guarded prediction, its chroma checked;
4. :func:`recombine` -- upsampled chroma with the full-resolution lightness and the
   correction of Larsson et al. (2016), App. A.4.

``recombine(p.space, p.lightness, predict(p).chroma, p.gray)[0]`` with ``p = prepare(...)``
is exactly ``colorize_result(...).rgb`` for the same arguments (without hints).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from core.colorizer import CHROMA_SCALE, Colorizer, MethodInfo, Prediction
from core.colorspaces.base import ColorSpace
from core.errors import CapabilityError, ColorizeError, InvalidImageError, PluginError
from core.hints import (
    Hint,
    apply_global_hints,
    apply_hints,
    check_hints,
    global_target,
    parse_hints,
    parse_palette,
    resolve_hints,
)
from core.io import LoadedImage, load_image, quantize, save_image, to_output
from core.plugins import get_registry
from core.runtime import _threads

__all__ = [
    "AUTO_REFERENCE",
    "Colorization",
    "Prepared",
    "check_request",
    "colorize",
    "colorize_result",
    "default_method",
    "get_method",
    "methods",
    "predict",
    "prepare",
    "recombine",
    "recombine_threads",
    "sample",
    "sample_results",
    "set_default_method",
]

#: Methods tried in order when no default is configured.
#: larsson first: on BSDS500 test it beats the gray and mean-tint baselines in RMSE-αβ
#: (plugins/colorize-larsson MODEL_CARD.md), which cnn-classification does not yet.
PREFERRED_DEFAULTS = ("larsson", "cnn-classification", "pixcolor", "cnn-regression")
#: ``reference=AUTO_REFERENCE`` asks a method with ``capabilities.recommend`` to choose
#: its own reference (from ``index=``), He et al. 2018, §4.
AUTO_REFERENCE = "auto"
_STRIP_PIXELS = 1 << 20  # recombine about a megapixel at a time (one thread's share)
_default_lock = threading.Lock()
_default_method: str | None = None


@dataclass
class Colorization:
    """The rich result of :func:`colorize_result`.

    Attributes
    ----------
    rgb : ndarray (H, W, 3) float32 in [0, 1]
        The colorized image at the input's full resolution.
    lightness : ndarray (H, W) float32
        The input's lightness in the method's colour space (passed through).
    chroma : ndarray (H, W, 2) float32
        The predicted chroma, upsampled to full resolution, in ``colorspace``.
    colorspace : str
        Name of the method's colour space (``core.plugins`` registry).
    method : str
    seed : int or None
    decoder : str or None
    distributions : dict
        Per-pixel distributions at the method's working resolution (methods with
        ``capabilities.distribution``), keyed by channel.
    uncertainty : ndarray (H, W) or None
        Uncertainty map upsampled to full resolution.
    segmentation : ndarray (H, W) int or None
        Predicted classes upsampled (nearest) to full resolution.
    class_names : tuple of str
    alpha : ndarray (H, W) or None
        The input's alpha channel, re-attached on output.
    metadata : dict
        method, plugin, version, seed, decoder, working shape, notes, timings (s).
    """

    rgb: np.ndarray
    lightness: np.ndarray
    chroma: np.ndarray
    colorspace: str
    method: str
    seed: int | None = None
    decoder: str | None = None
    distributions: dict[str, Any] = field(default_factory=dict)
    uncertainty: np.ndarray | None = None
    segmentation: np.ndarray | None = None
    class_names: tuple[str, ...] = ()
    alpha: np.ndarray | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    _input: LoadedImage | None = field(default=None, repr=False)
    #: The chroma before the local hints (any resolution); None: ``chroma`` has none.
    _unhinted: np.ndarray | None = field(default=None, repr=False)

    @property
    def timings(self) -> dict[str, float]:
        """Seconds spent loading, predicting, recombining, and in total."""
        return self.metadata.get("timings", {})

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) like PIL."""
        return self.rgb.shape[1], self.rgb.shape[0]

    def to_array(self, dtype: Any = np.uint8) -> np.ndarray:
        """The RGB result as an array of ``dtype`` (uint8, uint16 or float)."""
        dtype = np.dtype(dtype)
        if dtype in (np.uint8, np.uint16) or dtype.kind == "f":
            return quantize(self.rgb, dtype)
        raise TypeError(f"unsupported dtype {dtype}; use uint8, uint16 or a float dtype")

    def to_pil(self):
        """The result as an 8-bit ``PIL.Image`` (RGBA when the input had alpha)."""
        form = self._input or LoadedImage(self.rgb, self.alpha, "", "pil", np.dtype(np.uint8), 8)
        kind = form.kind
        form.kind = "pil"
        try:
            return to_output(self.rgb, form, self.alpha)
        finally:
            form.kind = kind

    def output(self) -> Any:
        """The result in the form the input came in (array, or PIL image)."""
        if self._input is None:
            return self.to_pil()
        return to_output(self.rgb, self._input, self.alpha)

    def save(self, path: str | os.PathLike, *, overwrite: bool = False) -> Path:
        """Write the result atomically; 16-bit inputs give 16-bit PNG/TIFF files.

        Refuses to replace an existing file unless ``overwrite=True``, and the input
        file always (:class:`core.errors.OutputExistsError`).
        """
        depth = 16 if self._input is not None and self._input.bit_depth == 16 else 8
        protect = (self._input.path,) if self._input is not None and self._input.path else ()
        return save_image(
            path, self.rgb, alpha=self.alpha, bit_depth=depth, overwrite=overwrite, protect=protect
        )

    def with_hints(self, hints: Any) -> Colorization:
        """This result re-coloured with colour ``hints``, without predicting again.

        The chroma of this result is the prior (:func:`core.hints.apply_hints`); the new
        result is what :func:`colorize_result` with ``hints=`` gives when this result came
        from the same call without hints. Used by ``colorize ui`` to update the picture
        after each click. ``metadata["hints"]`` lists every local hint the result has.

        Parameters
        ----------
        hints : sequence of Hint or hint objects, ``{"hints": [...]}``, or a JSON file path

        Raises
        ------
        core.errors.InvalidHintsError
            Bad hints, or a hint outside the image.
        """
        hint_list, source = resolve_hints(hints)
        check_hints(hint_list, self.lightness.shape, source=source, image=self._source())
        space: ColorSpace = get_registry().get("colorspace", self.colorspace)
        gray = self._input.pixels if self._input is not None and self._input.is_gray else None
        t0 = time.perf_counter()
        chroma = apply_hints(self.lightness, self.chroma, hint_list, space)
        rgb, chroma = recombine(space, self.lightness, chroma, gray)
        metadata = dict(self.metadata)
        metadata["hints"] = [*self.metadata.get("hints", []), *(h.to_dict() for h in hint_list)]
        timings = dict(self.timings)
        timings["hints"] = time.perf_counter() - t0
        metadata["timings"] = timings
        unhinted = self._unhinted if self._unhinted is not None or not hint_list else self.chroma
        return dataclasses.replace(
            self, rgb=rgb, chroma=chroma, metadata=metadata, _unhinted=unhinted
        )

    def with_global_hints(
        self, *, palette: Any = None, reference: Any = None, strength: float = 1.0
    ) -> Colorization:
        """This result moved towards a colour distribution for the whole image (global hints).

        The target is a ``palette``, a few colours (:func:`core.hints.parse_palette`:
        ``"#aa3322:2,#3366cc"`` or a list), or the colours of a ``reference`` photo (path,
        array or PIL image). Methods with per-pixel histograms get the bias of Larsson et
        al.'s Eq. 6 towards it, the others a quantile matching of their chroma
        (:func:`core.hints.apply_global_hints`, Zhang et al. 2017 Sec. 3.3); the lightness
        stays the input's and nothing is predicted again. ``strength`` in [0, 1] blends
        (0: this result). Global hints go *under* the local ones: the local hints of this
        result (``metadata["hints"]``, colours as ``#rrggbb``) are applied again on top, so
        each keeps its colour. The request is kept in ``metadata["global_hints"]``.

        Raises
        ------
        ValueError
            Neither or both of ``palette`` and ``reference``, a bad palette (named), or
            ``strength`` outside [0, 1].
        core.errors.InvalidImageError
            The reference cannot be read or is grayscale (named).
        """
        spec = {"palette": palette, "reference": reference, "strength": strength}
        target, record = _global_request(spec)
        if record["strength"] == 0:
            return self
        space: ColorSpace = get_registry().get("colorspace", self.colorspace)
        t0 = time.perf_counter()
        prior = self.chroma
        if self._unhinted is not None:
            prior = space.resize_chroma(self._unhinted, self.lightness.shape)
        chroma = apply_global_hints(
            self.lightness,
            np.ascontiguousarray(prior, np.float32),
            space,
            target,
            strength=record["strength"],
            distributions=self.distributions,
            decoder=self.decoder,
            seed=self.seed,
        )
        hints = parse_hints(self.metadata.get("hints", []))
        gray = self._input.pixels if self._input is not None and self._input.is_gray else None
        local = apply_hints(self.lightness, chroma, hints, space)
        rgb, full = recombine(space, self.lightness, local, gray)
        metadata = {**self.metadata, "global_hints": record}
        metadata["timings"] = {**self.timings, "global_hints": time.perf_counter() - t0}
        return dataclasses.replace(
            self, rgb=rgb, chroma=full, metadata=metadata, _unhinted=chroma if hints else None
        )

    def suggest(self, x: float, y: float, k: int = 6, **options: Any) -> list:
        """The ``k`` colours the method finds most likely at input pixel (``x``, ``y``).

        A list of :class:`core.hints.Suggestion` (``color``, ``lab``, ``probability``),
        most likely first: bins of the method's distribution (the first is its mode),
        the colours its samples put there, or its one point estimate
        (:func:`core.hints.suggest`, which says what each case returns; ``options``:
        ``samples=``). The page shows them as swatches; one becomes a :class:`Hint`.

        Raises
        ------
        ValueError
            ``x``, ``y`` outside the image, or ``k`` not a positive integer.
        """
        from core.hints import suggest

        return suggest(self, x, y, k, **options)

    def _source(self) -> str:
        return self._input.source if self._input is not None else ""

    def uncertainty_image(self) -> np.ndarray:
        """The uncertainty map scaled to [0, 1] as (H, W) float32 (for display)."""
        if self.uncertainty is None:
            raise CapabilityError(f"method {self.method!r} returns no uncertainty map")
        u = self.uncertainty.astype(np.float32)
        span = float(u.max() - u.min())
        return (u - u.min()) / span if span > 0 else np.zeros_like(u)


# -- registry access -----------------------------------------------------------


def methods() -> list[MethodInfo]:
    """Installed colorization methods, sorted by name.

    Returns
    -------
    list of MethodInfo
        Frozen records with name, plugin distribution and version, citation,
        capabilities, colour space, working resolution and model files.
    """
    registry = get_registry()
    return [registry.method_info(name) for name in registry.names("method")]


def get_method(name: str) -> MethodInfo:
    """The :class:`MethodInfo` of an installed method.

    Raises
    ------
    core.errors.UnknownMethodError
        (a ``KeyError``) listing installed methods and suggesting a close match.
    """
    return get_registry().method_info(name)


def set_default_method(name: str | None) -> None:
    """Set the method used when ``method=None`` (``None`` restores the automatic choice).

    The ``COLORIZE_DEFAULT_METHOD`` environment variable takes precedence.
    """
    global _default_method
    if name is not None:
        get_method(name)  # validate now, with a helpful error
    with _default_lock:
        _default_method = name


def default_method() -> str:
    """Name of the method used when ``method=None``.

    Order: ``COLORIZE_DEFAULT_METHOD``, then :func:`set_default_method`, then the
    first installed of :data:`PREFERRED_DEFAULTS`, then the first automatic
    method by name.

    Raises
    ------
    ColorizeError
        If no automatic colorization method is installed.
    """
    env = os.environ.get("COLORIZE_DEFAULT_METHOD", "").strip()
    if env:
        return get_method(env).name
    if _default_method is not None:
        return _default_method
    registry = get_registry()
    names = list(registry.names("method"))
    for name in PREFERRED_DEFAULTS:
        if name in names:
            return name
    for name in names:
        if registry.get("method", name).capabilities.automatic:
            return name
    raise ColorizeError(
        "no automatic colorization method is installed; install a method plugin "
        "(e.g. `pip install -e plugins/colorize-cnn`) and check `colorize methods`"
    )


# -- the pipeline ----------------------------------------------------------------


@dataclass
class Prepared:
    """An input made ready for its method: what :func:`prepare` returns.

    Attributes
    ----------
    colorizer : Colorizer
        The method (registry instance).
    info : MethodInfo
        The method's record (name, plugin distribution, version, ...).
    space : ColorSpace
        The method's colour space (registry instance).
    loaded : LoadedImage
        The validated input; its form decides the output's (:func:`core.io.to_output`).
    lightness : ndarray (H, W) float32
        The input's lightness in ``space`` at full resolution.
    gray : ndarray (H, W) float32 in [0, 1] or None
        A grayscale input's gray levels (the recombination keeps them exactly); ``None``
        for a colour input.
    working : ndarray (h, w) float32
        ``lightness`` resized to the method's working shape: what :func:`predict` passes
        to the method.
    reference : ndarray (h', w', 3) float32 in [0, 1] or None
        The colour reference, loaded and checked (given, or recommended by the method for
        ``reference="auto"``).
    decoder : str or None
        The decoder asked for (checked against the method's by :func:`check_request`).
    t_load : float
        Seconds :func:`prepare` took.
    reference_source : str or None
        Where a recommended reference came from (``reference="auto"``), when a path.
    """

    colorizer: Colorizer
    info: MethodInfo
    space: ColorSpace
    loaded: LoadedImage
    lightness: np.ndarray
    gray: np.ndarray | None
    working: np.ndarray
    reference: np.ndarray | None
    decoder: str | None
    t_load: float
    reference_source: str | None = None


def _is_auto(reference: Any) -> bool:
    return isinstance(reference, str) and reference == AUTO_REFERENCE


def check_request(
    method: str | None,
    *,
    reference: Any = None,
    decoder: str | None = None,
    index: Any = None,
) -> None:
    """Refuse a reference / decoder / index combination the method cannot honour.

    The first stage of :func:`colorize_result` (:func:`prepare` runs it); an application
    that reads its images itself (a video) calls it once, before reading any.

    Parameters
    ----------
    method : str or None
        Method name; ``None`` uses :func:`default_method`.
    reference, decoder, index
        As for :func:`colorize` (``reference`` is only tested for ``None`` and
        :data:`AUTO_REFERENCE`; it is loaded by :func:`prepare`).

    Raises
    ------
    core.errors.UnknownMethodError
        No such method.
    core.errors.CapabilityError
        The method cannot do what was asked; the message names it and the installed methods
        that could.
    """
    name = default_method() if method is None else method
    get_method(name)  # an unknown name: UnknownMethodError listing the installed ones
    colorizer: Colorizer = get_registry().get("method", name)
    caps = colorizer.capabilities
    auto = _is_auto(reference)
    if auto and not caps.recommend:
        raise CapabilityError(
            f"method {name!r} cannot recommend a reference (reference={AUTO_REFERENCE!r}); "
            "methods that can: "
            + (", ".join(m.name for m in methods() if m.capabilities.recommend) or "none installed")
        )
    if index is not None and not auto:
        raise CapabilityError(
            f"index= is only used with reference={AUTO_REFERENCE!r} (got reference={reference!r})"
        )
    if reference is None and caps.reference and not caps.automatic:
        raise CapabilityError(f"method {name!r} needs a colour reference image (reference=...)")
    if reference is not None and not caps.reference:
        raise CapabilityError(
            f"method {name!r} does not use a reference image; methods that do: "
            + (", ".join(m.name for m in methods() if m.capabilities.reference) or "none installed")
        )
    if decoder is not None and not colorizer.decoders:
        raise CapabilityError(f"method {name!r} has no decoders; decoder= is not accepted")
    if decoder is not None and "=" not in decoder and decoder not in colorizer.decoders:
        raise CapabilityError(
            f"method {name!r} does not offer decoder {decoder!r}; "
            f"choose from: {', '.join(colorizer.decoders)}"
        )


def prepare(
    image: Any,
    method: str | None = None,
    *,
    reference: Any = None,
    decoder: str | None = None,
    index: Any = None,
) -> Prepared:
    """Load an input and make it ready for a method (the pipeline's first stage).

    Checks the request (:func:`check_request`), loads and validates the image, computes its
    lightness in the method's colour space at full resolution and resizes it to the
    method's working shape (area averaging where it shrinks), then loads and checks the
    reference -- asking the method to recommend one for ``reference="auto"`` (He et al.
    2018, §4).

    Parameters
    ----------
    image, method, reference, decoder, index
        As for :func:`colorize`.

    Returns
    -------
    Prepared
        Pass it to :func:`predict`, then its ``space``, ``lightness`` and ``gray`` with the
        predicted chroma to :func:`recombine`.

    Raises
    ------
    core.errors.InvalidImageError
        The image or reference cannot be used, its working shape is over the method's
        bounds, or there is not the memory to prepare it; the message names it.
    core.errors.UnknownMethodError, core.errors.CapabilityError
        As raised by :func:`check_request`.
    core.errors.PluginError
        The method failed to recommend a reference, or returned a bad working shape.

    Examples
    --------
    >>> from core import api
    >>> p = api.prepare(np.full((30, 40), 0.5, np.float32), "larsson")  # doctest: +SKIP
    >>> p.lightness.shape, p.working.dtype                              # doctest: +SKIP
    ((30, 40), dtype('float32'))
    """
    with _memory_refused(_source_name(image)):
        return _prepare(image, method, reference, decoder, index)


def _prepare(
    image: Any, method: str | None, reference: Any, decoder: str | None, index: Any
) -> Prepared:
    t0 = time.perf_counter()
    registry = get_registry()
    name = default_method() if method is None else method
    check_request(name, reference=reference, decoder=decoder, index=index)
    info = get_method(name)
    colorizer: Colorizer = registry.get("method", name)
    space: ColorSpace = registry.get("colorspace", colorizer.colorspace)
    auto = _is_auto(reference)
    loaded = load_image(image)
    gray = loaded.pixels if loaded.is_gray else None
    lightness = _input_lightness(space, loaded)
    ref = ref_source = None
    if auto:
        reference = _call(name, colorizer.recommend_reference, lightness, index=index)
        if isinstance(reference, (str, os.PathLike)):
            ref_source = str(reference)
    if reference is not None:
        ref = _colour_reference(reference)[0]
    working = _resize_lightness(lightness, _working_shape(name, colorizer, loaded))
    return Prepared(
        colorizer=colorizer,
        info=info,
        space=space,
        loaded=loaded,
        lightness=lightness,
        gray=gray,
        working=working,
        reference=ref,
        decoder=decoder,
        t_load=time.perf_counter() - t0,
        reference_source=ref_source,
    )


def _working_shape(name: str, colorizer: Colorizer, loaded: LoadedImage) -> tuple[int, int]:
    """The method's working shape for ``loaded``, checked against the method's bounds.

    :meth:`Colorizer.working_shape` keeps within :meth:`Colorizer.working_bounds`; a
    method that overrides it and asks for more is refused here, with the input's name,
    before any buffer of that size is allocated (a 3 x 20000 scan at a 64-pixel short
    side would be 64 x 426 667 working pixels: a 63 GB network activation).
    """
    h, w = loaded.shape
    shape = colorizer.working_shape(h, w)
    try:
        wh, ww = (int(v) for v in shape)
        valid = (wh, ww) == tuple(shape) and wh >= 1 and ww >= 1
    except (TypeError, ValueError):
        valid = False
    if not valid:
        raise PluginError(f"method {name!r} returned working shape {shape!r} for {w}x{h}")
    _, side, pixels = colorizer.working_bounds()
    if max(wh, ww) > side or wh * ww > pixels:
        raise InvalidImageError(
            loaded.source,
            f"a {w}x{h} image cannot be colorized by method {name!r}: it would work at "
            f"{ww}x{wh} pixels, over its bound of {pixels} pixels and {side} per side",
        )
    return wh, ww


def _resize_lightness(lightness: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Resize full-resolution lightness to the working ``shape`` = (h, w), float32.

    Area averaging along an axis that shrinks, bilinear along one that grows (a thin
    strip can shrink along its length and grow across it), one axis at a time.
    """
    (h, w), (wh, ww) = lightness.shape, shape
    out = lightness
    if (wh, ww) != (h, w):
        if (wh <= h) == (ww <= w):
            interp = cv2.INTER_AREA if wh * ww < h * w else cv2.INTER_LINEAR
            out = cv2.resize(lightness, (ww, wh), interpolation=interp)
        else:
            if ww < w:
                out = cv2.resize(out, (ww, h), interpolation=cv2.INTER_AREA)
            if wh < h:
                out = cv2.resize(out, (out.shape[1], wh), interpolation=cv2.INTER_AREA)
            out = cv2.resize(out, (ww, wh), interpolation=cv2.INTER_LINEAR)
    return np.ascontiguousarray(out, np.float32)


def _input_lightness(space: ColorSpace, loaded: LoadedImage) -> np.ndarray:
    """The input's full-resolution lightness in ``space``, (H, W) float32.

    An 8-bit grayscale input has 256 possible values, so its lightness is
    :meth:`ColorSpace.gray_lightness` of those 256 grays, looked up per pixel
    (``cv2.LUT``: about 4x faster at 12 MP than evaluating it per pixel, the same
    values to float32 rounding); other inputs are converted in strips.
    """
    if loaded.samples8 is not None:
        levels = np.arange(256, dtype=np.float32) / np.float32(255.0)
        table = np.asarray(space.gray_lightness(levels), np.float32).reshape(1, 256)
        return cv2.LUT(loaded.samples8, table)
    convert = space.gray_lightness if loaded.is_gray else space.lightness
    return _stripwise(convert, loaded.pixels)


def _stripwise(func, image: np.ndarray) -> np.ndarray:
    """Apply a per-pixel ``func`` (image -> (H, W) float32) in horizontal strips."""
    h, w = image.shape[:2]
    out = np.empty((h, w), np.float32)
    rows = max(1, _STRIP_PIXELS // max(1, w))
    for top in range(0, h, rows):
        out[top : top + rows] = func(image[top : top + rows])
    return out


def _colour_reference(reference: Any) -> tuple[np.ndarray, str]:
    """A colour reference loaded (sRGB (h, w, 3) float32) with its name; a grayscale one is
    refused (:class:`InvalidImageError` naming it)."""
    loaded = load_image(reference, name=None)
    if loaded.is_gray or _is_achromatic(loaded.pixels):
        raise InvalidImageError(
            loaded.source, "reference image is grayscale; a colour reference is needed"
        )
    return loaded.rgb(), loaded.source


def _global_request(spec: Any) -> tuple[np.ndarray, dict]:
    """``global_hints=`` (:meth:`Colorization.with_global_hints`) checked: the target points
    (:func:`core.hints.global_target`) and the record kept in ``metadata["global_hints"]``."""
    if not isinstance(spec, dict) or set(spec) - {"palette", "reference", "strength"}:
        raise ValueError(
            f"global_hints must be a dict with palette or reference (and strength), got {spec!r}"
        )
    palette, reference = spec.get("palette"), spec.get("reference")
    strength = spec.get("strength", 1.0)
    number = isinstance(strength, (int, float, np.number)) and not isinstance(strength, bool)
    if not (number and 0 <= strength <= 1):
        raise ValueError(f"global hint strength must be a number in [0, 1], got {strength!r}")
    if (palette is None) == (reference is None):
        raise ValueError("global hints take a palette or a reference image (one of the two)")
    record: dict[str, Any] = {"strength": float(strength)}
    if palette is not None:
        record["palette"] = [
            {"color": "#" + "".join(f"{round(v * 255):02x}" for v in c), "weight": w}
            for c, w in parse_palette(palette)
        ]
        return global_target(palette=palette), record
    rgb, record["reference"] = _colour_reference(reference)
    return global_target(reference=rgb), record


def _is_achromatic(rgb: np.ndarray) -> bool:
    step = max(1, int(np.sqrt(rgb.shape[0] * rgb.shape[1] / 65536)))
    small = rgb[::step, ::step]
    return float(np.abs(small - small.mean(axis=-1, keepdims=True)).max()) < 1.5 / 255.0


def recombine(
    space: ColorSpace,
    lightness: np.ndarray,
    chroma: np.ndarray,
    gray: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Upsample chroma and recombine it with full-resolution lightness (the last stage).

    The chroma is upsampled once to the lightness's shape (``space.resize_chroma``,
    bilinear); :meth:`ColorSpace.recombine` (fused for Lab and YCbCr) then converts to sRGB
    and applies the lightness correction of Larsson et al. (2016), App. A.4 (add L - L̂ to
    every RGB channel), on horizontal strips of about a megapixel, on up to
    :func:`recombine_threads` threads (OpenCV and numpy release the GIL; the strips are
    independent, so the result does not depend on the thread count).

    Parameters
    ----------
    space : ColorSpace
        The colour space of ``lightness`` and ``chroma`` (e.g. :attr:`Prepared.space`).
    lightness : ndarray (H, W) float
        Full-resolution lightness in ``space`` (:attr:`Prepared.lightness`).
    chroma : ndarray (h, w, 2) float
        Chroma in ``space`` at any resolution, e.g. a method's working resolution
        (``predict(p).chroma``).
    gray : ndarray (H, W) float in [0, 1], optional
        A grayscale input's gray levels (:attr:`Prepared.gray`): the correction then
        targets them exactly instead of the gray of ``lightness``.

    Returns
    -------
    rgb : ndarray (H, W, 3) float32 in [0, 1]
    chroma : ndarray (H, W, 2) float32
        The upsampled chroma (:attr:`Colorization.chroma`).

    Raises
    ------
    ValueError
        ``lightness``, ``chroma`` or ``gray`` of the wrong shape.

    References
    ----------
    G. Larsson, M. Maire, G. Shakhnarovich. Learning Representations for Automatic
    Colorization. ECCV 2016, App. A.4.

    Examples
    --------
    >>> from core.plugins import get_registry
    >>> lab = get_registry().get("colorspace", "lab")
    >>> rgb, full = recombine(lab, np.full((6, 8), 50, np.float32), np.zeros((3, 4, 2)))
    >>> rgb.shape, full.shape
    ((6, 8, 3), (6, 8, 2))
    """
    lightness = np.asarray(lightness)
    chroma = np.asarray(chroma)
    if lightness.ndim != 2:
        raise ValueError(f"expected (H, W) lightness, got shape {lightness.shape}")
    if chroma.ndim != 3 or chroma.shape[-1] != 2 or 0 in chroma.shape:
        raise ValueError(f"expected (h, w, 2) chroma, got shape {chroma.shape}")
    if gray is not None and np.shape(gray) != lightness.shape:
        raise ValueError(
            f"expected gray of the lightness's shape {lightness.shape}, got {np.shape(gray)}"
        )
    h, w = lightness.shape
    full = np.ascontiguousarray(space.resize_chroma(chroma, (h, w)), np.float32)
    lightness = np.ascontiguousarray(lightness, np.float32)
    rgb = np.empty((h, w, 3), np.float32)
    rows = max(1, _STRIP_PIXELS // max(1, w))
    strips = [slice(top, min(h, top + rows)) for top in range(0, h, rows)]

    def strip(sl: slice) -> None:
        part = None if gray is None else gray[sl]
        space.recombine(lightness[sl], full[sl], gray=part, out=rgb[sl])

    workers = min(recombine_threads(), len(strips))
    if workers <= 1:
        for sl in strips:
            strip(sl)
    else:
        with ThreadPoolExecutor(workers, thread_name_prefix="colorize-recombine") as pool:
            list(pool.map(strip, strips))
    return rgb, full


def recombine_threads() -> int:
    """Threads :func:`recombine` uses: ``COLORIZE_THREADS`` if set and positive, else the
    usable cores, at most 8.

    Raises
    ------
    ValueError
        ``COLORIZE_THREADS`` is not an integer >= 0.
    """
    threads = _threads()
    if threads > 0:
        return threads
    try:
        return max(1, min(8, len(os.sched_getaffinity(0))))
    except AttributeError:  # not on Linux
        return max(1, min(8, os.cpu_count() or 1))


def predict(prepared: Prepared, *, seed: int | None = None, **options: Any) -> Prediction:
    """Run the method on a prepared input (the pipeline's middle stage).

    Calls the method's :meth:`Colorizer.predict` with :attr:`Prepared.working`, its
    reference and decoder; a failure of the method's own code is re-raised as a
    :class:`~core.errors.PluginError` naming the method and its distribution, and the
    chroma is checked before anything uses it.

    Parameters
    ----------
    prepared : Prepared
        From :func:`prepare`.
    seed : int, optional
        Seed for methods that sample; the same seed gives the same prediction.
    **options
        Method-specific options (unknown ones raise ``TypeError``).

    Returns
    -------
    Prediction
        The method's prediction, its ``chroma`` a float32 (h, w, 2) array of finite values
        at the working shape (a copy: the method's own array is never handed on).

    Raises
    ------
    core.errors.PluginError
        The method failed, returned something other than a :class:`core.Prediction`, or
        chroma of the wrong shape or with NaN / infinite values.
    TypeError
        An option the method does not take.
    """
    colorizer = prepared.colorizer
    pred = _call(
        colorizer.name,
        colorizer.predict,
        prepared.working,
        reference=prepared.reference,
        seed=seed,
        decoder=prepared.decoder,
        **options,
    )
    return _checked(colorizer.name, pred, prepared.working.shape)


def _checked(name: str, pred: Any, working: tuple[int, ...]) -> Prediction:
    """``pred`` with its chroma checked (:func:`_check_chroma`) and copied to float32."""
    if not isinstance(pred, Prediction):
        raise PluginError(
            f"method {name!r} returned {type(pred).__name__}, expected a core.Prediction"
        )
    chroma = np.asarray(pred.chroma)
    _check_chroma(name, chroma, working)
    return dataclasses.replace(pred, chroma=chroma.astype(np.float32))


def _check_chroma(name: str, chroma: np.ndarray, working: tuple[int, ...]) -> None:
    """Refuse a method's chroma of the wrong shape, or with NaN or infinite values."""
    if chroma.shape != (*working, 2):
        raise PluginError(
            f"method {name!r} returned chroma of shape {chroma.shape} "
            f"(expected {(*working, 2)}, finite values)"
        )
    finite = np.isfinite(chroma)
    if not finite.all():
        nan = int(np.count_nonzero(np.isnan(chroma)))
        infinite = chroma.size - int(np.count_nonzero(finite)) - nan
        raise PluginError(
            f"method {name!r} returned chroma with {nan} NaN and {infinite} infinite "
            f"value(s) of {chroma.size} (expected finite values)"
        )


def _finish(
    prep: Prepared,
    pred: Prediction,
    seed: int | None,
    t_predict: float,
    hints: list[Hint] | None = None,
    vivid: dict | None = None,
    glob: tuple[np.ndarray, dict] | None = None,
) -> Colorization:
    """The :class:`Colorization` of a checked prediction (:func:`predict`): the vividness's
    chroma scale, global hints, local hints, then :func:`recombine`, then the upsampled
    side outputs and the metadata."""
    name = prep.colorizer.name
    decoder = prep.decoder if prep.decoder is not None else prep.colorizer.default_decoder
    t0 = time.perf_counter()
    chroma = pred.chroma
    t_hints = t_global = 0.0
    if vivid is not None and vivid[CHROMA_SCALE] != 1.0:
        chroma = _scaled(prep.space, chroma, vivid[CHROMA_SCALE])
    unhinted = chroma
    glob = glob if glob is not None and glob[1]["strength"] > 0 else None
    if hints or glob:
        h, w = prep.lightness.shape
        chroma = np.ascontiguousarray(prep.space.resize_chroma(chroma, (h, w)), np.float32)
        if glob:
            chroma = unhinted = apply_global_hints(
                prep.lightness,
                chroma,
                prep.space,
                glob[0],
                strength=glob[1]["strength"],
                distributions=pred.distributions,
                decoder=decoder,
                seed=seed,
            )
            t_global = time.perf_counter() - t0
        if hints:
            chroma = apply_hints(prep.lightness, chroma, hints, prep.space)
            t_hints = time.perf_counter() - t0 - t_global
    rgb, full_chroma = recombine(prep.space, prep.lightness, chroma, prep.gray)
    h, w = prep.loaded.shape
    uncertainty = None
    if pred.uncertainty is not None:
        uncertainty = cv2.resize(
            np.asarray(pred.uncertainty, np.float32), (w, h), interpolation=cv2.INTER_LINEAR
        )
    segmentation = None
    if pred.segmentation is not None:
        seg = np.asarray(pred.segmentation)
        segmentation = cv2.resize(seg.astype(np.int32), (w, h), interpolation=cv2.INTER_NEAREST)
    t_recombine = time.perf_counter() - t0
    metadata = {
        "method": name,
        "plugin": prep.info.plugin,
        "version": prep.info.version,
        "seed": seed,
        "decoder": decoder,
        "colorspace": prep.space.name,
        "working_shape": tuple(prep.working.shape),
        "source": prep.loaded.source,
        "notes": list(prep.loaded.notes),
        "timings": {
            "load": prep.t_load,
            "predict": t_predict,
            "recombine": t_recombine - t_hints - t_global,
            "total": prep.t_load + t_predict + t_recombine,
        },
        **pred.extras,
    }
    if hints:
        metadata["hints"] = [hint.to_dict() for hint in hints]
        metadata["timings"]["hints"] = t_hints
    if glob:
        metadata["global_hints"] = glob[1]
        metadata["timings"]["global_hints"] = t_global
    if vivid is not None:
        metadata["vividness"] = vivid
    if prep.reference_source is not None:
        metadata["reference"] = prep.reference_source
    return Colorization(
        rgb=rgb,
        lightness=prep.lightness,
        chroma=full_chroma,
        colorspace=prep.space.name,
        method=name,
        seed=seed,
        decoder=metadata["decoder"],
        distributions=dict(pred.distributions),
        uncertainty=uncertainty,
        segmentation=segmentation,
        class_names=tuple(pred.class_names),
        alpha=prep.loaded.alpha,
        metadata=metadata,
        _input=prep.loaded,
        _unhinted=unhinted if hints else None,
    )


def _source_name(image: Any) -> str:
    """The name :func:`core.io.load_image` gives ``image`` in its messages."""
    if isinstance(image, (str, os.PathLike)):
        return str(image)
    return "<PIL image>" if hasattr(image, "getbands") else "<array>"


@contextlib.contextmanager
def _memory_refused(source: str) -> Iterator[None]:
    """Refuse an input the machine has not the memory for with an :class:`InvalidImageError`
    naming it (``source``) and the allocation that failed, not a bare ``MemoryError``."""
    try:
        yield
    except MemoryError as exc:
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else "MemoryError"
        raise InvalidImageError(source, f"not enough memory to colorize it ({detail})") from None


def _call(name: str, func, *args, **kwargs):
    """Run a method's code; anything but our own errors and option TypeErrors is
    re-raised as :class:`PluginError` naming the method and its distribution."""
    try:
        return func(*args, **kwargs)
    except (ColorizeError, TypeError):
        raise
    except Exception as exc:
        info = get_method(name)
        raise PluginError(
            f"method {name!r} (plugin {info.plugin} {info.version}) failed: "
            f"{type(exc).__name__}: {exc}"
        ) from exc


def _checked_hints(prep: Prepared, hints: tuple[list[Hint], str], options: dict) -> list[Hint]:
    """The resolved hints checked against the loaded image; a method that declares
    ``capabilities.hints`` also gets them, in working-resolution pixels, as ``hints=``."""
    hint_list, source = hints
    check_hints(hint_list, prep.loaded.shape, source=source, image=prep.loaded.source)
    if hint_list and prep.colorizer.capabilities.hints:
        (h, w), (wh, ww) = prep.loaded.shape, prep.working.shape
        scale = max(ww / w, wh / h)
        options["hints"] = [
            Hint(
                hint.x * ww / w,
                hint.y * wh / h,
                hint.color,
                None if hint.radius is None else hint.radius * scale,
            )
            for hint in hint_list
        ]
    return hint_list


def _check_vividness(vividness: Any) -> float | None:
    """``vividness=`` as a float in [0, 1] (None: the method's default look)."""
    if vividness is None:
        return None
    number = isinstance(vividness, (int, float, np.number)) and not isinstance(vividness, bool)
    if not (number and 0 <= vividness <= 1):
        raise ValueError(
            "vividness must be a number in [0, 1] (0: muted, 0.5: the method's default look, "
            f"1: most vivid), got {vividness!r}"
        )
    return float(vividness)


def _vivid_options(prep: Prepared, vividness: float | None, options: dict) -> dict | None:
    """The method's options for ``vividness`` (:meth:`Colorizer.vividness_options`) added to
    ``options``; returns the record kept in ``metadata["vividness"]``, with the core's
    :data:`~core.colorizer.CHROMA_SCALE`."""
    if vividness is None:
        return None
    colorizer = prep.colorizer
    mapped = dict(
        _call(colorizer.name, colorizer.vividness_options, vividness, decoder=prep.decoder)
    )
    scale = float(mapped.pop(CHROMA_SCALE, 1.0))
    clash = sorted(set(mapped) & set(options))
    if clash:
        raise ValueError(
            f"vividness sets {', '.join(clash)} for method {colorizer.name!r}; "
            f"give vividness or {', '.join(clash)}, not both"
        )
    options.update(mapped)
    return {"value": vividness, "options": mapped, CHROMA_SCALE: scale}


def _scaled(space: ColorSpace, chroma: np.ndarray, factor: float) -> np.ndarray:
    """``chroma`` times ``factor`` in its non-circular channels (0 is gray in each), clipped
    to their ranges: the generic vividness (:data:`core.colorizer.CHROMA_SCALE`)."""
    out = np.array(chroma, np.float32)
    for i, channel in enumerate(space.chroma_channels):
        if not channel.circular:
            out[..., i] = np.clip(out[..., i] * np.float32(factor), channel.low, channel.high)
    return out


def colorize_result(
    image: Any,
    method: str | None = None,
    *,
    reference: Any = None,
    seed: int | None = None,
    decoder: str | None = None,
    index: Any = None,
    hints: Any = None,
    global_hints: Any = None,
    vividness: float | None = None,
    **options: Any,
) -> Colorization:
    """Colorize one image and return the rich :class:`Colorization` result.

    Parameters are those of :func:`colorize`. With ``reference="auto"`` the chosen
    reference is recorded in ``metadata["reference"]``; with ``hints``, the hints in
    ``metadata["hints"]`` and the propagation's seconds in ``timings["hints"]``; with
    ``global_hints`` and ``vividness``, ``metadata["global_hints"]`` and
    ``metadata["vividness"]`` (the value and the options it set).

    It runs the pipeline stages :func:`prepare`, :func:`predict` and (after the hints)
    :func:`recombine`.
    """
    resolved = resolve_hints(hints)
    vividness = _check_vividness(vividness)
    glob = None if global_hints is None else _global_request(global_hints)
    with _memory_refused(_source_name(image)):
        prep = _prepare(image, method, reference, decoder, index)
        hint_list = _checked_hints(prep, resolved, options)
        vivid = _vivid_options(prep, vividness, options)
        t0 = time.perf_counter()
        pred = predict(prep, seed=seed, **options)
        return _finish(prep, pred, seed, time.perf_counter() - t0, hint_list, vivid, glob)


def colorize(
    image: Any,
    method: str | None = None,
    *,
    reference: Any = None,
    seed: int | None = None,
    decoder: str | None = None,
    index: Any = None,
    hints: Any = None,
    global_hints: Any = None,
    vividness: float | None = None,
    **options: Any,
) -> Any:
    """Colorize a grayscale (or colour) image.

    Parameters
    ----------
    image : path, PIL.Image.Image or ndarray
        Arrays are (H, W), (H, W, 1), (H, W, 3) (or (H, W, 4) with alpha) in
        uint8, uint16 or float in [0, 1]. A colour input is first reduced to the
        method's lightness.
    method : str, optional
        Method name (see :func:`methods`); ``None`` uses :func:`default_method`.
    reference : path, PIL image, ndarray or ``"auto"``, optional
        Colour reference image, for methods with ``capabilities.reference``.
        ``"auto"`` lets a method with ``capabilities.recommend`` choose the reference
        itself from ``index`` (fully automatic mode, He et al. 2018, §4).
    seed : int, optional
        Seed for methods that sample; the same seed gives the same result.
    decoder : str, optional
        Decoder for methods that predict distributions (e.g. ``"mode"``,
        ``"median"``, ``"hue=expectation+fading,chroma=median"``).
    index : path, optional
        With ``reference="auto"``: what the method recommends from, e.g. a reference
        index file built with ``colorize index build`` (method ``exemplar``).
    hints : sequence of core.hints.Hint, hint objects, or a JSON file path, optional
        Colour hints, for every method: each fixes the colour of a disc around its point
        (``x``, ``y`` in input pixels; ``color``; optional ``radius``), and the correction
        spreads over neighbouring pixels of similar lightness while the method's own
        chroma is kept elsewhere (Levin et al. 2004; :mod:`core.hints`). Hint objects
        are ``{"x": 120, "y": 48, "color": "#3a6ec8", "radius": 8}``; a file holds
        ``{"hints": [...]}`` or a list.
    global_hints : dict, optional
        A colour distribution for the whole image, applied before ``hints``:
        ``{"palette": "#aa3322,#3366cc"}`` or ``{"reference": path/array/PIL}``, with an
        optional ``"strength"`` in [0, 1] (default 1); see
        :meth:`Colorization.with_global_hints`.
    vividness : float, optional
        In [0, 1]: 0 muted, 0.5 the method's default look (exactly), 1 the most vivid;
        each method maps it to its own knob (:meth:`core.Colorizer.vividness_options`,
        ``MethodInfo.vividness``). ``None``: the method's default.
    **options
        Method-specific options.

    Returns
    -------
    Same form as the input: an array of the same dtype and range ((H, W, 3), or
    (H, W, 4) with alpha), or a ``PIL.Image`` for PIL and path inputs. The size is
    the input's size.

    Raises
    ------
    core.errors.InvalidImageError
        The image (or reference) cannot be used; the message names it.
    core.errors.UnknownMethodError
        No such method; the message lists installed ones.
    core.errors.CapabilityError
        The method cannot do what was asked (reference, ``reference="auto"``, decoder).
    core.errors.InvalidHintsError
        Bad hints (file, JSON, colour) or a hint outside the image; the message names the
        hints' source and the hint.
    ValueError
        ``vividness`` outside [0, 1], options that ``vividness`` sets given too, or bad
        ``global_hints`` (a bad palette is named).

    Examples
    --------
    >>> import numpy as np, core
    >>> gray = np.full((32, 48), 0.5, np.float32)
    >>> core.colorize(gray).shape          # doctest: +SKIP
    (32, 48, 3)
    """
    return colorize_result(
        image,
        method,
        reference=reference,
        seed=seed,
        decoder=decoder,
        index=index,
        hints=hints,
        global_hints=global_hints,
        vividness=vividness,
        **options,
    ).output()


def sample_results(
    image: Any,
    method: str | None = None,
    n: int = 3,
    seed: int | None = 0,
    *,
    reference: Any = None,
    index: Any = None,
    hints: Any = None,
    global_hints: Any = None,
    vividness: float | None = None,
    **options: Any,
) -> list[Colorization]:
    """Draw ``n`` diverse colorizations as :class:`Colorization` results.

    ``hints``, ``global_hints`` and ``vividness`` (see :func:`colorize`) apply to every
    sample.

    Raises
    ------
    core.errors.CapabilityError
        If the method does not draw diverse samples.
    """
    if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    resolved = resolve_hints(hints)
    vividness = _check_vividness(vividness)
    glob = None if global_hints is None else _global_request(global_hints)
    with _memory_refused(_source_name(image)):
        prep = _prepare(image, method, reference, None, index)
        hint_list = _checked_hints(prep, resolved, options)
        if not prep.colorizer.capabilities.diverse:
            diverse = [m.name for m in methods() if m.capabilities.diverse]
            raise CapabilityError(
                f"method {prep.colorizer.name!r} does not draw diverse samples; methods that "
                "do: " + (", ".join(diverse) or "none installed")
            )
        vivid = _vivid_options(prep, vividness, options)
        t0 = time.perf_counter()
        preds = _call(
            prep.colorizer.name,
            prep.colorizer.predict_samples,
            prep.working,
            int(n),
            seed=seed,
            reference=prep.reference,
            **options,
        )
        name, working = prep.colorizer.name, prep.working.shape
        preds = [_checked(name, p, working) for p in preds]
        elapsed = (time.perf_counter() - t0) / max(1, len(preds))
        base = 0 if seed is None else int(seed)
        return [
            _finish(prep, p, base + i, elapsed, hint_list, vivid, glob) for i, p in enumerate(preds)
        ]


def sample(
    image: Any,
    method: str | None = None,
    n: int = 3,
    seed: int | None = 0,
    *,
    reference: Any = None,
    index: Any = None,
    hints: Any = None,
    global_hints: Any = None,
    vividness: float | None = None,
    **options: Any,
) -> list[Any]:
    """Draw ``n`` diverse colorizations, batched in one pass where the method can.

    Each result comes back in the input's form (see :func:`colorize`). The same
    ``seed`` gives the same samples; sample ``i`` equals
    ``colorize(image, method, seed=seed + i)`` for methods that sample per seed.
    """
    return [
        r.output()
        for r in sample_results(
            image,
            method,
            n,
            seed,
            reference=reference,
            index=index,
            hints=hints,
            global_hints=global_hints,
            vividness=vividness,
            **options,
        )
    ]
