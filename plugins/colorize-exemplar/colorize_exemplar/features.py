"""Matching features from the shared ImageNet backbone (numpy and ONNX Runtime only).

He et al. (2018, §3.1) match target and reference on a VGG-19 retrained on gray ImageNet,
one feature level per VGG block (``relu1_2`` … ``relu5_2``). Here the levels come from
the shared gray EfficientNet-Lite0 of ``colorize-backbone`` (:mod:`core.backbones`), one
per stride: ``f2, f4, f8, f16, f32`` (32, 24, 40, 112 and 320 channels). The backbone's
pass is shared with every other method that colours the same image in this process
(:meth:`core.backbones.Backbone.features` caches it).

:func:`pyramid` resamples the five levels to one grid, 1/:data:`GRID_STRIDE` of the
working image (2 x 2 area average of ``f2``, ``f4`` as it is, bilinear upsampling of the
deeper ones, half-pixel centres), which is what the matchers
(:mod:`colorize_exemplar.matching`) and the colorization sub-net's similarity maps work on.
:func:`extractor` names the backbone and its graph's sha256 (reference indexes record it
and refuse another one).

References
----------
He, Chen, Liao, Sander, Yuan. Deep Exemplar-based Colorization. ACM TOG 37(4), 2018, §3.1.
Tan, Le. EfficientNet. ICML 2019 (the Lite0 variant).
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["BACKBONE", "GRID_STRIDE", "LEVELS", "extractor", "get", "pyramid", "to_grid"]

#: The shared backbone the matching features come from (``colorize-backbone``).
BACKBONE = "efficientnet-lite0-gray"
#: Its levels used for matching, shallow to deep: one per stride (paper: one per VGG block).
LEVELS = ("f2", "f4", "f8", "f16", "f32")
#: Stride of the matching grid relative to the working image.
GRID_STRIDE = 4


def get() -> Any:
    """The shared backbone object (:func:`core.backbones.get_backbone` of :data:`BACKBONE`).

    Raises
    ------
    core.errors.UnknownNameError
        ``colorize-backbone`` is not installed (the message says which distribution
        ships it).
    """
    from core.backbones import get_backbone

    return get_backbone(BACKBONE)


def extractor() -> dict[str, Any]:
    """What an index records about the feature extractor: backbone name, graph, sha256, levels.

    Returns
    -------
    dict
        ``{"backbone": name, "file": graph file name, "sha256": its sha256 (from the
        backbone plugin's manifest), "levels": [...]}``.
    """
    (model,) = get().model_files()[:1]
    return {
        "backbone": BACKBONE,
        "file": model.path.rsplit("/", 1)[-1],
        "sha256": model.sha256,
        "levels": list(LEVELS),
    }


def _linear(n_in: int, n_out: int) -> np.ndarray:
    """(n_out, n_in) bilinear resampling weights, half-pixel centres, edges clamped."""
    pos = np.clip((np.arange(n_out) + 0.5) * (n_in / n_out) - 0.5, 0, n_in - 1)
    low = np.floor(pos).astype(np.int64)
    high = np.minimum(low + 1, n_in - 1)
    weights = np.zeros((n_out, n_in), np.float32)
    np.add.at(weights, (np.arange(n_out), low), 1 - (pos - low))
    np.add.at(weights, (np.arange(n_out), high), pos - low)
    return weights


def to_grid(levels: dict[str, np.ndarray], shape: tuple[int, int]) -> list[np.ndarray]:
    """The :data:`LEVELS` of a backbone pyramid resampled to the matching grid ``shape``.

    Parameters
    ----------
    levels : dict of str to ndarray (C, h_s, w_s)
        Backbone outputs of one image (``Backbone.features``), level ``fs`` at stride s.
    shape : (int, int)
        The grid (h / GRID_STRIDE, w / GRID_STRIDE).

    Returns
    -------
    list of ndarray (C_i, gh, gw) float32
        Finer levels area-averaged, coarser ones upsampled bilinearly (half-pixel
        centres, as ``torch.nn.functional.interpolate(..., align_corners=False)``).

    Examples
    --------
    >>> f = {k: np.ones((2, 32 // s, 32 // s), np.float32)
    ...      for k, s in zip(LEVELS, (2, 4, 8, 16, 32))}
    >>> [g.shape for g in to_grid(f, (8, 8))][:2]
    [(2, 8, 8), (2, 8, 8)]
    """
    gh, gw = shape
    out = []
    for name in LEVELS:
        f = np.asarray(levels[name], np.float32)
        c, h, w = f.shape
        if (h, w) == (gh, gw):
            out.append(np.ascontiguousarray(f))
            continue
        if h > gh:  # integer-factor area average
            fy, fx = h // gh, w // gw
            small = f[:, : gh * fy, : gw * fx].reshape(c, gh, fy, gw, fx).mean(axis=(2, 4))
        else:  # separable bilinear: Ry (gh, h) @ f @ Rx^T (w, gw)
            small = (_linear(h, gh) @ f) @ _linear(w, gw).T
        out.append(np.ascontiguousarray(small, dtype=np.float32))
    return out


def pyramid(lightness: np.ndarray) -> list[np.ndarray]:
    """The five matching levels (C_i, h / 4, w / 4) of an (h, w) L* image.

    Parameters
    ----------
    lightness : ndarray (h, w) float
        CIE L* in 0..100; h and w multiples of 32 (the backbone's total stride).

    Returns
    -------
    list of ndarray (C_i, h / 4, w / 4) float32
        ``f2, f4, f8, f16, f32`` of the gray backbone on the 1/4 grid (:func:`to_grid`),
        raw (not normalised).

    Raises
    ------
    ValueError
        If ``lightness`` is not 2-D with sides that are multiples of 32.
    """
    x = np.asarray(lightness, np.float32)
    levels = get().features(x)
    return to_grid(levels, (x.shape[0] // GRID_STRIDE, x.shape[1] // GRID_STRIDE))
