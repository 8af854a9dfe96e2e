"""User colour hints that stay on the region they were put on, global hints, and suggestions.

A :class:`Hint` is a point of the input image (``x``, ``y`` in input pixels), a colour
and an optional radius. :func:`apply_hints` corrects a method's full-resolution chroma so
that the hinted pixels take the hint's chroma and the correction covers the region the
hint was put on and fades out beyond it; elsewhere the method's own chroma is kept. The
core calls it for every method between upsampling the prediction and the recombination
(:func:`core.colorize_result`, ``hints=``). :func:`suggest` lists the colours a method
itself finds likely at a point.

How far a hint spreads (docs/ui.md "How a hint spreads"): each pixel ``p`` gets a *path
cost* ``g(p)``, the cheapest 8-connected path from the hint's disc (Dijkstra), a step
from ``r`` to ``s`` costing

- ``|r - s| / (REACH * long side)``: distance;
- ``|L_r - L_s| / LIGHTNESS_TOLERANCE``: lightness change, on a smoothed L*;
- ``max(0, e - EDGE[0]) / (3 EDGE[1])``, ``e`` the L* difference between the pixels one
  step before ``r`` and one step past ``s``: edges, also when blurred over 2-3 pixels;
- ``|ab_r - ab_s| / CHROMA_TOLERANCE``: change of the method's own a*, b*, smoothed.

This is the geodesic distance of Yatziv and Sapiro (2006); a pixel takes the share
``w = exp(-g^6)`` of the hint, and hints of several colours are blended by a soft minimum
of their path costs. The method's own colours stand in for the network's semantics of
Zhang et al. (2017, Sec. 3). The costs are computed in CIE L*, a*, b* on a grid of at most
:data:`SOLVE_PIXELS` pixels; the correction ``w (hint - prior)`` is upsampled and added to
the full-resolution chroma (a circular hue's in the plane ``C (cos 2 pi H, sin 2 pi H)``).

Global hints (:func:`apply_global_hints`) move the whole image towards a palette
(:func:`parse_palette`) or a reference photo's colours (Zhang et al. 2017, Sec. 3.3) by
the histogram transfers of :mod:`core.transfer`, before local hints.

References
----------
L. Yatziv, G. Sapiro. Fast Image and Video Colorization Using Chrominance Blending. IEEE
Transactions on Image Processing 15(5), 2006 (geodesic distances, blending of hints).
R. Zhang, J.-Y. Zhu, P. Isola, X. Geng, A. S. Lin, T. Yu, A. A. Efros. Real-Time
User-Guided Image Colorization with Learned Deep Priors. ACM Transactions on Graphics
36(4), SIGGRAPH 2017, Sec. 3 (local hints; the predicted distribution as suggestions).
A. Levin, D. Lischinski, Y. Weiss. Colorization using Optimization. ACM Transactions on
Graphics 23(3), SIGGRAPH 2004, Eqs. 1-2 (the former propagation, docs/ui.md).
"""

from __future__ import annotations

import json
import math
import os
import re
import weakref
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from core import lookup
from core.colorspaces.base import ColorSpace
from core.colorspaces.lab import lab_to_rgb, rgb_to_lab
from core.errors import InvalidHintsError

__all__ = [
    "CHROMA_TOLERANCE",
    "EDGE",
    "LIGHTNESS_TOLERANCE",
    "MAX_COORDINATE",
    "MAX_PALETTE",
    "MIN_DIFFERENCE",
    "PALETTE_SPREAD",
    "REACH",
    "SOLVE_PIXELS",
    "TARGET_SAMPLES",
    "Hint",
    "Suggestion",
    "apply_global_hints",
    "apply_hints",
    "check_hints",
    "global_target",
    "load_hints",
    "parse_color",
    "parse_hints",
    "parse_palette",
    "resolve_hints",
    "path_graph",
    "solve_shape",
    "spread_correction",
    "suggest",
]

#: Most pixels of the grid the path costs are computed on (about 340 x 190 for 16:9).
SOLVE_PIXELS = 1 << 16
#: Length of a path, as a fraction of the grid's long side, that costs 1 (the distance
#: term): how far a hint reaches where lightness and colour do not change.
REACH = 1.5
#: L* units of lightness change along a path that cost 1.
LIGHTNESS_TOLERANCE = 40.0
#: Edges: the L* difference across a step, over the 4 pixels that straddle it, costs 1 for
#: each EDGE[1] beyond EDGE[0]; the 3 steps that see one edge share its cost.
EDGE = (4.0, 8.0)
#: a*, b* units of change of the method's own colour along a path that cost 1.
CHROMA_TOLERANCE = 10.0
#: Gaussian sigma, as a fraction of the grid's long side, of the L*, a*, b* of the
#: lightness- and colour-change terms; the edge term's is _EDGE_SIGMA grid pixels.
SMOOTHING = 0.015
_EDGE_SIGMA = 0.7
#: Exponent p of the share ``exp(-g^p)`` a pixel at path cost ``g`` takes.
_SHAPE = 6
#: Path cost past which a hint has no effect: exp(-g^p) < 0.001.
_CUTOFF = math.log(1000.0) ** (1 / _SHAPE)
#: Softness of the blend between hints of different colours (path-cost units).
_BLEND = 0.05
#: Default hint radius, as a fraction of the input's long side.
DEFAULT_RADIUS = 0.005
#: Most hints in one request (a safeguard for the JSON readers, not a limit of the solve).
MAX_HINTS = 1000
#: Largest hint coordinate and radius, in input pixels: past the longest side Pillow or
#: OpenCV allow (32-bit sizes); beyond it a value is a mistake that overflows the solve.
MAX_COORDINATE = float(2**31)

_HEX = re.compile(r"#?([0-9a-fA-F]{3}|[0-9a-fA-F]{6})")
_KEYS = {"x", "y", "color", "colour", "radius"}


def _is_number(value: Any) -> bool:
    """``value`` is an int, float or numpy number, not a bool."""
    return isinstance(value, (int, float, np.number)) and not isinstance(value, bool)


def hex_colour(color: Sequence[float]) -> str:
    """An sRGB colour in [0, 1] as ``#rrggbb`` (what :func:`parse_color` reads back)."""
    return "#" + "".join(f"{round(c * 255):02x}" for c in color)


@dataclass(frozen=True)
class Hint:
    """A user's colour for one point of the input image.

    Attributes
    ----------
    x, y : float
        Position in input pixels: column and row, ``0 <= x < width``, ``0 <= y < height``
        (``(0, 0)`` is the top-left pixel).
    color : tuple of 3 float
        sRGB colour in [0, 1]. Only its chroma is used: the pixel keeps the input's
        lightness (a dark pixel hinted bright yellow becomes dark yellow).
    radius : float or None
        Radius in input pixels of the disc that takes the colour; ``None``:
        :data:`DEFAULT_RADIUS` of the image's long side. At least the solve-grid pixel
        under the point is always fixed.

    Examples
    --------
    >>> Hint(10, 20, parse_color("#ff0000")).hex
    '#ff0000'
    """

    x: float
    y: float
    color: tuple[float, float, float]
    radius: float | None = None

    def __post_init__(self) -> None:
        bound = f"{MAX_COORDINATE:.0f}"
        for name in ("x", "y"):
            value = getattr(self, name)
            if not _is_number(value):
                raise ValueError(f"hint {name} must be a number, got {value!r}")
            if not (_finite(value) and abs(float(value)) <= MAX_COORDINATE):
                raise ValueError(
                    f"hint {name} must be finite and within +-{bound} pixels, got {_shown(value)}"
                )
        color = tuple(float(c) for c in self.color)
        if len(color) != 3 or not all(0.0 <= c <= 1.0 for c in color):
            raise ValueError(f"hint color must be 3 sRGB values in [0, 1], got {self.color!r}")
        object.__setattr__(self, "color", color)
        r = self.radius
        if r is not None and not _is_number(r):
            raise ValueError(f"hint radius must be a number or null, got {r!r}")
        if r is not None and not (_finite(r) and 0 <= float(r) <= MAX_COORDINATE):
            raise ValueError(
                f"hint radius must be a finite number of pixels in [0, {bound}], got {_shown(r)}"
            )

    @property
    def hex(self) -> str:
        """The colour as ``#rrggbb``."""
        return hex_colour(self.color)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form read by :func:`parse_hints`: ``{"x", "y", "color", "radius"}``."""
        return {"x": self.x, "y": self.y, "color": self.hex, "radius": self.radius}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Hint:
        """A hint from ``{"x": .., "y": .., "color": "#rrggbb", "radius": ..}``.

        ``colour`` is accepted for ``color``; ``radius`` is optional.

        Raises
        ------
        ValueError
            Naming the missing, unknown or bad field.
        """
        if not isinstance(data, Mapping):
            raise ValueError(f"expected an object with x, y and color, got {data!r}")
        if unknown := sorted(set(data) - _KEYS):
            names = ", ".join(map(repr, unknown))
            raise ValueError(f"unknown field(s) {names}; use x, y, color, radius")
        missing = [k for k in ("x", "y") if k not in data]
        if "color" not in data and "colour" not in data:
            missing.append("color")
        if missing:
            raise ValueError(f"missing field(s) {', '.join(missing)}")
        color = parse_color(data["color"] if "color" in data else data["colour"])
        return cls(data["x"], data["y"], color, data.get("radius"))


def _finite(value: Any) -> bool:
    """``value`` converts to a finite float (an integer of 400 digits does not)."""
    try:
        return math.isfinite(float(value))
    except OverflowError:
        return False


def _shown(value: Any) -> str:
    """``value`` for a message: its repr, shortened for integers of many digits."""
    text = repr(value)
    return text if len(text) <= 24 else f"{text[:12]}... ({len(text)} characters)"


def parse_color(value: Any) -> tuple[float, float, float]:
    """An sRGB colour in [0, 1] from ``"#rrggbb"``, ``"#rgb"`` or ``[r, g, b]`` in 0-255.

    Raises
    ------
    ValueError
        Saying what was expected and what arrived.

    Examples
    --------
    >>> parse_color("#f80")
    (1.0, 0.5333333333333333, 0.0)
    >>> parse_color([0, 255, 0])
    (0.0, 1.0, 0.0)
    """
    if isinstance(value, str):
        match = _HEX.fullmatch(value.strip())
        if match is None:
            raise ValueError(f"bad colour {value!r}: expected '#rrggbb', '#rgb' or [r, g, b]")
        digits = match.group(1)
        digits = digits if len(digits) == 6 else "".join(d * 2 for d in digits)
        return tuple(int(digits[i : i + 2], 16) / 255.0 for i in (0, 2, 4))  # type: ignore[return-value]
    if isinstance(value, (list, tuple)) and len(value) == 3:
        ok = all(
            isinstance(v, (int, float)) and not isinstance(v, bool) and 0 <= v <= 255 for v in value
        )
        if ok:
            return tuple(float(v) / 255.0 for v in value)  # type: ignore[return-value]
    raise ValueError(
        f"bad colour {value!r}: expected '#rrggbb', '#rgb' or [r, g, b] with values 0-255"
    )


def parse_hints(data: Any, *, source: str = "<hints>") -> list[Hint]:
    """Hints from their JSON form: ``{"hints": [...]}`` or a bare list of hint objects.

    Each item is a :class:`Hint` or an object ``{"x", "y", "color", "radius"}`` (see
    :meth:`Hint.from_dict`).

    Raises
    ------
    core.errors.InvalidHintsError
        Naming ``source`` and the hint (counted from 1) that is wrong.
    """
    if isinstance(data, Mapping):
        if set(data) != {"hints"}:
            raise InvalidHintsError(source, 'expected {"hints": [...]} or a list of hints')
        data = data["hints"]
    if isinstance(data, (str, bytes)) or not isinstance(data, Iterable):
        raise InvalidHintsError(source, f"expected a list of hints, got {type(data).__name__}")
    hints = []
    for number, item in enumerate(data, start=1):
        if number > MAX_HINTS:
            raise InvalidHintsError(source, f"more than {MAX_HINTS} hints")
        try:
            hints.append(item if isinstance(item, Hint) else Hint.from_dict(item))
        except ValueError as exc:
            raise InvalidHintsError(source, f"hint {number}: {exc}") from None
    return hints


def load_hints(path: str | os.PathLike) -> list[Hint]:
    """Read hints from a small JSON file (format of :func:`parse_hints`).

    Raises
    ------
    core.errors.InvalidHintsError
        The file is missing, unreadable, not JSON, or a hint is bad; the message names
        the file.
    """
    name = str(Path(path))
    try:
        with open(path, "rb") as f:
            raw = f.read(1 << 20 + 1)
    except OSError as exc:
        raise InvalidHintsError(name, f"cannot read it ({exc.strerror or exc})") from None
    if len(raw) > 1 << 20:
        raise InvalidHintsError(name, "hint file is over 1 MiB; expected a small JSON file")
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise InvalidHintsError(name, f"not valid JSON ({exc})") from None
    return parse_hints(data, source=name)


def resolve_hints(hints: Any) -> tuple[list[Hint], str]:
    """``hints=`` of the public API as ``(list of Hint, name used in messages)``.

    Accepts ``None``, a path to a JSON file, a sequence of :class:`Hint` or of hint
    objects, or ``{"hints": [...]}``.
    """
    if hints is None:
        return [], "<hints>"
    if isinstance(hints, (str, os.PathLike)):
        return load_hints(hints), str(hints)
    return parse_hints([hints] if isinstance(hints, Hint) else hints), "<hints>"


def check_hints(
    hints: Sequence[Hint], shape: tuple[int, int], *, source: str = "<hints>", image: str = ""
) -> None:
    """Refuse hints that lie outside an image of ``shape`` = (height, width).

    Raises
    ------
    core.errors.InvalidHintsError
        Naming ``source``, the hint, its position and the image's size (and name).
    """
    height, width = shape
    for number, hint in enumerate(hints, start=1):
        if not (0 <= hint.x < width and 0 <= hint.y < height):
            where = f" {image}" if image else ""
            raise InvalidHintsError(
                source,
                f"hint {number} at x={hint.x:g}, y={hint.y:g} is outside the "
                f"{width}x{height} image{where} (x must be in [0, {width}), y in [0, {height}))",
            )


def solve_shape(shape: tuple[int, int], max_pixels: int = SOLVE_PIXELS) -> tuple[int, int]:
    """The solve grid (h, w) for an image of ``shape`` = (H, W): at most ``max_pixels``.

    The aspect ratio is kept (each side at least 1); an image already within the bound is
    solved at its own size.

    Examples
    --------
    >>> solve_shape((3000, 4000))
    (221, 295)
    >>> solve_shape((100, 200))
    (100, 200)
    """
    height, width = shape
    if height * width <= max_pixels:
        return height, width
    scale = math.sqrt(max_pixels / (height * width))
    return max(1, min(height, int(height * scale))), max(1, min(width, int(width * scale)))


def _plane_layout(space: ColorSpace) -> int | None:
    """Index of the circular chroma channel of ``space`` (None: both are linear)."""
    circular = [i for i, ch in enumerate(space.chroma_channels) if ch.circular]
    if len(circular) > 1:
        raise ValueError(f"colour space {space.name!r} has two circular chroma channels")
    return circular[0] if circular else None


def _to_plane(space: ColorSpace, chroma: np.ndarray, hue: int | None) -> np.ndarray:
    """Chroma in a linear plane: as is, or ``C (cos, sin)`` of a circular hue."""
    if hue is None:
        return chroma
    ch = space.chroma_channels[hue]
    angle = (chroma[..., hue] - ch.low) * (2 * np.pi / (ch.high - ch.low))
    magnitude = chroma[..., 1 - hue]
    return np.stack([magnitude * np.cos(angle), magnitude * np.sin(angle)], -1).astype(np.float32)


def _from_plane(space: ColorSpace, plane: np.ndarray, hue: int | None) -> np.ndarray:
    """The inverse of :func:`_to_plane`."""
    if hue is None:
        return plane
    ch = space.chroma_channels[hue]
    out = np.empty(plane.shape, np.float32)
    turns = np.mod(np.arctan2(plane[..., 1], plane[..., 0]) / (2 * np.pi), 1.0)
    out[..., hue] = ch.low + np.where(turns >= 1.0, 0.0, turns) * (ch.high - ch.low)
    out[..., 1 - hue] = np.hypot(plane[..., 0], plane[..., 1])
    return out


def _hinted_pixels(
    hints: Sequence[Hint], full: tuple[int, int], grid: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """Per solve-grid pixel, the index of the hint that fixes it (-1: none), and a mask; a
    later hint wins where discs overlap, and the pixel under each point is always fixed."""
    (height, width), (gh, gw) = full, grid
    sy, sx = gh / height, gw / width
    owner = np.full((gh, gw), -1, np.int32)
    default = DEFAULT_RADIUS * max(height, width)
    for k, hint in enumerate(hints):
        cy, cx = (hint.y + 0.5) * sy - 0.5, (hint.x + 0.5) * sx - 0.5
        radius = (default if hint.radius is None else float(hint.radius)) * max(sx, sy)
        top, bottom = max(0, math.floor(cy - radius)), min(gh, math.ceil(cy + radius) + 1)
        left, right = max(0, math.floor(cx - radius)), min(gw, math.ceil(cx + radius) + 1)
        rows, cols = np.mgrid[top:bottom, left:right]
        disc = (rows - cy) ** 2 + (cols - cx) ** 2 <= radius**2
        owner[rows[disc], cols[disc]] = k
        owner[min(gh - 1, max(0, round(cy))), min(gw - 1, max(0, round(cx)))] = k
    return owner, owner >= 0


#: Each undirected pair of 8-neighbours once: (row step, column step).
_STEPS = ((0, 1), (1, -1), (1, 0), (1, 1))


def path_graph(guide: np.ndarray, *, reach: float = REACH):
    """The step costs of the path cost between 8-neighbours of a grid (module docstring).

    ``guide`` (h, w, 3) is CIE L*, a*, b* of the method's result on the grid; ``reach`` as
    :data:`REACH`. Returns a float64 ``scipy.sparse.csr_matrix`` (h * w, h * w) with one
    positive entry per neighbouring pair (row: the first in raster order), undirected.
    """
    import scipy.sparse as sparse

    guide = np.asarray(guide, np.float32)
    h, w = guide.shape[:2]
    sigma = SMOOTHING * max(h, w)
    smooth = cv2.GaussianBlur(guide, (0, 0), sigma) if sigma >= 0.3 else guide
    light, ab = smooth[..., 0], smooth[..., 1:]
    # padded by 2 so that the pixels before and after each step exist (repeated at borders)
    edges = np.pad(cv2.GaussianBlur(guide[..., 0], (0, 0), _EDGE_SIGMA), 2, mode="edge")
    unit = 1.0 / max(1.0, reach * max(h, w))
    index = np.arange(h * w, dtype=np.int64).reshape(h, w)
    threshold, scale = EDGE
    rows, cols, values = [], [], []
    for dy, dx in _STEPS:
        a = (slice(0, h - dy), slice(max(0, -dx), w - max(0, dx)))  # the step's first pixels
        b = (slice(dy, h), slice(max(0, dx), w - max(0, -dx)))  # and its second ones
        cost = math.hypot(dy, dx) * unit + np.abs(light[a] - light[b]) / LIGHTNESS_TOLERANCE
        n_rows, n_cols, left = h - dy, w - abs(dx), 2 + max(0, -dx)
        before = edges[2 - dy :, left - dx :][:n_rows, :n_cols]  # one step back
        after = edges[2 + 2 * dy :, left + 2 * dx :][:n_rows, :n_cols]  # one step past
        cost += np.maximum(np.abs(after - before) - threshold, 0.0) / (3.0 * scale)
        cost += np.linalg.norm(ab[a] - ab[b], axis=-1) / CHROMA_TOLERANCE
        rows.append(index[a].ravel())
        cols.append(index[b].ravel())
        values.append(cost.ravel().astype(np.float64))
    n = h * w
    return sparse.csr_matrix(
        (np.concatenate(values), (np.concatenate(rows), np.concatenate(cols))), shape=(n, n)
    )


def spread_correction(
    guide: np.ndarray,
    prior: np.ndarray,
    targets: np.ndarray,
    fixed: np.ndarray,
    *,
    reach: float = REACH,
) -> np.ndarray:
    """The chroma correction on the grid: each hint's chroma where its region is.

    Pixels fixed to the same target form one hint colour; for each, the path cost ``g``
    from its pixels (:func:`path_graph`, Dijkstra, stopped at the cut-off) gives the share
    ``exp(-g^6)`` of the colour a pixel takes, and colours meeting in one region are
    blended by a soft minimum of their path costs (Yatziv and Sapiro 2006).

    ``guide`` (h, w, 3) is as in :func:`path_graph`, ``prior`` (h, w, 2) the method's chroma
    plane, ``targets`` (h, w, 2) the hint chroma read where the bool mask ``fixed`` (h, w) is
    set. Returns float32 (h, w, 2): ``targets - prior`` on the fixed pixels, the blended
    ``w (target - prior)`` where a hint reaches, 0 elsewhere.
    """
    from scipy.sparse.csgraph import dijkstra

    h, w = fixed.shape
    flat_fixed = fixed.ravel()
    prior = np.asarray(prior, np.float64).reshape(-1, 2)
    targets = np.asarray(targets, np.float64).reshape(-1, 2)
    out = np.zeros((h * w, 2), np.float64)
    if not flat_fixed.any():
        return out.reshape(h, w, 2).astype(np.float32)
    seeds = np.flatnonzero(flat_fixed)
    colours, group = np.unique(targets[seeds], axis=0, return_inverse=True)
    graph = path_graph(guide, reach=reach)
    nearest = np.full(h * w, np.inf)  # the soft minimum's reference: the least path cost
    total = np.zeros(h * w)  # sum of exp(-(g_c - nearest) / blend) over colours c
    for c, colour in enumerate(colours):
        cost = dijkstra(
            graph, directed=False, indices=seeds[group.ravel() == c], min_only=True, limit=_CUTOFF
        )
        reached = np.flatnonzero(np.isfinite(cost))
        g = cost[reached]
        least = np.minimum(nearest[reached], g)
        rescale = np.exp((least - nearest[reached]) / _BLEND)  # 0 where nothing came yet
        share = np.exp((least - g) / _BLEND)
        total[reached] = total[reached] * rescale + share
        out[reached] *= rescale[:, None]
        out[reached] += (share * np.exp(-(g**_SHAPE)))[:, None] * (colour - prior[reached])
        nearest[reached] = least
    hit = total > 0
    out[hit] /= total[hit, None]
    out[flat_fixed] = targets[flat_fixed] - prior[flat_fixed]
    return out.reshape(h, w, 2).astype(np.float32)


def _guide(space: ColorSpace, lightness: np.ndarray, plane: np.ndarray, hue: int | None):
    """CIE L*, a*, b* of the method's result on the grid (lightness in ``space``'s units,
    chroma as a plane)."""
    if space.name == "lab":
        return np.concatenate([lightness[..., None], plane], -1).astype(np.float32)
    rgb = space.to_rgb(lightness, _from_plane(space, plane, hue))
    return rgb_to_lab(np.clip(rgb, 0.0, 1.0).astype(np.float32))


def _resize(image: np.ndarray, shape: tuple[int, ...], interpolation: int) -> np.ndarray:
    """``image`` (h, w) or (h, w, c) resized to ``shape`` = (H, W) or (H, W, c)."""
    size = (shape[1], shape[0])
    return cv2.resize(image, size, interpolation=interpolation).reshape(shape)


def apply_hints(
    lightness: np.ndarray,
    chroma: np.ndarray,
    hints: Sequence[Hint],
    space: ColorSpace,
    *,
    max_pixels: int = SOLVE_PIXELS,
    reach: float = REACH,
) -> np.ndarray:
    """Correct full-resolution ``chroma`` so that it honours ``hints``, region by region.

    Parameters
    ----------
    lightness : ndarray, shape (H, W), float32
        The input's lightness in ``space``, at full resolution.
    chroma : ndarray, shape (H, W, 2), float32
        The method's chroma in ``space`` at the same resolution (the prior).
    hints : sequence of Hint
        In input pixels (check them first with :func:`check_hints`).
    space : ColorSpace
        The method's colour space.
    max_pixels : int
        Bound of the grid (:func:`solve_shape`).
    reach : float
        Path length, as a fraction of the grid's long side, that costs 1 (:data:`REACH`).

    Returns
    -------
    ndarray, shape (H, W, 2), float32
        The corrected chroma (a new array; ``chroma`` is not changed). Without hints,
        ``chroma`` itself.

    References
    ----------
    Yatziv and Sapiro 2006; Zhang et al. 2017, Sec. 3 (module docstring).

    Examples
    --------
    >>> from core.colorspaces import LabSpace
    >>> light = np.full((40, 90), 50, np.float32); light[:, 30:60] = 90
    >>> ab = np.zeros((40, 90, 2), np.float32)
    >>> out = apply_hints(light, ab, [Hint(10, 20, parse_color("#c03030"))], LabSpace())
    >>> bool(out[20, 5, 0] > 20), bool(abs(out[20, 45, 0]) < 1), bool(abs(out[20, 80, 0]) < 1)
    (True, True, True)
    """
    if not hints:
        return chroma
    height, width = lightness.shape
    if chroma.shape != (height, width, 2):
        raise ValueError(f"expected chroma of shape {(height, width, 2)}, got {chroma.shape}")
    hue = _plane_layout(space)
    grid = solve_shape((height, width), max_pixels)
    small_l = _resize(np.ascontiguousarray(lightness, np.float32), grid, cv2.INTER_AREA)
    plane = _to_plane(space, np.ascontiguousarray(chroma, np.float32), hue)
    prior = _resize(plane, (*grid, 2), cv2.INTER_AREA)
    owner, fixed = _hinted_pixels(hints, (height, width), grid)
    colours = np.array([h.color for h in hints], np.float32)
    hint_chroma = _to_plane(space, space.from_rgb(colours)[1].astype(np.float32), hue)
    targets = hint_chroma[np.maximum(owner, 0)]
    guide = _guide(space, small_l, prior, hue)
    correction = spread_correction(guide, prior, targets, fixed, reach=reach)
    out = _resize(correction, (height, width, 2), cv2.INTER_LINEAR) + plane
    return _from_plane(space, out, hue)


# -- global hints ------------------------------------------------------------------------

#: Most colours in a global-hint palette.
MAX_PALETTE = 64
#: Spread (normal sigma, CIE a*, b* units) of each palette colour in the target distribution.
PALETTE_SPREAD = 4.0
#: Points of a palette's target distribution (a reference gives about :data:`SOLVE_PIXELS`).
TARGET_SAMPLES = 1 << 12


def parse_palette(value: Any) -> list[tuple[tuple[float, float, float], float]]:
    """Colours and weights of a global-hint palette, from ``"#aa3322:2,#3366cc"`` or a list.

    Each colour is what :func:`parse_color` reads (``"#rrggbb"``, ``"#rgb"``, ``[r, g, b]``
    in 0-255); in a string it may end in ``:weight``, in a list be a ``(colour, weight)``
    pair. Weights are positive (default 1) and returned normalised to sum to 1.

    Raises
    ------
    ValueError
        Naming the palette, the colour (counted from 1) and what is wrong with it.

    Examples
    --------
    >>> [(c, w) for c, w in parse_palette("#ff0000:3, #00f")]
    [((1.0, 0.0, 0.0), 0.75), ((0.0, 0.0, 1.0), 0.25)]
    """
    bad = f"bad palette {_shown(value)}"
    if isinstance(value, str):
        items: list[Any] = [part.strip() for part in value.split(",")]
    elif isinstance(value, (list, tuple)):
        items = list(value)
    else:
        raise ValueError(f"{bad}: expected '#rrggbb,#rrggbb' or a list of colours")
    if not items or items == [""]:
        raise ValueError(f"{bad}: no colours")
    if len(items) > MAX_PALETTE:
        raise ValueError(f"{bad}: {len(items)} colours, at most {MAX_PALETTE}")
    if all(isinstance(v, (int, float)) for v in items):
        raise ValueError(f"{bad}: expected a list of colours (one RGB colour is [[r, g, b]])")
    out = []
    for number, item in enumerate(items, start=1):
        weight: Any = 1.0
        if isinstance(item, str) and ":" in item:
            item, _, text = item.partition(":")
            try:
                weight = float(text)
            except ValueError:
                weight = text
        elif isinstance(item, (list, tuple)) and len(item) == 2:
            item, weight = item
        try:
            colour = parse_color(item)
        except ValueError as exc:
            raise ValueError(f"{bad}: colour {number}: {exc}") from None
        number_like = isinstance(weight, (int, float)) and not isinstance(weight, bool)
        if not (number_like and _finite(weight) and weight > 0):
            raise ValueError(
                f"{bad}: colour {number}: weight must be a positive number, got {weight!r}"
            )
        out.append((colour, float(weight)))
    total = sum(w for _, w in out)
    return [(c, w / total) for c, w in out]


def global_target(palette: Any = None, reference: np.ndarray | None = None) -> np.ndarray:
    """sRGB points (n, 3) float32 whose colours are the target distribution of global hints.

    A ``palette`` (:func:`parse_palette`) gives :data:`TARGET_SAMPLES` points, each colour
    its weight's share, at the colour's own L* with a*, b* spread normally by
    :data:`PALETTE_SPREAD` (a fixed seed: the same palette, the same points). A
    ``reference`` (h, w, 3) sRGB image in [0, 1] gives its pixels, strided to at most
    :data:`SOLVE_PIXELS`. Raises ``ValueError`` for neither or both, or a bad palette.
    """
    if (palette is None) == (reference is None):
        raise ValueError("global hints take a palette or a reference image (one of the two)")
    if reference is not None:
        return np.ascontiguousarray(_strided(np.asarray(reference, np.float32)).reshape(-1, 3))
    rng = np.random.default_rng(0)
    parts = []
    for colour, weight in parse_palette(palette):
        lab = np.repeat(rgb_to_lab(np.float32([colour])), max(1, round(TARGET_SAMPLES * weight)), 0)
        lab[:, 1:] += rng.normal(0.0, PALETTE_SPREAD, (len(lab), 2)).astype(np.float32)
        parts.append(lab)
    return np.clip(lab_to_rgb(np.concatenate(parts)), 0.0, 1.0).astype(np.float32)


def _strided(image: np.ndarray) -> np.ndarray:
    """``image`` (H, W, ...) strided in both directions to at most :data:`SOLVE_PIXELS`."""
    step = max(1, math.ceil(math.sqrt(image.shape[0] * image.shape[1] / SOLVE_PIXELS)))
    return image[::step, ::step]


def _histogram_shift(
    lightness: np.ndarray,
    space: ColorSpace,
    hue: int | None,
    target: np.ndarray,
    distributions: Mapping[str, Any],
    decoder: str,
    seed: int,
) -> np.ndarray | None:
    """Change (h, w, 2), in ``space``'s plane, that the Eq. 6 bias towards ``target`` makes
    to the decoded distributions; None when they do not cover both chroma channels."""
    # Imported here: `import core` (which imports this module) does not otherwise load them.
    from core.decoders import decode_prediction
    from core.transfer import energy_minimisation

    first = next(iter(distributions.values()))
    dspace: ColorSpace = lookup.lookup("colorspace", first.colorspace)
    names = tuple(ch.name for ch in dspace.chroma_channels)
    joint = any(d.is_joint for d in distributions.values())
    same = all(d.colorspace == dspace.name for d in distributions.values())
    if not same or not (joint or all(name in distributions for name in names)):
        return None
    small = _resize(np.ascontiguousarray(lightness, np.float32), first.shape, cv2.INTER_AREA)
    gray = space.gray_of_lightness(small)

    def decoded(dists: Mapping[str, Any]) -> np.ndarray:
        values = decode_prediction(dict(dists), channels=names, decoder=decoder, seed=seed)
        if dspace.name != space.name:  # at the gray of the pixel's lightness, as suggest()
            rgb = np.clip(dspace.to_rgb(dspace.gray_lightness(gray), values), 0.0, 1.0)
            values = space.from_rgb(rgb.astype(np.float32))[1]
        return _to_plane(space, np.asarray(values, np.float32), hue)

    moved = energy_minimisation(dict(distributions), target.reshape(-1, 1, 3))
    return decoded(moved) - decoded(distributions)


def apply_global_hints(
    lightness: np.ndarray,
    chroma: np.ndarray,
    space: ColorSpace,
    target: np.ndarray,
    *,
    strength: float = 1.0,
    distributions: Mapping[str, Any] | None = None,
    decoder: str | None = None,
    seed: int | None = None,
) -> np.ndarray:
    """Move full-resolution ``chroma`` towards a whole-image colour distribution.

    No shipped network takes Zhang et al.'s (2017) global hints as an input, so here they
    are a histogram transfer (:mod:`core.transfer`): for methods with per-pixel histograms
    the change is what the bias of Larsson et al.'s Eq. 6 (Sec. 3.4), matching their mean
    histogram to the target's, does to the decoded chroma; for others each chroma channel (a
    circular hue as the plane ``C (cos, sin)``) is quantile-matched to the target's. The
    result is ``chroma + strength * change``.

    Parameters
    ----------
    lightness : ndarray, shape (H, W), float32
        The input's lightness in ``space``.
    chroma : ndarray, shape (H, W, 2), float32
        The method's chroma in ``space``.
    space : ColorSpace
    target : ndarray, shape (n, 3), float
        sRGB points of the target distribution (:func:`global_target`).
    strength : float
        In [0, 1]: 0 changes nothing, 1 is the full transfer.
    distributions : dict of Distribution, optional
        The method's histograms at its working resolution (``Colorization.distributions``).
    decoder : str, optional
        Their decoder; without one the quantile matching is used.
    seed : int, optional
        For sampling decoders (the same draws before and after the bias).

    Returns
    -------
    ndarray, shape (H, W, 2), float32

    References
    ----------
    Zhang et al. 2017, Sec. 3.3 (global hints). Larsson et al. Learning Representations
    for Automatic Colorization. ECCV 2016, Sec. 3.4, Eq. 6.
    """
    shape = (*lightness.shape, 2)
    hue = _plane_layout(space)
    plane = _to_plane(space, np.ascontiguousarray(chroma, np.float32), hue)
    change = None
    if distributions and decoder is not None:
        shift = _histogram_shift(
            lightness, space, hue, target, distributions, decoder, 0 if seed is None else seed
        )
        if shift is not None:
            change = _resize(shift, shape, cv2.INTER_LINEAR)
    if change is None:
        from core.transfer import match_quantiles  # see _histogram_shift

        points = space.from_rgb(np.asarray(target, np.float32).reshape(-1, 1, 3))[1]
        wanted = _to_plane(space, points.reshape(-1, 2).astype(np.float32), hue)
        source = _strided(plane).reshape(-1, 2)
        matched = [
            match_quantiles(plane[..., c], wanted[:, c], sample=source[:, c]) for c in (0, 1)
        ]
        change = np.stack(matched, -1).astype(np.float32) - plane
    out = plane + np.float32(strength) * change
    return _from_plane(space, out.astype(np.float32), hue)


# -- suggestions -------------------------------------------------------------------------

#: Suggestions at one point differ by at least this CIE76 ΔE (the swatches a user picks
#: from should look different): a less likely bin or sample closer than this to a listed
#: suggestion is not listed again.
MIN_DIFFERENCE = 10.0
#: Colorizations drawn by :func:`suggest` for a sampling method.
SAMPLES = 8
#: Drawn samples kept per result (by ``id``, dropped with the result), so that one click
#: after another does not run the method again.
_DRAWN: dict[int, np.ndarray] = {}


@dataclass(frozen=True)
class Suggestion:
    """A colour a method finds likely at one point: ``color`` (sRGB in [0, 1], the suggested
    chroma at the point's lightness as :meth:`core.colorspaces.base.ColorSpace.recombine`
    displays it), its CIE ``lab`` and a ``probability`` in [0, 1] (see :func:`suggest`)."""

    color: tuple[float, float, float]
    lab: tuple[float, float, float]
    probability: float

    @property
    def hex(self) -> str:
        """The colour as ``#rrggbb`` (what :func:`parse_color` reads back)."""
        return hex_colour(self.color)

    def to_dict(self) -> dict[str, Any]:
        """``{"color": "#rrggbb", "lab": [L, a, b], "probability": p}`` (JSON-ready)."""
        lab = [round(v, 3) for v in self.lab]
        return {"color": self.hex, "lab": lab, "probability": self.probability}


def _point(result: Any, x: Any, y: Any, k: Any) -> tuple[int, int]:
    """The input pixel (row, column) of ``x``, ``y``, refusing bad values."""
    height, width = result.lightness.shape
    for name, value in (("x", x), ("y", y)):
        if not _is_number(value):
            raise ValueError(f"{name} must be a number of input pixels, got {value!r}")
    if not (_finite(x) and _finite(y) and 0 <= x < width and 0 <= y < height):
        raise ValueError(
            f"point x={_shown(x)}, y={_shown(y)} is outside the {width}x{height} image "
            f"(x must be in [0, {width}), y in [0, {height}))"
        )
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    return int(y), int(x)


def _cell(shape: tuple[int, int], full: tuple[int, int], row: int, col: int) -> tuple[int, int]:
    """The pixel of a (h, w) working-resolution map under input pixel (row, col)."""
    (h, w), (height, width) = shape, full
    return min(h - 1, int((row + 0.5) * h / height)), min(w - 1, int((col + 0.5) * w / width))


def _displayed(space: ColorSpace, lightness: float, chroma: np.ndarray) -> np.ndarray:
    """sRGB (n, 3) of ``n`` chroma values of ``space`` at one pixel's ``lightness``."""
    chroma = np.asarray(chroma, np.float32).reshape(1, -1, 2)
    light = np.full(chroma.shape[:2], lightness, np.float32)
    return space.recombine(light, chroma)[0]


def _histogram(result: Any, space: ColorSpace, row: int, col: int):
    """Cells of the method's histogram at the pixel: (probabilities (n,), sRGB (n, 3)),
    most likely first; None when the distributions do not cover both chroma channels."""
    dists = result.distributions
    dist = next((d for d in dists.values() if d.is_joint), None)
    if dist is not None:
        names, centers = dist.channel_names, [b.centers for b in dist.bins]
        i, j = _cell(dist.shape, result.lightness.shape, row, col)
        probs = dist.probs[i, j].ravel()
    else:  # two marginals, taken as independent
        dspace: ColorSpace = lookup.lookup("colorspace", next(iter(dists.values())).colorspace)
        names = tuple(ch.name for ch in dspace.chroma_channels)
        pair = [dists.get(name) for name in names]
        if any(d is None or d.colorspace != dspace.name for d in pair):
            return None
        dist, centers = pair[0], [d.bins.centers for d in pair]
        i, j = _cell(dist.shape, result.lightness.shape, row, col)
        probs = np.outer(pair[0].probs[i, j], pair[1].probs[i, j]).ravel()
    values = np.stack(np.meshgrid(*centers, indexing="ij"), -1).reshape(-1, 2)
    dspace = lookup.lookup("colorspace", dist.colorspace)
    order = [ch.name for ch in dspace.chroma_channels]
    if list(names) != order:  # e.g. a joint "ba" distribution
        if sorted(names) != sorted(order):
            return None
        values = values[:, [list(names).index(name) for name in order]]
    total = float(probs.sum())
    probs = probs / total if total > 0 else np.full(probs.shape, 1.0 / probs.size)
    ranked = np.argsort(-probs, kind="stable")  # ties: the first cell, as argmax
    probs, values = probs[ranked], values[ranked]
    light = float(result.lightness[row, col])
    if dspace.name == space.name:
        return probs, _displayed(space, light, values)
    # chroma of the distribution's space at the pixel's gray, in the result's space
    gray = space.gray_of_lightness(np.array([light], np.float32))[0]
    dlight = np.full((1, len(values)), dspace.gray_lightness(np.array([gray]))[0], np.float32)
    rgb = np.clip(dspace.to_rgb(dlight, values[None].astype(np.float32)), 0.0, 1.0)
    return probs, _displayed(space, light, space.from_rgb(rgb)[1][0])


def _samples(result: Any, colorizer: Any, seed: int | None, samples: int) -> np.ndarray:
    """Chroma (n, h, w, 2) of ``samples`` colorizations at the working resolution."""
    key = id(result)
    drawn = _DRAWN.get(key)
    if drawn is not None and len(drawn) >= samples:
        return drawn[:samples]
    shape = tuple(result.metadata.get("working_shape") or ())
    if len(shape) != 2:
        shape = tuple(colorizer.working_shape(*result.lightness.shape))
    lightness = np.ascontiguousarray(result.lightness, np.float32)
    grow = shape[0] * shape[1] > lightness.size
    working = _resize(lightness, shape, cv2.INTER_LINEAR if grow else cv2.INTER_AREA)
    preds = colorizer.predict_samples(working, samples, seed=seed)
    drawn = np.stack([np.asarray(p.chroma, np.float32) for p in preds])
    if key not in _DRAWN:
        weakref.finalize(result, _DRAWN.pop, key, None)
    _DRAWN[key] = drawn
    return drawn


def suggest(
    result: Any, x: float, y: float, k: int = 6, *, samples: int = SAMPLES
) -> list[Suggestion]:
    """The ``k`` colours the method finds most likely at input pixel (``x``, ``y``).

    What the list holds depends on what the method predicts:

    - **a distribution** (``larsson``, ``cnn-classification``): the bins of the histogram
      of the working-resolution pixel under the point, a joint histogram's cells or the
      pairs of two marginals' (probability ``p1 * p2``), most likely (the mode) first;
      a bin within :data:`MIN_DIFFERENCE` ΔE of a more likely listed one is left out, so
      the probabilities (the bins' own) need not sum to 1.
    - **samples** (``capabilities.diverse`` and no distribution: ``pixcolor``,
      ``semantic``): ``samples`` colorizations drawn once per result (seeds
      ``result.seed``, ``result.seed + 1``, ...), their colours at the point grouped (a
      colour within :data:`MIN_DIFFERENCE` of a group's first joins it): each group's
      mean colour, with its share of the samples.
    - **only a point estimate** (``exemplar``, ``welsh``, regression methods): the
      result's own colour at the point, with probability 1.

    Each colour is the suggested chroma at the point's own lightness, as the core
    displays it; fewer than ``k`` when fewer distinct colours exist. ``result`` is a
    :class:`core.Colorization` (its hints do not matter), ``x``, ``y`` input pixels as in
    :class:`Hint`. Returns a list of :class:`Suggestion`; raises ``ValueError`` for a point
    outside the image (the message gives its size) or a ``k`` or ``samples`` that is not a
    positive integer. Zhang et al. 2017, Sec. 3 (suggestions from the distribution).
    """
    row, col = _point(result, x, y, k)
    space: ColorSpace = lookup.lookup("colorspace", result.colorspace)
    known = result.method in lookup.names("method")
    colorizer = lookup.lookup("method", result.method) if known else None
    found = _histogram(result, space, row, col) if result.distributions else None
    if found is not None:
        probs, rgb = found
        lab = rgb_to_lab(rgb.astype(np.float32))
        picked: list[int] = []
        for index in range(len(probs)):
            if len(picked) == k or probs[index] <= 0:
                break
            if all(np.linalg.norm(lab[index] - lab[p]) >= MIN_DIFFERENCE for p in picked):
                picked.append(index)
        return [_suggestion(rgb[p], lab[p], float(probs[p])) for p in picked]
    caps = getattr(colorizer, "capabilities", None)
    if caps is not None and caps.diverse and caps.automatic:
        if isinstance(samples, bool) or not isinstance(samples, (int, np.integer)) or samples < 1:
            raise ValueError(f"samples must be a positive integer, got {samples!r}")
        drawn = _samples(result, colorizer, result.seed, int(samples))
        i, j = _cell(drawn.shape[1:3], result.lightness.shape, row, col)
        rgb = _displayed(space, float(result.lightness[row, col]), drawn[:, i, j])
        lab = rgb_to_lab(rgb.astype(np.float32))
        groups: list[list[int]] = []
        for index in range(len(lab)):
            for group in groups:
                if np.linalg.norm(lab[index] - lab[group[0]]) < MIN_DIFFERENCE:
                    group.append(index)
                    break
            else:
                groups.append([index])
        groups = sorted(groups, key=len, reverse=True)[:k]  # stable: ties keep the order drawn
        colours = [np.clip(lab_to_rgb(lab[group].mean(0)), 0.0, 1.0) for group in groups]
        shares = [len(group) / len(lab) for group in groups]
        return [_suggestion(c, rgb_to_lab(c), p) for c, p in zip(colours, shares, strict=True)]
    rgb = np.asarray(result.rgb[row, col], np.float32)
    return [_suggestion(rgb, rgb_to_lab(rgb), 1.0)]


def _suggestion(rgb: np.ndarray, lab: np.ndarray, probability: float) -> Suggestion:
    """A :class:`Suggestion` of arrays' values, as floats."""
    color, lab = tuple(map(float, rgb)), tuple(map(float, lab))
    return Suggestion(color, lab, probability)  # type: ignore[arg-type]
