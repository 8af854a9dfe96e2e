"""The public API: :func:`colorize`, :func:`colorize_result`, :func:`sample`,
:func:`methods` and :func:`get_method`, and the pipeline stages they run (not re-exported
by :mod:`core`): :func:`check_request`, :func:`prepare`, :func:`predict` and
:func:`recombine` (full resolution, with the lightness correction of Larsson et al. 2016,
App. A.4). docs/api.md describes the full-resolution policy, hints, vividness and stages.
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
    hex_colour,
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
        return to_output(self.rgb, dataclasses.replace(form, kind="pil"), self.alpha)

    def output(self) -> Any:
        """The result in the form the input came in (array, or PIL image)."""
        return to_output(self.rgb, self._input, self.alpha) if self._input else self.to_pil()

    def save(self, path: str | os.PathLike, *, overwrite: bool = False) -> Path:
        """Write the result atomically (16-bit PNG/TIFF for 16-bit inputs); refuses to replace
        the input, or another file without ``overwrite=True`` (``OutputExistsError``)."""
        depth = 16 if self._input is not None and self._input.bit_depth == 16 else 8
        protect = (self._input.path,) if self._input is not None and self._input.path else ()
        return save_image(
            path, self.rgb, alpha=self.alpha, bit_depth=depth, overwrite=overwrite, protect=protect
        )

    def with_hints(self, hints: Any) -> Colorization:
        """This result re-coloured with colour ``hints``, its chroma as the prior
        (:func:`core.hints.apply_hints`), without predicting again: what :func:`colorize_result`
        with ``hints=`` gives when this result came from the same call without hints
        (``colorize ui`` uses it after each click). ``metadata["hints"]`` lists them all.

        Parameters
        ----------
        hints : sequence of Hint or hint objects, ``{"hints": [...]}``, or a JSON file path

        Raises
        ------
        core.errors.InvalidHintsError
            Bad hints, or a hint outside the image.
        """
        hint_list, source = resolve_hints(hints)
        image = self._input.source if self._input is not None else ""
        check_hints(hint_list, self.lightness.shape, source=source, image=image)
        every = [*self.metadata.get("hints", []), *(h.to_dict() for h in hint_list)]
        out = self._rehinted(self.chroma, hint_list, None, "hints", every)
        return out if self._unhinted is None else dataclasses.replace(out, _unhinted=self._unhinted)

    def with_global_hints(
        self, *, palette: Any = None, reference: Any = None, strength: float = 1.0
    ) -> Colorization:
        """This result moved, without predicting again, towards a colour distribution for the
        whole image (global hints, Zhang et al. 2017 Sec. 3.3): a ``palette``
        (:func:`core.hints.parse_palette`: ``"#aa3322:2,#3366cc"`` or a list) or the colours of
        a ``reference`` photo (path, array or PIL image). Methods with per-pixel histograms get
        the bias of Larsson et al.'s Eq. 6 towards it, the others a quantile matching of their
        chroma (:func:`core.hints.apply_global_hints`). ``strength`` in [0, 1] blends (0: this
        result). The local hints (``metadata["hints"]``) are applied again on top, so each
        keeps its colour; the request is kept in ``metadata["global_hints"]``.

        Raises
        ------
        ValueError
            Neither or both of ``palette`` and ``reference``, a bad palette (named), or
            ``strength`` outside [0, 1].
        core.errors.InvalidImageError
            The reference cannot be read or is grayscale (named).
        """
        glob = _global_request({"palette": palette, "reference": reference, "strength": strength})
        if glob[1]["strength"] == 0:
            return self
        prior = self.chroma if self._unhinted is None else self._unhinted
        hints = parse_hints(self.metadata.get("hints", []))
        return self._rehinted(prior, hints, glob, "global_hints", glob[1])

    def _rehinted(self, prior, local, glob, key: str, value: Any) -> Colorization:
        """This result with ``prior`` through :func:`_hinted` again; ``metadata[key]`` is
        ``value`` and ``timings[key]`` the seconds taken."""
        t0 = time.perf_counter()
        space: ColorSpace = get_registry().get("colorspace", self.colorspace)
        gray = self._input.pixels if self._input is not None and self._input.is_gray else None
        context = dict(distributions=self.distributions, decoder=self.decoder, seed=self.seed)
        rgb, full, unhinted, *_ = _hinted(space, self.lightness, prior, gray, local, glob, context)
        timings = {**self.timings, key: time.perf_counter() - t0}
        meta = {**self.metadata, key: value, "timings": timings}
        return dataclasses.replace(self, rgb=rgb, chroma=full, metadata=meta, _unhinted=unhinted)

    def suggest(self, x: float, y: float, k: int = 6, **options: Any) -> list:
        """The ``k`` colours the method finds most likely at input pixel (``x``, ``y``): a list
        of :class:`core.hints.Suggestion` (``color``, ``lab``, ``probability``), most likely
        first (:func:`core.hints.suggest` says what each kind of method gives; ``options``:
        ``samples=``), which the page shows as swatches for a :class:`Hint`.

        Raises
        ------
        ValueError
            ``x``, ``y`` outside the image, or ``k`` not a positive integer.
        """
        from core.hints import suggest

        return suggest(self, x, y, k, **options)

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
    """Set the method used when ``method=None`` (``None`` restores the automatic choice); the
    ``COLORIZE_DEFAULT_METHOD`` environment variable takes precedence."""
    global _default_method
    if name is not None:
        get_method(name)  # validate now, with a helpful error
    with _default_lock:
        _default_method = name


def default_method() -> str:
    """Name of the method used when ``method=None``: ``COLORIZE_DEFAULT_METHOD``, then
    :func:`set_default_method`, then the first installed of :data:`PREFERRED_DEFAULTS`,
    then the first automatic method by name.

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
    automatic = (n for n in names if registry.get("method", n).capabilities.automatic)
    name = next((n for n in PREFERRED_DEFAULTS if n in names), None) or next(automatic, None)
    if name is not None:
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
    colorizer, info, space
        The method, its :class:`MethodInfo` and its :class:`ColorSpace` (registry instances).
    loaded : LoadedImage
        The validated input; its form decides the output's (:func:`core.io.to_output`).
    lightness : ndarray (H, W) float32
        The input's lightness in ``space`` at full resolution.
    gray : ndarray (H, W) float32 in [0, 1] or None
        A grayscale input's gray levels (the recombination keeps them exactly).
    working : ndarray (h, w) float32
        ``lightness`` at the method's working shape, what :func:`predict` passes on.
    reference : ndarray (h', w', 3) float32 in [0, 1] or None
        The colour reference, loaded and checked (given, or recommended by the method).
    decoder : str or None
        The decoder asked for (checked by :func:`check_request`).
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


def _able(capability: str) -> str:
    """The installed methods with ``capability``, for a message."""
    able = [m.name for m in methods() if getattr(m.capabilities, capability)]
    return ", ".join(able) or "none installed"


def check_request(
    method: str | None, *, reference: Any = None, decoder: str | None = None, index: Any = None
) -> None:
    """Refuse a reference / decoder / index combination the method cannot honour: the first
    stage (:func:`prepare` runs it), or what an application reading its images itself (a
    video) calls once, before reading any.

    Parameters
    ----------
    method : str or None
        Method name; ``None`` uses :func:`default_method`.
    reference, decoder, index
        As for :func:`colorize` (``reference`` is only tested for ``None`` and
        :data:`AUTO_REFERENCE`; :func:`prepare` loads it).

    Raises
    ------
    core.errors.UnknownMethodError
        No such method.
    core.errors.CapabilityError
        The method cannot do what was asked (named, with the installed methods that could).
    """
    name = default_method() if method is None else method
    get_method(name)  # an unknown name: UnknownMethodError listing the installed ones
    colorizer: Colorizer = get_registry().get("method", name)
    caps = colorizer.capabilities
    auto = _is_auto(reference)
    if auto and not caps.recommend:
        raise CapabilityError(
            f"method {name!r} cannot recommend a reference (reference={AUTO_REFERENCE!r}); "
            f"methods that can: {_able('recommend')}"
        )
    if index is not None and not auto:
        raise CapabilityError(
            f"index= is only used with reference={AUTO_REFERENCE!r} (got reference={reference!r})"
        )
    if reference is None and caps.reference and not caps.automatic:
        raise CapabilityError(f"method {name!r} needs a colour reference image (reference=...)")
    if reference is not None and not caps.reference:
        raise CapabilityError(
            f"method {name!r} does not use a reference image; methods that do: {_able('reference')}"
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

    Checks the request (:func:`check_request`), loads the image, computes its lightness and
    resizes it to the working shape, then loads the reference (recommended by the method
    for ``reference="auto"``, He et al. 2018, §4).

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
    """
    t0 = time.perf_counter()
    with _memory_refused(image):
        registry = get_registry()
        name = default_method() if method is None else method
        check_request(name, reference=reference, decoder=decoder, index=index)
        colorizer: Colorizer = registry.get("method", name)
        space: ColorSpace = registry.get("colorspace", colorizer.colorspace)
        ref_source = None
        loaded = load_image(image)
        lightness = _input_lightness(space, loaded)
        if _is_auto(reference):
            reference = _call(name, colorizer.recommend_reference, lightness, index=index)
            if isinstance(reference, (str, os.PathLike)):
                ref_source = str(reference)
        return Prepared(
            colorizer=colorizer,
            info=get_method(name),
            space=space,
            loaded=loaded,
            lightness=lightness,
            gray=loaded.pixels if loaded.is_gray else None,
            reference=None if reference is None else _colour_reference(reference)[0],
            working=_resize_lightness(lightness, _working_shape(name, colorizer, loaded)),
            decoder=decoder,
            t_load=time.perf_counter() - t0,
            reference_source=ref_source,
        )


def _working_shape(name: str, colorizer: Colorizer, loaded: LoadedImage) -> tuple[int, int]:
    """The method's working shape for ``loaded``, refused (naming the input) over the
    method's bounds before a buffer that size is allocated."""
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
    """Resize lightness to ``shape`` = (h, w), float32: area averaging along an axis that
    shrinks, bilinear along one that grows."""
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
    """The input's full-resolution lightness in ``space``, (H, W) float32; an 8-bit gray
    input by a 256-entry look-up (``cv2.LUT``), others in strips."""
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
    """A colour reference as sRGB (h, w, 3) float32 and its name; a grayscale one is
    refused (:class:`InvalidImageError`)."""
    loaded = load_image(reference, name=None)
    if loaded.is_gray or _is_achromatic(loaded.pixels):
        raise InvalidImageError(
            loaded.source, "reference image is grayscale; a colour reference is needed"
        )
    return loaded.rgb(), loaded.source


def _is_achromatic(rgb: np.ndarray) -> bool:
    step = max(1, int(np.sqrt(rgb.shape[0] * rgb.shape[1] / 65536)))
    small = rgb[::step, ::step]
    return float(np.abs(small - small.mean(axis=-1, keepdims=True)).max()) < 1.5 / 255.0


def _fraction(value: Any, name: str, note: str = "") -> float:
    """``value`` as a float in [0, 1], else a ValueError naming it."""
    number = isinstance(value, (int, float, np.number)) and not isinstance(value, bool)
    if not (number and 0 <= value <= 1):
        raise ValueError(f"{name} must be a number in [0, 1]{note}, got {value!r}")
    return float(value)


def _global_request(spec: Any) -> tuple[np.ndarray, dict]:
    """``global_hints=`` checked: the target (:func:`core.hints.global_target`) and the
    record kept in ``metadata["global_hints"]``."""
    if not isinstance(spec, dict) or set(spec) - {"palette", "reference", "strength"}:
        raise ValueError(
            f"global_hints must be a dict with palette or reference (and strength), got {spec!r}"
        )
    palette, reference = spec.get("palette"), spec.get("reference")
    strength = _fraction(spec.get("strength", 1.0), "global hint strength")
    record: dict[str, Any] = {"strength": strength}
    if (palette is None) == (reference is None):
        raise ValueError("global hints take a palette or a reference image (one of the two)")
    if palette is not None:
        colours = parse_palette(palette)
        record["palette"] = [{"color": hex_colour(c), "weight": w} for c, w in colours]
        return global_target(palette=palette), record
    rgb, record["reference"] = _colour_reference(reference)
    return global_target(reference=rgb), record


def recombine(
    space: ColorSpace, lightness: np.ndarray, chroma: np.ndarray, gray: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Upsample chroma and recombine it with full-resolution lightness (the last stage).

    The chroma is upsampled (``space.resize_chroma``, bilinear); :meth:`ColorSpace.recombine`
    converts to sRGB and applies the correction of Larsson et al. (2016), App. A.4 (add
    L - L̂ to every channel, desaturating toward that gray where it would leave [0, 1]), on
    strips on up to :func:`recombine_threads` threads (the result does not depend on them).

    Parameters
    ----------
    space : ColorSpace
        The colour space of ``lightness`` and ``chroma`` (e.g. :attr:`Prepared.space`).
    lightness : ndarray (H, W) float
        Full-resolution lightness in ``space`` (:attr:`Prepared.lightness`).
    chroma : ndarray (h, w, 2) float
        Chroma in ``space`` at any resolution (e.g. ``predict(p).chroma``).
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
        list(map(strip, strips))
    else:
        with ThreadPoolExecutor(workers, thread_name_prefix="colorize-recombine") as pool:
            list(pool.map(strip, strips))
    return rgb, full


def recombine_threads() -> int:
    """Threads :func:`recombine` uses: ``COLORIZE_THREADS`` if positive, else the usable
    cores, at most 8.

    Raises
    ------
    ValueError
        ``COLORIZE_THREADS`` is not an integer >= 0.
    """
    threads = _threads()
    if threads > 0:
        return threads
    affinity = getattr(os, "sched_getaffinity", None)  # Linux only
    return max(1, min(8, len(affinity(0)) if affinity else os.cpu_count() or 1))


def predict(prepared: Prepared, *, seed: int | None = None, **options: Any) -> Prediction:
    """Run :meth:`Colorizer.predict` on :attr:`Prepared.working` with its reference and
    decoder (the pipeline's middle stage).

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
        The method failed (named with its distribution), returned something other than a
        :class:`core.Prediction`, or chroma of the wrong shape or not finite.
    TypeError
        An option the method does not take.
    """
    colorizer = prepared.colorizer
    request = dict(reference=prepared.reference, seed=seed, decoder=prepared.decoder)
    pred = _call(colorizer.name, colorizer.predict, prepared.working, **request, **options)
    return _checked(colorizer.name, pred, prepared.working.shape)


def _checked(name: str, pred: Any, working: tuple[int, ...]) -> Prediction:
    """``pred`` refused unless a Prediction with finite chroma of the working shape;
    returned with its chroma copied to float32."""
    if not isinstance(pred, Prediction):
        raise PluginError(
            f"method {name!r} returned {type(pred).__name__}, expected a core.Prediction"
        )
    chroma = np.asarray(pred.chroma)
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
    return dataclasses.replace(pred, chroma=chroma.astype(np.float32))


def _hinted(
    space: ColorSpace,
    lightness: np.ndarray,
    chroma: np.ndarray,
    gray: np.ndarray | None,
    hints: list[Hint] | None,
    glob: tuple[np.ndarray, dict] | None,
    context: dict,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, float, float]:
    """Global hints (``glob``, from :func:`_global_request`; ``context``: the prediction's
    ``distributions``, ``decoder`` and ``seed``), then local ``hints``, then :func:`recombine`:
    rgb, full chroma, the chroma under the local hints (None without them), and the seconds
    of the global and the local hints."""
    t0 = time.perf_counter()
    t_global = t_hints = 0.0
    unhinted = chroma
    if hints or glob:
        chroma = np.ascontiguousarray(space.resize_chroma(chroma, lightness.shape), np.float32)
    if glob:
        chroma = unhinted = apply_global_hints(
            lightness, chroma, space, glob[0], strength=glob[1]["strength"], **context
        )
        t_global = time.perf_counter() - t0
    if hints:
        chroma = apply_hints(lightness, chroma, hints, space)
        t_hints = time.perf_counter() - t0 - t_global
    rgb, full = recombine(space, lightness, chroma, gray)
    return rgb, full, unhinted if hints else None, t_global, t_hints


def _finish(
    prep: Prepared,
    pred: Prediction,
    seed: int | None,
    t_predict: float,
    hints: list[Hint] | None = None,
    vivid: dict | None = None,
    glob: tuple[np.ndarray, dict] | None = None,
) -> Colorization:
    """The :class:`Colorization` of a checked prediction: the vividness's chroma scale,
    :func:`_hinted`, then the upsampled side outputs and the metadata."""
    name, space = prep.colorizer.name, prep.space
    decoder = prep.decoder if prep.decoder is not None else prep.colorizer.default_decoder
    t0 = time.perf_counter()
    chroma = pred.chroma
    if vivid is not None and vivid[CHROMA_SCALE] != 1.0:
        chroma = _scaled(space, chroma, vivid[CHROMA_SCALE])
    glob = glob if glob is not None and glob[1]["strength"] > 0 else None
    context = dict(distributions=pred.distributions, decoder=decoder, seed=seed)
    rgb, full_chroma, unhinted, t_global, t_hints = _hinted(
        space, prep.lightness, chroma, prep.gray, hints, glob, context
    )
    h, w = prep.loaded.shape
    uncertainty = segmentation = None
    if pred.uncertainty is not None:  # bilinear, cv2.resize's default
        uncertainty = cv2.resize(np.asarray(pred.uncertainty, np.float32), (w, h))
    if pred.segmentation is not None:
        seg = np.asarray(pred.segmentation).astype(np.int32)
        segmentation = cv2.resize(seg, (w, h), interpolation=cv2.INTER_NEAREST)
    t_recombine = time.perf_counter() - t0
    timings = {
        "load": prep.t_load,
        "predict": t_predict,
        "recombine": t_recombine - t_hints - t_global,
        "total": prep.t_load + t_predict + t_recombine,
    }
    metadata = {
        "method": name,
        "plugin": prep.info.plugin,
        "version": prep.info.version,
        "seed": seed,
        "decoder": decoder,
        "colorspace": space.name,
        "working_shape": tuple(prep.working.shape),
        "source": prep.loaded.source,
        "notes": list(prep.loaded.notes),
        "timings": timings,
        **pred.extras,
    }
    if hints:
        metadata["hints"] = [hint.to_dict() for hint in hints]
        timings["hints"] = t_hints
    if glob:
        metadata["global_hints"] = glob[1]
        timings["global_hints"] = t_global
    if vivid is not None:
        metadata["vividness"] = vivid
    if prep.reference_source is not None:
        metadata["reference"] = prep.reference_source
    return Colorization(
        rgb=rgb,
        lightness=prep.lightness,
        chroma=full_chroma,
        colorspace=space.name,
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
        _unhinted=unhinted,
    )


@contextlib.contextmanager
def _memory_refused(image: Any) -> Iterator[None]:
    """Refuse an input there is not the memory for with an :class:`InvalidImageError`
    naming it, as :func:`core.io.load_image` would, instead of a bare ``MemoryError``."""
    try:
        yield
    except MemoryError as exc:
        source = "<PIL image>" if hasattr(image, "getbands") else "<array>"
        source = str(image) if isinstance(image, (str, os.PathLike)) else source
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
    """The resolved hints checked against the loaded image; a method with
    ``capabilities.hints`` also gets them, in working-resolution pixels, as ``hints=``."""
    hint_list, source = hints
    check_hints(hint_list, prep.loaded.shape, source=source, image=prep.loaded.source)
    if hint_list and prep.colorizer.capabilities.hints:
        (h, w), (wh, ww) = prep.loaded.shape, prep.working.shape
        zoom = max(ww / w, wh / h)
        options["hints"] = [
            Hint(p.x * ww / w, p.y * wh / h, p.color, None if p.radius is None else p.radius * zoom)
            for p in hint_list
        ]
    return hint_list


def _arguments(hints: Any, vividness: Any, global_hints: Any) -> tuple:
    """``hints=`` resolved, ``vividness=`` as a float in [0, 1] (or None) and
    ``global_hints=`` checked (:func:`_global_request`), before any image is read."""
    resolved = resolve_hints(hints)
    if vividness is not None:
        note = " (0: muted, 0.5: the method's default look, 1: most vivid)"
        vividness = _fraction(vividness, "vividness", note)
    return resolved, vividness, None if global_hints is None else _global_request(global_hints)


def _vivid_options(prep: Prepared, vividness: float | None, options: dict) -> dict | None:
    """The method's options for ``vividness`` (:meth:`Colorizer.vividness_options`) added to
    ``options``; returns the record kept in ``metadata["vividness"]`` (with CHROMA_SCALE)."""
    if vividness is None:
        return None
    colorizer = prep.colorizer
    mapped = _call(colorizer.name, colorizer.vividness_options, vividness, decoder=prep.decoder)
    mapped = dict(mapped)
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
    """``chroma`` times ``factor`` in its non-circular channels, clipped to their ranges:
    the generic vividness (:data:`core.colorizer.CHROMA_SCALE`)."""
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

    Parameters are those of :func:`colorize`. ``metadata`` records the reference chosen for
    ``reference="auto"``, and the ``hints``, ``global_hints`` and ``vividness`` (its value and
    options) given. It runs :func:`prepare`, :func:`predict`, the hints, then :func:`recombine`.
    """
    resolved, vividness, glob = _arguments(hints, vividness, global_hints)
    with _memory_refused(image):
        prep = prepare(image, method, reference=reference, decoder=decoder, index=index)
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
        Arrays are (H, W), (H, W, 1), (H, W, 3) (or (H, W, 4) with alpha) in uint8, uint16
        or float in [0, 1]. A colour input is first reduced to the method's lightness.
    method : str, optional
        Method name (see :func:`methods`); ``None`` uses :func:`default_method`.
    reference : path, PIL image, ndarray or ``"auto"``, optional
        Colour reference image, for methods with ``capabilities.reference``; ``"auto"``: a
        method with ``capabilities.recommend`` chooses it from ``index`` (He et al. 2018, §4).
    seed : int, optional
        Seed for methods that sample; the same seed gives the same result.
    decoder : str, optional
        Decoder for methods that predict distributions (e.g. ``"mode"``, ``"median"``,
        ``"hue=expectation+fading,chroma=median"``).
    index : path, optional
        With ``reference="auto"``: what the method recommends from, e.g. a reference index
        file built with ``colorize index build`` (method ``exemplar``).
    hints : sequence of core.hints.Hint, hint objects, or a JSON file path, optional
        Colour hints, for every method: each fixes the colour of a disc around its point,
        spreading over neighbouring pixels of similar lightness (Levin et al. 2004;
        :mod:`core.hints`). Hint objects are ``{"x": 120, "y": 48, "color": "#3a6ec8",
        "radius": 8}`` (input pixels); a file holds ``{"hints": [...]}`` or a list.
    global_hints : dict, optional
        A colour distribution for the whole image, applied before ``hints`` (see
        :meth:`Colorization.with_global_hints`): ``{"palette": "#aa3322,#3366cc"}`` or
        ``{"reference": path/array/PIL}``, optional ``"strength"`` in [0, 1] (default 1).
    vividness : float, optional
        In [0, 1]: 0 muted, 0.5 the method's default look (exactly), 1 the most vivid;
        each method maps it to its own knob (:meth:`core.Colorizer.vividness_options`,
        ``MethodInfo.vividness``). ``None``: the method's default.
    **options
        Method-specific options.

    Returns
    -------
    Same form as the input: an array of the same dtype and range ((H, W, 3), or (H, W, 4)
    with alpha), or a ``PIL.Image`` for PIL and path inputs, of the input's size.

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
    hinted = dict(hints=hints, global_hints=global_hints, vividness=vividness)
    request = dict(reference=reference, seed=seed, decoder=decoder, index=index, **hinted)
    return colorize_result(image, method, **request, **options).output()


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
    """Draw ``n`` diverse colorizations as :class:`Colorization` results; ``hints``,
    ``global_hints`` and ``vividness`` (see :func:`colorize`) apply to every sample.

    Raises
    ------
    core.errors.CapabilityError
        If the method does not draw diverse samples.
    """
    if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    resolved, vividness, glob = _arguments(hints, vividness, global_hints)
    with _memory_refused(image):
        prep = prepare(image, method, reference=reference, index=index)
        hint_list = _checked_hints(prep, resolved, options)
        name = prep.colorizer.name
        if not prep.colorizer.capabilities.diverse:
            raise CapabilityError(
                f"method {name!r} does not draw diverse samples; methods that do: "
                + _able("diverse")
            )
        vivid = _vivid_options(prep, vividness, options)
        t0 = time.perf_counter()
        draw = prep.colorizer.predict_samples
        preds = _call(
            name, draw, prep.working, int(n), seed=seed, reference=prep.reference, **options
        )
        preds = [_checked(name, p, prep.working.shape) for p in preds]
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

    Each result comes back in the input's form (see :func:`colorize`). The same ``seed``
    gives the same samples; sample ``i`` equals ``colorize(image, method, seed=seed + i)``
    for methods that sample per seed.
    """
    hinted = dict(hints=hints, global_hints=global_hints, vividness=vividness)
    results = sample_results(image, method, n, seed, reference=reference, index=index, **hinted)
    return [r.output() for r in results]
