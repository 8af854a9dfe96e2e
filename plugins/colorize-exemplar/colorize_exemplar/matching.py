"""Dense correspondence and similarity maps on deep features (numpy only).

This is the similarity sub-net of He et al. (2018, §3.1) with the correspondence
algorithm swapped: the paper takes the bidirectional mappings phi_T->R and phi_R->T
from Deep Image Analogy; here they come from a **matcher**, a registered component
that the ``exemplar`` colorizer looks up by name (``matcher=`` option). Everything
works on feature pyramids already resampled to one grid, as lists of five arrays of
shape (C_i, h, w).

Matchers
--------
A matcher is a :class:`core.transfer.Transfer` with ``operates_on="features"``,
registered through the ``register_transfers`` hook like any colour transfer::

    matcher(target, reference, **options) -> (target_to_reference, reference_to_target)

* ``target``, ``reference``: the two feature pyramids, lists of five float32 arrays
  (C_i, h, w) and (C_i, hr, wr), level i having the same C_i in both, **not**
  normalised (raw outputs of the feature network; :func:`normalise` gives unit-norm
  features per grid point). The grids are the 1/4-resolution grids of the working
  images (a 64 × 96 working image gives h, w = 16, 24).
* result: two integer arrays, ``target_to_reference`` of shape (h * w,) with values in
  [0, hr * wr) (phi_T->R: row-major flat index of the reference grid point matched to
  each target grid point) and ``reference_to_target`` of shape (hr * wr,) with values
  in [0, h * w) (phi_R->T).

The colorizer checks the result (:func:`check_mappings`), computes the similarity
maps of Eq. 1 from the mappings and the features (:func:`similarity_maps`, so every
matcher is scored the same way, the way the colorization sub-net was trained), warps
the reference chrominance through phi_T->R (:func:`warp`) and runs the sub-net.

Built in (registered by this plugin, :data:`MATCHERS`):

``exemplar-nn``
    :func:`nearest_neighbours`: cosine nearest neighbours over the whole grid, both
    directions (the default; what :func:`correspond` uses).
``exemplar-nn-coarse-to-fine``
    :func:`coarse_to_fine`: nearest neighbours on a 2× coarser grid, then refined on
    the full grid by searching only a small window around the upsampled coarse match.

References
----------
He, Chen, Liao, Sander, Yuan. Deep Exemplar-based Colorization. ACM TOG 37(4), 2018,
§3.1, Eqs. 1-2, Fig. 11.
Liao, Yao, Yuan, Hua, Kang. Visual Attribute Transfer through Deep Image Analogy.
ACM TOG 36(4), 2017 (coarse-to-fine matching of feature pyramids).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from core.errors import UnknownNameError
from core.transfer import Transfer

__all__ = [
    "DEFAULT_MATCHER",
    "MATCHERS",
    "Correspondence",
    "UnknownMatcherError",
    "check_mappings",
    "coarse_to_fine",
    "correspond",
    "get_matcher",
    "matcher_names",
    "nearest_neighbours",
    "normalise",
    "similarity_maps",
    "warp",
]

#: Levels (0-based) whose cosine similarities are summed to choose neighbours.
MATCH_LEVELS = (1, 2, 3, 4)
#: Name of the matcher the ``exemplar`` colorizer uses unless told otherwise.
DEFAULT_MATCHER = "exemplar-nn"


@dataclass(frozen=True)
class Correspondence:
    """Bidirectional nearest-neighbour mappings and similarity maps on the coarse grid.

    Attributes
    ----------
    target_to_reference : ndarray (h * w,) int64
        phi_T->R: flat reference index of each target grid point.
    reference_to_target : ndarray (hr * wr,) int64
        phi_R->T: flat target index of each reference grid point.
    forward : ndarray (levels, h, w) float32 in [-1, 1]
        sim^i_T->R (Eq. 1, first line).
    backward : ndarray (levels, h, w) float32 in [-1, 1]
        sim^i_R->T (Eq. 1, second line).
    """

    target_to_reference: np.ndarray
    reference_to_target: np.ndarray
    forward: np.ndarray
    backward: np.ndarray


class UnknownMatcherError(UnknownNameError):
    """No matcher (a transfer with ``operates_on="features"``) of this name is installed."""

    kind = "matcher"


def normalise(levels: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Each (C, h, w) level -> unit-norm features (h * w, C), float32."""
    out = []
    for f in levels:
        f = np.asarray(f, np.float32)
        if f.ndim != 3:
            raise ValueError(f"expected (C, h, w) feature maps, got shape {f.shape}")
        flat = f.reshape(f.shape[0], -1).T
        out.append(flat / (np.linalg.norm(flat, axis=1, keepdims=True) + 1e-6))
    return out


def _check_pyramids(target: Sequence[np.ndarray], reference: Sequence[np.ndarray]) -> None:
    if len(target) != len(reference):
        raise ValueError(
            f"expected pyramids of equal depth, got {len(target)} and {len(reference)}"
        )


def _grid(levels: Sequence[np.ndarray]) -> tuple[int, int]:
    h, w = np.asarray(levels[0]).shape[-2:]
    return int(h), int(w)


def nearest_neighbours(
    target: Sequence[np.ndarray],
    reference: Sequence[np.ndarray],
    *,
    match_levels: Sequence[int] = MATCH_LEVELS,
) -> tuple[np.ndarray, np.ndarray]:
    """phi_T->R and phi_R->T by cosine nearest neighbours over the whole grid (``exemplar-nn``).

    The score of a pair of grid points (p, q) is the sum over ``match_levels`` of the
    cosine similarities d(F_T^i(p), F_R^i(q)) (Eq. 2); phi_T->R(p) is the q of highest
    score and phi_R->T(q) the p of highest score. Cost: one (h w) × (hr wr) score matrix.

    Parameters
    ----------
    target, reference : sequence of ndarray (C_i, h, w) and (C_i, hr, wr)
        Feature pyramids (any scale; normalised here).
    match_levels : sequence of int
        Levels (0-based) whose similarities are summed.

    Returns
    -------
    target_to_reference : ndarray (h * w,) int64
    reference_to_target : ndarray (hr * wr,) int64

    References
    ----------
    He et al. 2018, §3.1, Eq. 2.

    Examples
    --------
    >>> f = [np.random.default_rng(0).random((4, 3, 5))]
    >>> t2r, r2t = nearest_neighbours(f, f, match_levels=(0,))
    >>> bool((t2r == np.arange(15)).all())
    True
    """
    _check_pyramids(target, reference)
    ft, fr = normalise(target), normalise(reference)
    score = sum(ft[i] @ fr[i].T for i in match_levels)
    return np.argmax(score, axis=1), np.argmax(score, axis=0)


def _unit_maps(levels: Sequence[np.ndarray]) -> list[np.ndarray]:
    """(C, h, w) levels -> unit-norm (h, w, C) float32 maps."""
    out = []
    for f in levels:
        f = np.moveaxis(np.asarray(f, np.float32), 0, -1)
        out.append(f / (np.linalg.norm(f, axis=-1, keepdims=True) + 1e-6))
    return out


def _halve(level: np.ndarray) -> np.ndarray:
    """2 × 2 average of an (h, w, C) map (edge row/column repeated for odd sizes)."""
    h, w = level.shape[:2]
    level = np.pad(level, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge")
    h2, w2 = level.shape[0] // 2, level.shape[1] // 2
    mean = level.reshape(h2, 2, w2, 2, -1).mean(axis=(1, 3))
    return mean / (np.linalg.norm(mean, axis=-1, keepdims=True) + 1e-6)


def _refine(
    source: np.ndarray,
    other: np.ndarray,
    coarse: np.ndarray,
    coarse_other_shape: tuple[int, int],
    radius: int,
    chunk: int = 256,
) -> np.ndarray:
    """Best match of each ``source`` point among a window around its upsampled coarse match.

    ``source`` (h, w, C) and ``other`` (ho, wo, C) hold the match levels' unit-norm
    features side by side, so a dot product is the sum of the levels' cosines. The four
    children (2i + a, 2j + b) of a coarse point (i, j) share its match q; child (a, b)
    searches the (2 radius + 1)^2 window centred on 2 q + (a, b). The four windows lie in
    one (2 radius + 2)^2 patch around 2 q, gathered once and scored by one batched product.
    """
    h, w, c = source.shape
    ho, wo = other.shape[:2]
    ch, cw = coarse.shape
    src = np.pad(source, ((0, max(0, 2 * ch - h)), (0, max(0, 2 * cw - w)), (0, 0)), mode="edge")
    children = src[: 2 * ch, : 2 * cw].reshape(ch, 2, cw, 2, c).transpose(0, 2, 1, 3, 4)
    children = np.ascontiguousarray(children).reshape(ch * cw, 4, c)
    qy, qx = np.divmod(coarse.reshape(-1), coarse_other_shape[1])
    span = np.arange(-radius, radius + 2)
    size = span.size
    rows = np.clip(2 * qy[:, None] + span, 0, ho - 1)
    cols = np.clip(2 * qx[:, None] + span, 0, wo - 1)
    patch_index = (rows[:, :, None] * wo + cols[:, None, :]).reshape(-1, size * size)
    # allowed[a * 2 + b]: the window of child (a, b) inside the patch
    allowed = np.zeros((4, size, size), bool)
    for a in range(2):
        for b in range(2):
            allowed[2 * a + b, a : a + 2 * radius + 1, b : b + 2 * radius + 1] = True
    allowed = allowed.reshape(4, size * size)
    flat_other = other.reshape(ho * wo, c)
    match = np.empty((ch * cw, 4), np.int64)
    for start in range(0, ch * cw, chunk):
        stop = min(start + chunk, ch * cw)
        patch = np.take(flat_other, patch_index[start:stop], axis=0)  # (n, size^2, C)
        score = np.matmul(children[start:stop], patch.transpose(0, 2, 1))  # (n, 4, size^2)
        score = np.where(allowed, score, -np.inf)
        best = np.argmax(score, axis=2)
        match[start:stop] = np.take_along_axis(patch_index[start:stop], best, axis=1)
    match = match.reshape(ch, cw, 2, 2).transpose(0, 2, 1, 3).reshape(2 * ch, 2 * cw)
    return match[:h, :w]


def coarse_to_fine(
    target: Sequence[np.ndarray],
    reference: Sequence[np.ndarray],
    *,
    match_levels: Sequence[int] = MATCH_LEVELS,
    steps: int = 1,
    radius: int = 2,
) -> tuple[np.ndarray, np.ndarray]:
    """phi_T->R and phi_R->T matched coarse to fine (``exemplar-nn-coarse-to-fine``).

    The unit-norm features of ``match_levels`` are averaged over 2 × 2 blocks (and
    re-normalised) ``steps`` times; at the coarsest grid both mappings are full cosine
    nearest neighbours as in :func:`nearest_neighbours`. Going back up one grid at a
    time, a point p takes as candidates the (2 radius + 1)^2 points around
    2 phi(parent(p)) + (p mod 2) (its coarse match, upsampled, at p's position in its
    block) and keeps the one whose summed cosine similarity (Eq. 2) is highest. The
    search at the finest grid costs O(h w (2 radius + 1)^2) instead of O(h w hr wr), and
    the coarse match keeps neighbouring points' matches consistent. Both directions are
    computed independently.

    Parameters
    ----------
    target, reference : sequence of ndarray (C_i, h, w) and (C_i, hr, wr)
    match_levels : sequence of int
        Levels (0-based) whose similarities are summed.
    steps : int, default 1
        Number of 2× coarser grids (stops early when a grid side would drop below 2).
    radius : int, default 2
        Half-size of the search window at each finer grid, in grid points.

    Returns
    -------
    target_to_reference : ndarray (h * w,) int64
    reference_to_target : ndarray (hr * wr,) int64

    Raises
    ------
    ValueError
        If the pyramids differ in depth, ``steps < 0`` or ``radius < 0``.

    References
    ----------
    He et al. 2018, §3.1 (the mappings), Eq. 2; Liao et al. 2017, §4 (coarse-to-fine
    matching over a feature pyramid, restricted search around the upsampled match).
    """
    _check_pyramids(target, reference)
    if steps < 0 or radius < 0:
        raise ValueError(f"steps and radius must be >= 0, got {steps} and {radius}")
    scales_t = [_unit_maps([target[i] for i in match_levels])]
    scales_r = [_unit_maps([reference[i] for i in match_levels])]
    for _ in range(steps):
        if min(*scales_t[-1][0].shape[:2], *scales_r[-1][0].shape[:2]) < 4:
            break
        scales_t.append([_halve(f) for f in scales_t[-1]])
        scales_r.append([_halve(f) for f in scales_r[-1]])
    # levels side by side: a dot product is the sum of the levels' cosine similarities
    scales_t = [np.concatenate(levels, axis=-1) for levels in scales_t]
    scales_r = [np.concatenate(levels, axis=-1) for levels in scales_r]
    top_t, top_r = scales_t[-1], scales_r[-1]
    (h, w, c), (hr, wr) = top_t.shape, top_r.shape[:2]
    score = top_t.reshape(h * w, c) @ top_r.reshape(hr * wr, c).T
    t2r = np.argmax(score, axis=1).reshape(h, w)
    r2t = np.argmax(score, axis=0).reshape(hr, wr)
    for level in range(len(scales_t) - 2, -1, -1):
        coarse_t, coarse_r = t2r.shape, r2t.shape
        t2r = _refine(scales_t[level], scales_r[level], t2r, coarse_r, radius)
        r2t = _refine(scales_r[level], scales_t[level], r2t, coarse_t, radius)
    return t2r.reshape(-1), r2t.reshape(-1)


def _similarity(
    ft: list[np.ndarray],
    fr: list[np.ndarray],
    t2r: np.ndarray,
    r2t: np.ndarray,
    shape: tuple[int, int],
) -> Correspondence:
    back = r2t[t2r]
    forward = np.stack([np.sum(a * b[t2r], axis=1) for a, b in zip(ft, fr, strict=True)])
    backward = np.stack([np.sum(a[back] * b[t2r], axis=1) for a, b in zip(ft, fr, strict=True)])
    return Correspondence(
        target_to_reference=t2r,
        reference_to_target=r2t,
        forward=forward.reshape(-1, *shape).astype(np.float32),
        backward=backward.reshape(-1, *shape).astype(np.float32),
    )


def similarity_maps(
    target: Sequence[np.ndarray],
    reference: Sequence[np.ndarray],
    target_to_reference: np.ndarray,
    reference_to_target: np.ndarray,
) -> Correspondence:
    """The similarity maps of Eq. 1 for given mappings phi_T->R and phi_R->T.

    Parameters
    ----------
    target, reference : sequence of ndarray (C_i, h, w) and (C_i, hr, wr)
    target_to_reference : ndarray (h * w,) int
    reference_to_target : ndarray (hr * wr,) int
        Checked with :func:`check_mappings`.

    Returns
    -------
    Correspondence
        ``forward[i](p) = d(F_T^i(p), F_R^i(phi_T->R(p)))`` and
        ``backward[i](p) = d(F_T^i(phi_R->T(phi_T->R(p))), F_R^i(phi_T->R(p)))``, d the
        cosine similarity (Eq. 2), for every level i.

    References
    ----------
    He et al. 2018, §3.1, Eqs. 1-2.
    """
    _check_pyramids(target, reference)
    shape = _grid(target)
    t2r, r2t = check_mappings((target_to_reference, reference_to_target), shape, _grid(reference))
    return _similarity(normalise(target), normalise(reference), t2r, r2t, shape)


def check_mappings(
    result: Any, target_grid: tuple[int, int], reference_grid: tuple[int, int], name: str = ""
) -> tuple[np.ndarray, np.ndarray]:
    """Validate a matcher's result; return it as two int64 arrays.

    Raises
    ------
    ValueError
        If ``result`` is not a pair of integer arrays of shapes (h * w,) and (hr * wr,)
        with values in [0, hr * wr) and [0, h * w). The message names the matcher.
    """
    who = f"matcher {name!r}" if name else "matcher"
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        raise ValueError(
            f"{who} must return (target_to_reference, reference_to_target), "
            f"got {type(result).__name__}"
        )
    n_t, n_r = target_grid[0] * target_grid[1], reference_grid[0] * reference_grid[1]
    out = []
    for what, mapping, size, bound in (
        ("target_to_reference", result[0], n_t, n_r),
        ("reference_to_target", result[1], n_r, n_t),
    ):
        mapping = np.asarray(mapping)
        if mapping.shape != (size,) or not np.issubdtype(mapping.dtype, np.integer):
            raise ValueError(
                f"{who}: expected {what} as an integer array of shape ({size},), "
                f"got {mapping.dtype} {mapping.shape}"
            )
        if size and (mapping.min() < 0 or mapping.max() >= bound):
            raise ValueError(
                f"{who}: {what} has indices outside [0, {bound}): "
                f"min {mapping.min()}, max {mapping.max()}"
            )
        out.append(mapping.astype(np.int64, copy=False))
    return out[0], out[1]


def correspond(
    target: Sequence[np.ndarray],
    reference: Sequence[np.ndarray],
    *,
    match_levels: Sequence[int] = MATCH_LEVELS,
) -> Correspondence:
    """Cosine nearest neighbours T->R and R->T and the similarity maps of Eq. 1.

    :func:`nearest_neighbours` followed by :func:`similarity_maps` (the default path of
    the ``exemplar`` colorizer).

    Parameters
    ----------
    target, reference : sequence of ndarray (C_i, h, w) and (C_i, hr, wr)
        Feature pyramids of T_L and R_L on their coarse grids (same channels per level).
    match_levels : sequence of int
        Levels (0-based) whose cosine similarities are summed to choose neighbours.

    Returns
    -------
    Correspondence
        ``forward[i](p) = d(F_T^i(p), F_R^i(phi_T->R(p)))`` and
        ``backward[i](p) = d(F_T^i(phi_R->T(phi_T->R(p))), F_R^i(phi_T->R(p)))`` with d
        the cosine similarity (Eq. 2).

    Examples
    --------
    >>> f = [np.random.default_rng(0).random((4, 3, 5))]
    >>> c = correspond(f, f, match_levels=(0,))
    >>> bool(np.allclose(c.forward, 1, atol=1e-5))
    True
    """
    _check_pyramids(target, reference)
    ft, fr = normalise(target), normalise(reference)
    score = sum(ft[i] @ fr[i].T for i in match_levels)
    t2r = np.argmax(score, axis=1)
    r2t = np.argmax(score, axis=0)
    return _similarity(ft, fr, t2r, r2t, _grid(target))


def warp(values: np.ndarray, mapping: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """R'(p) = R(phi(p)): gather (hr, wr, C) reference values on the target grid ``shape``."""
    values = np.asarray(values)
    flat = values.reshape(-1, values.shape[-1])
    return flat[mapping].reshape(*shape, values.shape[-1])


#: The matchers this plugin registers (``register_transfers`` in :mod:`.plugin`).
MATCHERS: tuple[Transfer, ...] = (
    Transfer(
        DEFAULT_MATCHER,
        nearest_neighbours,
        "cosine nearest neighbours on deep features (He et al. 2018 §3.1)",
        operates_on="features",
    ),
    Transfer(
        "exemplar-nn-coarse-to-fine",
        coarse_to_fine,
        "cosine nearest neighbours on a 2x coarser grid, refined in a 5x5 window",
        operates_on="features",
    ),
)


def _matchers() -> dict[str, Callable[..., Any]]:
    from core.plugins import get_registry

    return {
        name: entry.obj
        for name, entry in get_registry().entries("transfer").items()
        if getattr(entry.obj, "operates_on", None) == "features"
    }


def matcher_names() -> list[str]:
    """Names of the installed matchers (transfers with ``operates_on="features"``), sorted."""
    return sorted(_matchers())


def get_matcher(name: str) -> Callable[..., Any]:
    """The installed matcher called ``name``.

    Raises
    ------
    UnknownMatcherError
        No matcher has that name (the message lists the installed ones; a colour
        transfer of that name is not a matcher).
    """
    matchers = _matchers()
    if not isinstance(name, str) or name not in matchers:
        raise UnknownMatcherError(name, matchers)
    return matchers[name]
