"""User colour hints, spread over regions of similar lightness (Levin et al. 2004).

A :class:`Hint` is a point of the input image (``x``, ``y`` in input pixels), a colour
and an optional radius. :func:`apply_hints` corrects a method's full-resolution chroma so
that the hinted pixels take the hint's chroma and the correction spreads to neighbours of
similar lightness, fading with distance, while everywhere else the method's own chroma is
kept. The core calls it for every method (automatic or exemplar) between upsampling the
prediction and the recombination with the full-resolution lightness
(:func:`core.colorize_result`, ``hints=``).

The solve
---------
The unknown is the *correction* ``D`` (two chroma channels) added to the method's chroma,
not the chroma itself: the method's prediction is the prior. Levin, Lischinski and Weiss
ask that each pixel's value equal the affinity-weighted mean of its 3 x 3 neighbours
(Eq. 1), with affinities from lightness differences normalised by the local lightness
variance (Eq. 2); hinted pixels are fixed. Here the affinities are made symmetric (the
two pixels' variances are summed) so that each row of Eq. 1, multiplied by its total
affinity, is a row of the graph Laplacian ``L = Deg - A``; a weak decay term
``lambda * Deg`` pulls ``D`` to zero away from the hints (without it, one hint would
recolour the whole image). The system ``(L + lambda Deg) D = 0`` on the unhinted pixels,
``D = hint - prior`` on the hinted ones, is symmetric positive definite and is solved
directly (``scipy.sparse.linalg.splu``, minimum-degree ordering of ``A + A^T``) for both
channels at once.

Resolution: the system is built on a *solve grid*, the full-resolution lightness reduced
(area averaging) to at most :data:`SOLVE_PIXELS` pixels, keeping the aspect ratio (the
input's own size when it is smaller). The methods' working resolutions (64 to 160 px) are
too coarse for the edges a hint should respect, and a full-resolution solve of a 12 MP
photo would need gigabytes for the factorisation; on the solve grid the cost does not
depend on the input's size (docs/performance.md measures it at 12 MP). The correction is
then upsampled bilinearly and added to the full-resolution chroma, so an unhinted region
keeps the method's chroma exactly (up to the faded tail of ``D``).

Chroma channels are corrected as they are in the method's colour space when they are
linear (Lab a, b; YCbCr Cb, Cr); a space with a circular hue channel is corrected in the
plane ``C (cos 2 pi H, sin 2 pi H)``.

References
----------
A. Levin, D. Lischinski, Y. Weiss. Colorization using Optimization. ACM Transactions on
Graphics 23(3), SIGGRAPH 2004, Eqs. 1-2.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from core.colorspaces.base import ColorSpace
from core.errors import InvalidHintsError

__all__ = [
    "MAX_COORDINATE",
    "REACH",
    "SOLVE_PIXELS",
    "Hint",
    "apply_hints",
    "check_hints",
    "load_hints",
    "parse_color",
    "parse_hints",
    "resolve_hints",
    "solve_correction",
    "solve_shape",
]

#: Most pixels of the solve grid (about 340 x 190 for a 16:9 photo, 256 x 256 square).
SOLVE_PIXELS = 1 << 16
#: How far a correction reaches in a flat region, as a fraction of the solve grid's long
#: side: the decay length of ``D`` there (it also stops at lightness edges).
REACH = 0.5
#: Default hint radius, as a fraction of the input's long side.
DEFAULT_RADIUS = 0.005
#: Bounds of the local lightness variance of Eq. 2, in L* units squared (lightness on a
#: 0-100 scale): the lower keeps smooth gradients connected, the upper keeps an edge of
#: 10 L* units a barrier even inside texture.
_VARIANCE_BOUNDS = (1.0, 9.0)
#: Most hints in one request (a safeguard for the JSON readers, not a limit of the solve).
MAX_HINTS = 1000
#: Largest hint coordinate and radius, in input pixels: 2**31, past the longest side an
#: image can have in Pillow or OpenCV (32-bit sizes). Beyond it a value is a mistake, and
#: its square would overflow floats in the solve.
MAX_COORDINATE = float(2**31)

_HEX = re.compile(r"#?([0-9a-fA-F]{3}|[0-9a-fA-F]{6})")
_KEYS = {"x", "y", "color", "colour", "radius"}


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
            if isinstance(value, bool) or not isinstance(value, (int, float, np.number)):
                raise ValueError(f"hint {name} must be a number, got {value!r}")
            if not (_finite(value) and abs(float(value)) <= MAX_COORDINATE):
                raise ValueError(
                    f"hint {name} must be finite and within +-{bound} pixels, got {_shown(value)}"
                )
        color = tuple(float(c) for c in self.color)
        if len(color) != 3 or not all(0.0 <= c <= 1.0 for c in color):
            raise ValueError(f"hint color must be 3 sRGB values in [0, 1], got {self.color!r}")
        object.__setattr__(self, "color", color)
        if self.radius is not None:
            r = self.radius
            if isinstance(r, bool) or not isinstance(r, (int, float, np.number)):
                raise ValueError(f"hint radius must be a number or null, got {r!r}")
            if not (_finite(r) and 0 <= float(r) <= MAX_COORDINATE):
                raise ValueError(
                    f"hint radius must be a finite number of pixels in [0, {bound}], "
                    f"got {_shown(r)}"
                )

    @property
    def hex(self) -> str:
        """The colour as ``#rrggbb``."""
        return "#" + "".join(f"{round(c * 255):02x}" for c in self.color)

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
        unknown = sorted(set(data) - _KEYS)
        if unknown:
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
        if len(digits) == 3:
            digits = "".join(d * 2 for d in digits)
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
        extra = sorted(set(data) - {"hints"})
        if "hints" not in data or extra:
            raise InvalidHintsError(source, 'expected {"hints": [...]} or a list of hints')
        data = data["hints"]
    if isinstance(data, (str, bytes)) or not isinstance(data, Iterable):
        raise InvalidHintsError(source, f"expected a list of hints, got {type(data).__name__}")
    hints = []
    for number, item in enumerate(data, start=1):
        if number > MAX_HINTS:
            raise InvalidHintsError(source, f"more than {MAX_HINTS} hints")
        if isinstance(item, Hint):
            hints.append(item)
            continue
        try:
            hints.append(Hint.from_dict(item))
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
    path = Path(path)
    try:
        with open(path, "rb") as f:
            raw = f.read(1 << 20 + 1)
    except OSError as exc:
        raise InvalidHintsError(str(path), f"cannot read it ({exc.strerror or exc})") from None
    if len(raw) > 1 << 20:
        raise InvalidHintsError(str(path), "hint file is over 1 MiB; expected a small JSON file")
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise InvalidHintsError(str(path), f"not valid JSON ({exc})") from None
    return parse_hints(data, source=str(path))


def resolve_hints(hints: Any) -> tuple[list[Hint], str]:
    """``hints=`` of the public API as ``(list of Hint, name used in messages)``.

    Accepts ``None``, a path to a JSON file, a sequence of :class:`Hint` or of hint
    objects, or ``{"hints": [...]}``.
    """
    if hints is None:
        return [], "<hints>"
    if isinstance(hints, (str, os.PathLike)):
        return load_hints(hints), str(hints)
    if isinstance(hints, Hint):
        return [hints], "<hints>"
    return parse_hints(hints), "<hints>"


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
    """Per solve-grid pixel: the index of the hint that fixes it (-1: none), and a mask.

    A later hint wins where discs overlap.
    """
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
        # the pixel under the point is always fixed
        owner[min(gh - 1, max(0, round(cy))), min(gw - 1, max(0, round(cx)))] = k
    return owner, owner >= 0


def _system(lightness: np.ndarray, reach: float):
    """The matrix ``L + lambda Deg`` of the solve grid (CSR, float64).

    ``lightness`` is (h, w) on a 0-100 scale. Affinity between 8-neighbours r, s:
    ``exp(-(Y_r - Y_s)^2 / (var_r + var_s))``, ``var`` the 3 x 3 lightness variance
    clipped to :data:`_VARIANCE_BOUNDS` (Levin et al. Eq. 2, symmetrised).
    """
    import scipy.sparse as sparse

    y = np.asarray(lightness, np.float64)
    h, w = y.shape
    mean = cv2.blur(y, (3, 3), borderType=cv2.BORDER_REFLECT)
    var = cv2.blur(y * y, (3, 3), borderType=cv2.BORDER_REFLECT) - mean * mean
    var = np.clip(var, *_VARIANCE_BOUNDS)
    index = np.arange(h * w, dtype=np.int64).reshape(h, w)
    rows, cols, values = [], [], []
    for dy, dx in ((0, 1), (1, -1), (1, 0), (1, 1)):  # each undirected pair once
        a = (slice(0, h - dy), slice(max(0, -dx), w - max(0, dx)))
        b = (slice(dy, h), slice(max(0, dx), w - max(0, -dx)))
        affinity = np.exp(-((y[a] - y[b]) ** 2) / (var[a] + var[b])).ravel()
        ia, ib = index[a].ravel(), index[b].ravel()
        rows += [ia, ib]
        cols += [ib, ia]
        values += [affinity, affinity]
    n = h * w
    adjacency = sparse.csr_matrix(
        (np.concatenate(values), (np.concatenate(rows), np.concatenate(cols))), shape=(n, n)
    )
    degree = np.asarray(adjacency.sum(axis=1)).ravel()
    # Flat region, 8 equal neighbours: D ~ exp(-distance / length), length^2 = 0.375 / lambda.
    length = max(1.0, reach * max(h, w))
    decay = 0.375 / length**2
    return (sparse.diags(degree * (1.0 + decay) + 1e-12) - adjacency).tocsr()


def solve_correction(
    lightness: np.ndarray,
    prior: np.ndarray,
    targets: np.ndarray,
    fixed: np.ndarray,
    *,
    reach: float = REACH,
) -> np.ndarray:
    """The chroma correction ``D`` on the solve grid (Levin et al. 2004 with a prior).

    Parameters
    ----------
    lightness : ndarray, shape (h, w)
        Lightness on a 0-100 scale.
    prior : ndarray, shape (h, w, 2)
        The method's chroma (a linear plane).
    targets : ndarray, shape (h, w, 2)
        The hint chroma, read where ``fixed``.
    fixed : ndarray of bool, shape (h, w)
        Hinted pixels.
    reach : float
        Decay length of ``D`` in a flat region, as a fraction of the long side.

    Returns
    -------
    ndarray, shape (h, w, 2), float32
        ``targets - prior`` on the fixed pixels, the propagated correction elsewhere.
    """
    from scipy.sparse.linalg import splu

    h, w = fixed.shape
    flat_fixed = fixed.ravel()
    known = (targets - prior).reshape(-1, 2)[flat_fixed].astype(np.float64)
    out = np.zeros((h * w, 2), np.float64)
    out[flat_fixed] = known
    free = ~flat_fixed
    if free.any() and flat_fixed.any():
        matrix = _system(lightness, reach)
        free_rows = matrix[free]
        rhs = -(free_rows[:, flat_fixed] @ known)
        lu = splu(
            free_rows[:, free].tocsc(),
            permc_spec="MMD_AT_PLUS_A",
            diag_pivot_thresh=0.0,
            options={"SymmetricMode": True},
        )
        out[free] = lu.solve(rhs)
    return out.reshape(h, w, 2).astype(np.float32)


def apply_hints(
    lightness: np.ndarray,
    chroma: np.ndarray,
    hints: Sequence[Hint],
    space: ColorSpace,
    *,
    max_pixels: int = SOLVE_PIXELS,
    reach: float = REACH,
) -> np.ndarray:
    """Correct full-resolution ``chroma`` so that it honours ``hints``.

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
        Bound of the solve grid (:func:`solve_shape`).
    reach : float
        Decay length of the correction in a flat region, as a fraction of the solve
        grid's long side.

    Returns
    -------
    ndarray, shape (H, W, 2), float32
        The corrected chroma (a new array; ``chroma`` is not changed). Without hints,
        ``chroma`` itself.

    References
    ----------
    Levin, Lischinski, Weiss. Colorization using Optimization. SIGGRAPH 2004, Eqs. 1-2.

    Examples
    --------
    >>> from core.colorspaces import LabSpace
    >>> light = np.full((40, 60), 50, np.float32); light[:, 30:] = 90
    >>> ab = np.zeros((40, 60, 2), np.float32)
    >>> out = apply_hints(light, ab, [Hint(10, 20, parse_color("#c03030"))], LabSpace())
    >>> bool(out[20, 5, 0] > 20), bool(abs(out[20, 50, 0]) < 1)
    (True, True)
    """
    if not hints:
        return chroma
    height, width = lightness.shape
    if chroma.shape != (height, width, 2):
        raise ValueError(f"expected chroma of shape {(height, width, 2)}, got {chroma.shape}")
    hue = _plane_layout(space)
    gh, gw = solve_shape((height, width), max_pixels)
    low, high = space.lightness_channel.low, space.lightness_channel.high
    small_l = cv2.resize(
        np.ascontiguousarray(lightness, np.float32), (gw, gh), interpolation=cv2.INTER_AREA
    )
    small_l = (small_l - low) * (100.0 / (high - low))
    plane = _to_plane(space, np.ascontiguousarray(chroma, np.float32), hue)
    prior = cv2.resize(plane, (gw, gh), interpolation=cv2.INTER_AREA)
    owner, fixed = _hinted_pixels(hints, (height, width), (gh, gw))
    colours = np.array([h.color for h in hints], np.float32)
    hint_chroma = _to_plane(space, space.from_rgb(colours)[1].astype(np.float32), hue)
    targets = hint_chroma[np.maximum(owner, 0)]
    correction = solve_correction(small_l, prior, targets, fixed, reach=reach)
    out = cv2.resize(correction, (width, height), interpolation=cv2.INTER_LINEAR)
    out += plane
    return _from_plane(space, out, hue)
