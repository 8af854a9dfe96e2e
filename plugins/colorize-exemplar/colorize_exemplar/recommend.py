"""Reference recommendation: global ranking, then local ranking by Eq. 8 (numpy only).

He et al. (2018, §4) recommend a colour reference for a gray target in two steps:

1. **Global ranking.** Cosine similarity (Eq. 2) between a global descriptor of the
   target and of every candidate (the paper: gray-VGG-19 ``fc6``, PCA-compressed from
   4,096 to 128 channels); the top N (N = 200) are kept.
2. **Local ranking** of these N by Eq. 8::

       score(T, R_i) = sum_p d(F_T^5(p), F_Ri^5(q)) + beta * d_H(C_T(p), C_Ri(q)),
       q = NN(p)

   with F^5 local features (``relu5_4``, PCA 512 -> 64), q the cosine nearest
   neighbour of p in the candidate, C(p) the 16 x 16 pixel cell of point p,
   d_H the correlation coefficient of the cells' luminance histograms and beta = 0.25.

Here, with the shared gray ImageNet backbone (``efficientnet-lite0-gray`` of
``colorize-backbone``, :mod:`colorize_exemplar.features`):

* every image is resized to :data:`FEATURE_SIZE` x :data:`FEATURE_SIZE` (aspect ratio
  not kept, so every descriptor has one shape) and run through the backbone once;
* **global descriptor**: the spatial mean of the ``head`` level (1,280 channels, the
  input of the network's ImageNet classifier: the analogue of VGG ``fc6``),
  L2-normalised, PCA-compressed to at most :data:`GLOBAL_DIM` (no class pre-filter);
* **local descriptors**: ``f16`` (stride 16, the analogue of ``relu5_4``; 112 channels)
  and ``f32`` (320 channels, upsampled bilinearly to the ``f16`` grid), each
  L2-normalised per point and concatenated (432 values), averaged over a :data:`GRID` x
  :data:`GRID` grid of cells (at 128 px one ``f16`` point per cell), PCA-compressed to
  at most :data:`LOCAL_DIM` per cell;
* **luminance histograms**: :data:`HIST_BINS` bins of L* in each cell of the same grid on
  the image at :data:`HIST_SIZE` px (16 x 16 pixel cells, as in the paper);
* scores are means over the grid points instead of sums (same ranking, comparable
  across grids).

References
----------
He, Chen, Liao, Sander, Yuan. Deep Exemplar-based Colorization. ACM TOG 37(4), 2018,
§4 and Eq. 8.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import cv2
import numpy as np

__all__ = [
    "BETA",
    "FEATURE_SIZE",
    "GLOBAL_DIM",
    "GRID",
    "HIST_BINS",
    "HIST_SIZE",
    "LOCAL_DIM",
    "TOP_N",
    "Descriptors",
    "Pca",
    "Ranking",
    "compress",
    "describe",
    "fit_pca",
    "global_descriptors",
    "rank",
]

#: Side of the square image the backbone sees (a multiple of 32).
FEATURE_SIZE = 128
#: Cells per side of the local grid (one local descriptor and one histogram per cell).
GRID = 8
#: Side of the square L* image the luminance histograms are taken from (16 px cells).
HIST_SIZE = 128
#: Bins of each cell's L* histogram over 0..100.
HIST_BINS = 16
#: Most PCA components kept for global (paper: 128) and local (paper: 64) descriptors.
GLOBAL_DIM = 128
LOCAL_DIM = 64
#: Backbone level whose spatial mean is the global descriptor (the classifier's input).
GLOBAL_LEVELS = ("head",)
#: Backbone levels whose features form the local descriptors (strides 16 and 32).
LOCAL_LEVELS = ("f16", "f32")
#: Weight of the luminance term in Eq. 8.
BETA = 0.25
#: Candidates kept by the global ranking for the local one (paper: N = 200).
TOP_N = 200

_EPS = 1e-6


@dataclass(frozen=True)
class Descriptors:
    """Uncompressed descriptors of one image.

    Attributes
    ----------
    global_raw : ndarray (G,) float32
        L2-normalised spatial mean of the backbone's ``head`` level
        (:data:`GLOBAL_LEVELS`).
    local_raw : ndarray (GRID * GRID, D) float32
        Cell means of the per-point normalised local levels.
    histograms : ndarray (GRID * GRID, HIST_BINS) float32
        Per-cell L* histograms, centred and scaled to unit norm, so that the dot
        product of two is their correlation coefficient (d_H of Eq. 8).
    """

    global_raw: np.ndarray
    local_raw: np.ndarray
    histograms: np.ndarray


def _unit(x: np.ndarray, axis: int = -1) -> np.ndarray:
    return x / (np.linalg.norm(x, axis=axis, keepdims=True) + _EPS)


def _cell_histograms(lightness: np.ndarray) -> np.ndarray:
    """(GRID * GRID, HIST_BINS) centred unit-norm L* histograms of the grid cells."""
    small = cv2.resize(lightness, (HIST_SIZE, HIST_SIZE), interpolation=cv2.INTER_AREA)
    cell = HIST_SIZE // GRID
    bins = np.clip((small * (HIST_BINS / 100.0)).astype(np.int64), 0, HIST_BINS - 1)
    cells = bins.reshape(GRID, cell, GRID, cell).transpose(0, 2, 1, 3).reshape(GRID * GRID, -1)
    offsets = np.arange(GRID * GRID)[:, None] * HIST_BINS
    counts = np.bincount((cells + offsets).ravel(), minlength=GRID * GRID * HIST_BINS)
    hist = counts.reshape(GRID * GRID, HIST_BINS).astype(np.float32)
    return _unit(hist - hist.mean(axis=1, keepdims=True))


def global_descriptors(levels: Sequence[np.ndarray]) -> np.ndarray:
    """Raw global descriptors (§4 global ranking): unit spatial means of each level.

    Parameters
    ----------
    levels : sequence of ndarray (..., C_i, h_i, w_i)
        The feature levels of one image (C_i, h_i, w_i) or of a batch (N, C_i, h_i, w_i).

    Returns
    -------
    ndarray (..., sum C_i) float32
        Each level contributes an L2-normalised spatial mean, so rows have norm
        sqrt(len(levels)). :func:`describe` uses it for one image, the training pair
        sampler (:mod:`colorize_exemplar.pairs`) for whole batches.

    Examples
    --------
    >>> d = global_descriptors([np.ones((2, 3, 4, 4)), np.ones((2, 5, 2, 2))])
    >>> d.shape, bool(np.allclose((d**2).sum(1), 2))
    ((2, 8), True)
    """
    parts = []
    for level in levels:
        level = np.asarray(level, np.float32)
        if level.ndim < 3:
            raise ValueError(
                f"expected (N, C, h, w) or (C, h, w) feature levels, got shape {level.shape}"
            )
        parts.append(_unit(level.mean(axis=(-2, -1))))
    return np.concatenate(parts, axis=-1)


def describe(
    lightness: np.ndarray, features: Callable[[np.ndarray], Mapping[str, np.ndarray]]
) -> Descriptors:
    """Global and local descriptors and cell histograms of one L* image.

    Parameters
    ----------
    lightness : ndarray (H, W) float
        CIE L* in 0..100 (a gray target, or the lightness of a colour reference).
    features : callable
        Maps an (S, S) L* image (S = :data:`FEATURE_SIZE`) to the backbone's levels by
        name, each (C, S / stride, S / stride), e.g.
        :meth:`core.backbones.Backbone.features` of the gray backbone.

    Returns
    -------
    Descriptors

    Examples
    --------
    >>> fake = lambda L: {"head": np.ones((3, 4, 4)), "f16": np.ones((2, 8, 8)),
    ...                   "f32": np.ones((5, 4, 4))}
    >>> d = describe(np.full((30, 40), 50.0, np.float32), fake)
    >>> d.global_raw.shape, d.local_raw.shape, d.histograms.shape
    ((3,), (64, 7), (64, 16))
    """
    lightness = np.asarray(lightness, np.float32)
    if lightness.ndim != 2 or min(lightness.shape) < 1:
        raise ValueError(f"expected (H, W) lightness, got shape {lightness.shape}")
    square = cv2.resize(lightness, (FEATURE_SIZE, FEATURE_SIZE), interpolation=cv2.INTER_AREA)
    levels = features(square)
    global_raw = global_descriptors([levels[name] for name in GLOBAL_LEVELS])
    local = []
    for name in LOCAL_LEVELS:
        f = _unit(np.asarray(levels[name], np.float32), axis=0)
        if f.shape[1:] != (GRID, GRID):
            f = _unit(_resample(f, GRID), axis=0)
        local.append(f)
    local_raw = np.concatenate(local, axis=0).reshape(-1, GRID * GRID).T
    return Descriptors(
        global_raw.astype(np.float32),
        np.ascontiguousarray(local_raw, np.float32),
        _cell_histograms(lightness),
    )


def _resample(f: np.ndarray, size: int) -> np.ndarray:
    """(C, h, w) -> (C, size, size): cell means when finer, bilinear when coarser."""
    c, h, w = f.shape
    if h >= size and h % size == 0 and w % size == 0:
        return f.reshape(c, size, h // size, size, w // size).mean(axis=(2, 4))
    return np.stack(
        [cv2.resize(ch, (size, size), interpolation=cv2.INTER_LINEAR) for ch in f]
    ).astype(np.float32)


@dataclass(frozen=True)
class Pca:
    """A PCA basis: ``compress(x) = unit((x - mean) @ components.T)``.

    Attributes
    ----------
    mean : ndarray (D,) float32
    components : ndarray (k, D) float32, orthonormal rows
    """

    mean: np.ndarray
    components: np.ndarray


def fit_pca(samples: np.ndarray, dim: int) -> Pca:
    """PCA basis of at most ``dim`` components of ``samples`` (n, D) (Babenko et al. 2014).

    Components with negligible variance are dropped, so fewer than ``dim`` are kept
    when there are few samples; a single sample gives the identity (no compression).
    """
    samples = np.asarray(samples, np.float64)
    if samples.ndim != 2 or samples.shape[0] < 1:
        raise ValueError(f"expected (n, D) samples with n >= 1, got shape {samples.shape}")
    n, d = samples.shape
    if n < 2:
        return Pca(np.zeros(d, np.float32), np.eye(d, dtype=np.float32))
    mean = samples.mean(axis=0)
    _, sv, vt = np.linalg.svd(samples - mean, full_matrices=False)
    keep = int(min(dim, np.count_nonzero(sv > sv[0] * 1e-5)))
    return Pca(mean.astype(np.float32), vt[: max(1, keep)].astype(np.float32))


def compress(x: np.ndarray, pca: Pca) -> np.ndarray:
    """Project ``x`` (..., D) on the PCA basis and L2-normalise: (..., k) float32."""
    return _unit((np.asarray(x, np.float32) - pca.mean) @ pca.components.T).astype(np.float32)


@dataclass(frozen=True)
class Ranking:
    """Candidates in recommendation order (best first) with their scores.

    Attributes
    ----------
    order : ndarray (k,) int64
        Indices into the candidate arrays.
    global_score : ndarray (k,) float32
        Cosine of the global descriptors (§4.0.1).
    local_score : ndarray (k,) float32
        Semantic term of Eq. 8: mean over p of d(F_T(p), F_R(NN(p))).
    luminance_score : ndarray (k,) float32
        Luminance term of Eq. 8: mean over p of d_H(C_T(p), C_R(NN(p))).
    final_score : ndarray (k,) float32
        Eq. 8 (per point): ``local_score + beta * luminance_score``; the ranking key.
    """

    order: np.ndarray
    global_score: np.ndarray
    local_score: np.ndarray
    luminance_score: np.ndarray
    final_score: np.ndarray


def rank(
    query_global: np.ndarray,
    query_local: np.ndarray,
    query_hist: np.ndarray,
    global_features: np.ndarray,
    local_features: np.ndarray,
    histograms: np.ndarray,
    *,
    k: int = 5,
    top_n: int = TOP_N,
    beta: float = BETA,
) -> Ranking:
    """Global ranking, then local ranking of the top ``top_n`` by Eq. 8; the best ``k``.

    Parameters
    ----------
    query_global : ndarray (g,)
        Compressed, unit-norm global descriptor of the target.
    query_local : ndarray (P, l)
        Compressed, unit-norm local descriptors of the target.
    query_hist : ndarray (P, B)
        Centred unit-norm cell histograms of the target.
    global_features, local_features, histograms : ndarray (N, g), (N, P, l), (N, P, B)
        The same for the N candidates (any float dtype).
    k, top_n : int
        Candidates returned, and kept by the global ranking.
    beta : float
        Weight of the luminance term (paper: 0.25).

    Returns
    -------
    Ranking

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> g = rng.standard_normal((5, 4)); loc = rng.standard_normal((5, 3, 2))
    >>> h = np.zeros((5, 3, 6))
    >>> int(rank(g[2], loc[2], h[2], g, loc, h, k=1).order[0])
    2
    """
    n = len(global_features)
    if n == 0:
        raise ValueError("no candidates to rank")
    if not (len(local_features) == len(histograms) == n):
        raise ValueError(
            f"expected as many local descriptors and histograms as global ones ({n}), "
            f"got {len(local_features)} and {len(histograms)}"
        )
    q_g = _unit(np.asarray(query_global, np.float32))
    global_score = np.asarray(global_features, np.float32) @ q_g
    top_n = max(1, min(int(top_n), n))
    top = np.argpartition(-global_score, top_n - 1)[:top_n] if top_n < n else np.arange(n)
    q_l = _unit(np.asarray(query_local, np.float32))
    cand_l = _unit(np.asarray(local_features[top], np.float32))
    sim = np.matmul(cand_l, q_l.T)  # (n, q, p): cosine of every candidate/target point pair
    nn = np.argmax(sim, axis=1)  # q = NN(p), (n, p)
    semantic = np.take_along_axis(sim, nn[:, None, :], axis=1)[:, 0, :].mean(axis=1)
    cand_h = np.asarray(histograms[top], np.float32)
    matched = np.take_along_axis(cand_h, nn[..., None], axis=1)  # C_R(NN(p)): (n, P, B)
    luminance = (matched * np.asarray(query_hist, np.float32)).sum(axis=2).mean(axis=1)
    final = semantic + beta * luminance
    best = np.argsort(-final, kind="stable")[: max(1, int(k))]
    return Ranking(
        order=top[best].astype(np.int64),
        global_score=global_score[top[best]].astype(np.float32),
        local_score=semantic[best].astype(np.float32),
        luminance_score=luminance[best].astype(np.float32),
        final_score=final[best].astype(np.float32),
    )
