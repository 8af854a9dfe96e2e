"""Discretized mixture of logistics over (a, b) in numpy (Salimans et al. 2017, §2.1-2.2).

The generator g_ω and the embedding head predict, per low-resolution pixel, ``6 M``
numbers (``M`` = :data:`~colorize_semantic.MIXTURES` components), laid out along the
channel axis as

=============  ===========================================
``[0, M)``     component logits ``π``
``[M, 2M)``    means of a
``[2M, 3M)``   means of b (before the dependence on a)
``[3M, 4M)``   log-scales of a
``[4M, 5M)``   log-scales of b
``[5M, 6M)``   pre-``tanh`` coefficient ``c``: b's mean is ``μ_b + tanh(c) · a``
=============  ===========================================

Values live on a grid of :data:`~colorize_semantic.LEVELS` levels over [-1, 1]
(Lab a*, b* divided by :data:`~colorize_semantic.AB_SCALE`); the probability of a level is
the logistic mass of its bin, the two end bins taking the tails (PixelCNN++). This is the
likelihood of Zhao et al. 2019, §3.3 ("both L_emb and L_gen are discretized mixture
logistic losses"), the per-pixel factor of Eqs. 1-4. The torch version used for
training is :func:`colorize_semantic.model.mixture_log_prob`; it evaluates the bin
masses with this module's :func:`channel_log_prob` and torch operations
(:class:`ArrayOps`), so the formula is written once. Tests check both against each other
and against a direct computation.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

from colorize_semantic import LEVELS, MIXTURES

__all__ = [
    "LOG_SCALE_MIN",
    "NUMPY_OPS",
    "ArrayOps",
    "channel_log_prob",
    "levels",
    "log_prob",
    "quantize",
    "split",
]

#: Log-scales are clamped from below at this value (as PixelCNN++).
LOG_SCALE_MIN = -7.0


def levels(k: int = LEVELS) -> np.ndarray:
    """The ``k`` representable values in [-1, 1], float64."""
    return np.linspace(-1.0, 1.0, k)


def quantize(x: np.ndarray, k: int = LEVELS) -> np.ndarray:
    """Nearest of the ``k`` levels for values ``x`` (clipped to [-1, 1]), float32."""
    half = (k - 1) / 2.0
    return (np.round((np.clip(x, -1.0, 1.0) + 1.0) * half) / half - 1.0).astype(np.float32)


def split(params: np.ndarray, m: int = MIXTURES) -> dict[str, np.ndarray]:
    """Named parts of mixture parameters ``(..., 6M, ...)`` on axis 1 (see module doc).

    Parameters
    ----------
    params : ndarray (N, 6M, H, W)

    Returns
    -------
    dict with ``logits``, ``mean_a``, ``mean_b``, ``log_scale_a``, ``log_scale_b``,
    ``coeff`` (``tanh`` already applied), each (N, M, H, W) float64.
    """
    params = np.asarray(params, np.float64)
    if params.ndim != 4 or params.shape[1] != 6 * m:
        raise ValueError(f"expected (N, {6 * m}, H, W) mixture parameters, got {params.shape}")
    parts = [params[:, i * m : (i + 1) * m] for i in range(6)]
    return {
        "logits": parts[0],
        "mean_a": parts[1],
        "mean_b": parts[2],
        "log_scale_a": np.maximum(parts[3], LOG_SCALE_MIN),
        "log_scale_b": np.maximum(parts[4], LOG_SCALE_MIN),
        "coeff": np.tanh(parts[5]),
    }


def _log_sigmoid(x: np.ndarray) -> np.ndarray:
    return -np.logaddexp(0.0, -x)


class ArrayOps(NamedTuple):
    """The array operations :func:`channel_log_prob` uses, so that numpy (inference) and
    torch (training, :mod:`colorize_semantic.model`) share one formula."""

    exp: Callable[[Any], Any]
    log: Callable[[Any], Any]
    expm1: Callable[[Any], Any]
    where: Callable[[Any, Any, Any], Any]
    cap: Callable[[Any, float], Any]  #: elementwise ``min(x, high)``
    log_sigmoid: Callable[[Any], Any]


NUMPY_OPS = ArrayOps(np.exp, np.log, np.expm1, np.where, np.minimum, _log_sigmoid)


def _interior(u, v, ops: ArrayOps):
    """log(sigmoid(u) - sigmoid(v)) for u > v, stable (the gap clamped away from 0)."""
    lu = ops.log_sigmoid(u)
    gap = ops.cap(ops.log_sigmoid(v) - lu, -1e-12)
    return lu + ops.log(-ops.expm1(gap))


def channel_log_prob(x, mean, log_scale, k: int, ops: ArrayOps = NUMPY_OPS):
    """log P(level x) of one discretized logistic (``x`` broadcast against ``mean``).

    The mass of the bin of half-width ``1 / (k - 1)`` around ``x``; the end bins take the
    tails (Salimans et al. 2017, Eq. 2). Arrays of numpy or, with ``ops``, of another
    library.
    """
    half_bin = 1.0 / (k - 1)
    inv = ops.exp(-log_scale)
    plus = inv * (x - mean + half_bin)
    minus = inv * (x - mean - half_bin)
    # interior bins, evaluated on the side of the mean where the tail is not saturated
    mid = ops.where(plus + minus > 0, _interior(-minus, -plus, ops), _interior(plus, minus, ops))
    return ops.where(
        x < -1.0 + half_bin,
        ops.log_sigmoid(plus),
        ops.where(x > 1.0 - half_bin, ops.log_sigmoid(-minus), mid),
    )


def log_prob(params: np.ndarray, x: np.ndarray, k: int = LEVELS, m: int = MIXTURES) -> np.ndarray:
    """Log-probability (nats) of discretized (a, b) values under the mixture.

    ``log p(a, b) = logsumexp_j [log π_j + log P_j(a) + log P_j(b | a)]``, where the
    mean of b in component ``j`` is ``μ_b,j + tanh(c_j) · a`` (Salimans et al. 2017, Eq. 3).

    Parameters
    ----------
    params : ndarray (N, 6M, H, W)
        Mixture parameters (module doc).
    x : ndarray (N, 2, H, W)
        (a, b) on the level grid in [-1, 1] (:func:`quantize`).

    Returns
    -------
    ndarray (N, H, W) float64

    Examples
    --------
    >>> p = np.zeros((1, 60, 1, 1)); x = np.zeros((1, 2, 1, 1))
    >>> bool(log_prob(p, x)[0, 0, 0] < 0)
    True
    """
    x = np.asarray(x, np.float64)
    if x.ndim != 4 or x.shape[1] != 2:
        raise ValueError(f"expected (N, 2, H, W) values, got shape {x.shape}")
    p = split(params, m)
    a, b = x[:, :1], x[:, 1:]
    log_pa = channel_log_prob(a, p["mean_a"], p["log_scale_a"], k)
    log_pb = channel_log_prob(b, p["mean_b"] + p["coeff"] * a, p["log_scale_b"], k)
    logits = p["logits"]
    log_pi = logits - np.logaddexp.reduce(logits, axis=1, keepdims=True)
    return np.logaddexp.reduce(log_pi + log_pa + log_pb, axis=1)
