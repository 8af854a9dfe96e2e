"""Training pairs of mixed similarity for the perceptual branch (He et al. 2018, §3.2.3).

The paper samples ~700k ImageNet pairs "with different extents of similarity": 45 % are
among the top-5 recommendations (§4) within the target's class, 45 % are random within
the class, 10 % are random from other classes of the same category. The analogue here,
on the colorization training set of Tiny ImageNet images (202 classes) and BSDS500
crops (one class, "scenery"), draws for each target of the perceptual half:

* ``neighbour`` -- one of the ``k`` nearest photos by the global descriptor of
  :func:`colorize_exemplar.recommend.describe` (L2-normalised spatial mean of the gray
  ImageNet backbone's ``head`` level; cosine, no PCA) within its class;
* ``same-class`` -- a random photo of its class;
* ``random`` -- a random photo of the whole set.

A reference never comes from the target's own source photo (BSDS500 crops of one photo
share a source), so it is always a real, *different* photo. The mixture is an option
(:data:`DEFAULT_MIX`, the paper's 45/45/10). The chrominance half keeps same-image
references (``colorize_exemplar.train.augment_reference``).

numpy only; ``train.py`` (``cache``) computes the descriptors with the ONNX backbone.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from colorize_exemplar.recommend import _unit, global_descriptors

__all__ = ["DEFAULT_MIX", "KINDS", "PairSampler", "class_neighbours", "global_descriptors"]

#: The kinds of reference, in the order of the mixture weights.
KINDS = ("neighbour", "same-class", "random")
#: Default mixture (neighbour, same-class, random): the paper's 45 % / 45 % / 10 %.
DEFAULT_MIX = (0.45, 0.45, 0.10)


def class_neighbours(
    descriptors: np.ndarray, classes: np.ndarray, sources: np.ndarray, k: int
) -> np.ndarray:
    """The ``k`` most similar photos (cosine) of each photo within its class.

    Parameters
    ----------
    descriptors : ndarray (N, D)
    classes, sources : ndarray (N,) int
        Class label and source photo of each image; photos of the same source are never
        neighbours.
    k : int
        Neighbours per photo.

    Returns
    -------
    ndarray (N, k) int64
        Indices into the N photos, best first; ``-1`` where the class holds fewer than
        ``k`` photos of other sources.

    Examples
    --------
    >>> d = np.array([[1, 0], [0.9, 0.1], [0, 1], [0.1, 0.9]], np.float32)
    >>> class_neighbours(d, np.zeros(4, int), np.arange(4), 1).ravel().tolist()
    [1, 0, 3, 2]
    """
    unit = _unit(np.asarray(descriptors, np.float32))
    out = np.full((len(unit), k), -1, np.int64)
    for label in np.unique(classes):
        members = np.flatnonzero(classes == label)
        score = unit[members] @ unit[members].T
        score[sources[members][:, None] == sources[members][None, :]] = -np.inf
        order = np.argsort(-score, axis=1, kind="stable")[:, :k]
        valid = np.take_along_axis(score, order, axis=1) > -np.inf
        out[members, : order.shape[1]] = np.where(valid, members[order], -1)
    return out


class PairSampler:
    """Draws references for perceptual-branch targets from the configured mixture.

    Parameters
    ----------
    classes, sources : ndarray (N,) int
        Class label and source photo of each training image.
    neighbours : ndarray (N, k) int
        From :func:`class_neighbours` (``-1`` = none).
    mix : (float, float, float)
        Probabilities of ``neighbour``, ``same-class`` and ``random`` references; they
        must be non-negative and sum to 1. Default :data:`DEFAULT_MIX`.
    seed : int
        Seed of the sampler's own generator (draws are reproducible).

    Examples
    --------
    >>> s = PairSampler(np.zeros(4, int), np.arange(4), np.array([[1], [0], [3], [2]]), seed=0)
    >>> refs, kinds = s.sample(np.arange(4))
    >>> bool((refs != np.arange(4)).all())
    True
    """

    def __init__(
        self,
        classes: np.ndarray,
        sources: np.ndarray,
        neighbours: np.ndarray,
        *,
        mix: Sequence[float] = DEFAULT_MIX,
        seed: int = 0,
    ) -> None:
        mix = np.asarray(mix, np.float64)
        if mix.shape != (len(KINDS),) or (mix < 0).any() or not np.isclose(mix.sum(), 1.0):
            raise ValueError(
                f"expected {len(KINDS)} non-negative mixture weights ({', '.join(KINDS)}) "
                f"summing to 1, got {mix.tolist()}"
            )
        self.classes = np.asarray(classes)
        self.sources = np.asarray(sources)
        self.neighbours = np.asarray(neighbours)
        if not (len(self.classes) == len(self.sources) == len(self.neighbours)):
            raise ValueError("classes, sources and neighbours must have one row per image")
        if len(np.unique(self.sources)) < 2:
            raise ValueError("need photos of at least two sources to draw different references")
        self.mix = mix
        self.rng = np.random.default_rng(seed)
        self._members = {c: np.flatnonzero(self.classes == c) for c in np.unique(self.classes)}

    def _other(self, target: int, pool: np.ndarray) -> int:
        """A random member of ``pool`` from another source than ``target`` (-1 if none)."""
        own = self.sources[target]
        for _ in range(8):  # rejection: cheap when the own source is a small share of pool
            pick = int(pool[self.rng.integers(len(pool))])
            if self.sources[pick] != own:
                return pick
        others = pool[self.sources[pool] != own]
        return int(others[self.rng.integers(len(others))]) if len(others) else -1

    def sample(self, targets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """References for ``targets`` and the kind drawn for each (index into :data:`KINDS`).

        A ``neighbour`` or ``same-class`` draw that finds no candidate falls back to
        ``random`` (and is reported as such).
        """
        targets = np.asarray(targets, np.int64)
        kinds = self.rng.choice(len(KINDS), size=len(targets), p=self.mix)
        refs = np.empty(len(targets), np.int64)
        everyone = np.arange(len(self.classes))
        for i, (t, kind) in enumerate(zip(targets, kinds, strict=True)):
            ref = -1
            if kind == 0:
                row = self.neighbours[t][self.neighbours[t] >= 0]
                ref = int(row[self.rng.integers(len(row))]) if len(row) else -1
            elif kind == 1:
                ref = self._other(t, self._members[self.classes[t]])
            if ref < 0:
                kinds[i] = 2
                ref = self._other(t, everyone)
            refs[i] = ref
        return refs, kinds
