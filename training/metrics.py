"""Validation metrics, taken from :mod:`core.metrics` (the toolkit's single definition).

While the core is mid-refactor and ``core.metrics`` cannot be imported, the
trainer falls back to the plain formulas below (PSNR on sRGB in [0, 1], RMSE
over the two chroma channels) and says so once in the log.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np

__all__ = ["metric_functions"]


def _psnr(pred: np.ndarray, true: np.ndarray) -> float:
    mse = float(np.mean((np.asarray(pred, np.float64) - np.asarray(true, np.float64)) ** 2))
    return float("inf") if mse == 0 else 10.0 * np.log10(1.0 / mse)


def _rmse_ab(pred: np.ndarray, true: np.ndarray) -> float:
    diff = np.asarray(pred, np.float64) - np.asarray(true, np.float64)
    return float(np.sqrt(np.mean(diff**2)))


def metric_functions() -> tuple[dict[str, Callable[[np.ndarray, np.ndarray], float]], str]:
    """``({"psnr": f(pred_rgb, true_rgb), "rmse_ab": f(pred_ab, true_ab)}, source)``."""
    try:
        from core import metrics

        return {"psnr": metrics.psnr, "rmse_ab": metrics.rmse_alphabeta}, "core.metrics"
    except Exception as exc:  # core not importable yet: fall back, loudly
        warnings.warn(
            f"core.metrics unavailable ({exc}); using training.metrics fallbacks",
            RuntimeWarning,
            stacklevel=2,
        )
        return {"psnr": _psnr, "rmse_ab": _rmse_ab}, "training.metrics fallback"
