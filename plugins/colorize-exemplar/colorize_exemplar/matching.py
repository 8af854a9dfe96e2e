"""Dense correspondence and similarity maps by cosine nearest neighbours (numpy only).

This is the similarity sub-net of He et al. (2018, §3.1) with the correspondence
algorithm swapped: the paper takes the bidirectional mappings from Deep Image Analogy;
here they are plain cosine nearest neighbours on a coarse feature grid. Everything
works on feature pyramids already resampled to one grid, as lists of five arrays of
shape (C_i, h, w).

References
----------
He, Chen, Liao, Sander, Yuan. Deep Exemplar-based Colorization. ACM TOG 37(4), 2018,
Eqs. 1-2.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["Correspondence", "correspond", "normalise", "warp"]


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


def correspond(
    target: Sequence[np.ndarray],
    reference: Sequence[np.ndarray],
    *,
    match_levels: Sequence[int] = (1, 2, 3, 4),
) -> Correspondence:
    """Cosine nearest neighbours T->R and R->T and the similarity maps of Eq. 1.

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
    if len(target) != len(reference):
        raise ValueError(
            f"expected pyramids of equal depth, got {len(target)} and {len(reference)}"
        )
    h, w = np.asarray(target[0]).shape[-2:]
    ft, fr = normalise(target), normalise(reference)
    score = sum(ft[i] @ fr[i].T for i in match_levels)
    t2r = np.argmax(score, axis=1)
    r2t = np.argmax(score, axis=0)
    back = r2t[t2r]
    forward = np.stack([np.sum(a * b[t2r], axis=1) for a, b in zip(ft, fr, strict=True)])
    backward = np.stack([np.sum(a[back] * b[t2r], axis=1) for a, b in zip(ft, fr, strict=True)])
    return Correspondence(
        target_to_reference=t2r,
        reference_to_target=r2t,
        forward=forward.reshape(-1, h, w).astype(np.float32),
        backward=backward.reshape(-1, h, w).astype(np.float32),
    )


def warp(values: np.ndarray, mapping: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """R'(p) = R(phi(p)): gather (hr, wr, C) reference values on the target grid ``shape``."""
    values = np.asarray(values)
    flat = values.reshape(-1, values.shape[-1])
    return flat[mapping].reshape(*shape, values.shape[-1])
