"""Colorization metrics from the papers, per image: those training and the methods use.

Images are float sRGB arrays in [0, 1] of shape (H, W, 3) unless noted; prediction first, ground
truth second. Dataset-level numbers are averages of the per-image values (see each function for
the weighting the paper uses). PSNR of a perfect prediction is ``inf``: aggregates average the
finite values and count the others (:func:`mean_finite`); JSON output writes ``inf`` as the
string ``"inf"`` and NaN as ``null`` (:func:`json_safe`).

====================================  ======================================================
:func:`psnr`                           Larsson Eq. 11 (RGB, per image, data range 1)
:func:`rmse_alphabeta`                 Larsson Eq. 10 (alpha-beta error per pixel)
:func:`colourfulness`                  Hasler & Suesstrunk 2003
:func:`colourfulness_ratio`            predicted over true colourfulness
:func:`mean_finite`, :func:`json_safe`  aggregating and writing values that can be infinite
====================================  ======================================================

The evaluation's other metrics (SSIM, MS-SSIM, histogram intersection, binned accuracy,
closeness, mean IoU, colour cast) are in the ``colorize-eval`` application
(``colorize_eval.metrics``); they validate their inputs with :func:`float_pair`.

References
----------
G. Larsson, M. Maire, G. Shakhnarovich. Learning Representations for
Automatic Colorization. ECCV 2016, App. A.3, Eqs. 10-11.
D. Hasler, S. Suesstrunk. Measuring Colourfulness in Natural Images. SPIE 5007, 2003.
"""

from __future__ import annotations

import math

import numpy as np

from core.colorspaces.alphabeta import rgb_to_alphabeta

__all__ = [
    "colourfulness",
    "colourfulness_ratio",
    "float_image",
    "float_pair",
    "json_safe",
    "mean_finite",
    "psnr",
    "rmse_alphabeta",
]


def float_image(image, name: str = "image", *, rgb: bool = True) -> np.ndarray:
    """``image`` as float64, refused unless it is a float (H, W, 3) image (``rgb=False``:
    also (H, W) or (H, W, 1)); the ``ValueError`` names it ``name``."""
    array = np.asarray(image)
    if not np.issubdtype(array.dtype, np.floating):
        raise ValueError(f"{name}: expected a float image in [0, 1], got dtype {array.dtype}")
    if rgb and (array.ndim != 3 or array.shape[-1] != 3):
        raise ValueError(f"{name}: expected an (H, W, 3) RGB image, got shape {array.shape}")
    if not rgb and not (array.ndim == 2 or (array.ndim == 3 and array.shape[-1] in (1, 3))):
        raise ValueError(f"{name}: expected an (H, W) or (H, W, 3) image, got shape {array.shape}")
    return array.astype(np.float64)


def float_pair(pred, true, *, rgb: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """A prediction and its ground truth as :func:`float_image`, refused unless they
    have the same shape."""
    pred = float_image(pred, "pred", rgb=rgb)
    true = float_image(true, "true", rgb=rgb)
    if pred.shape != true.shape:
        raise ValueError(f"pred and true differ in shape: {pred.shape} vs {true.shape}")
    return pred, true


def psnr(pred_rgb: np.ndarray, true_rgb: np.ndarray, *, data_range: float = 1.0) -> float:
    """Peak signal-to-noise ratio of one image in dB (Larsson et al. 2016, App. A.3, Eq. 11).

    ``-10 log10(sum_n ||y_n - yhat_n||^2 / (3 N))`` for data range 1, i.e.
    ``10 log10(R^2 / MSE)``. Larsson et al. average it arithmetically over
    images (not geometrically as Cheng et al.).

    Parameters
    ----------
    pred_rgb, true_rgb : ndarray, (H, W, 3) or (H, W), float in [0, 1]
    data_range : float, default 1

    Returns
    -------
    float
        dB; ``inf`` for identical images.

    Raises
    ------
    ValueError
        On shape mismatch or non-float input.

    Examples
    --------
    >>> round(psnr(np.full((2, 2, 3), 0.5), np.full((2, 2, 3), 0.6)), 6)
    20.0
    """
    pred, true = float_pair(pred_rgb, true_rgb, rgb=False)
    mse = float(np.mean((pred - true) ** 2))
    return float("inf") if mse == 0 else float(10 * np.log10(data_range**2 / mse))


def rmse_alphabeta(pred_rgb: np.ndarray, true_rgb: np.ndarray) -> float:
    """Mean per-pixel alpha-beta error of one image (Larsson et al. 2016, App. A.3, Eq. 10).

    ``(1 / N) sum_n ||y_ab,n - yhat_ab,n||_2`` with alpha-beta of App. A.2, Eq. 9
    (:func:`core.colorspaces.rgb_to_alphabeta`, eps = 1e-4): the root of the
    squared error per pixel, averaged over pixels. For a dataset Eq. 10 divides
    by the total pixel count, so weight images by their number of pixels.

    Parameters
    ----------
    pred_rgb, true_rgb : ndarray, (H, W, 3), float in [0, 1]

    Returns
    -------
    float
    """
    pred, true = float_pair(pred_rgb, true_rgb)
    delta = rgb_to_alphabeta(pred)[..., 1:] - rgb_to_alphabeta(true)[..., 1:]
    return float(np.mean(np.sqrt(np.sum(delta**2, axis=-1))))


def colourfulness(rgb: np.ndarray) -> float:
    """Colourfulness M^(3) of Hasler and Suesstrunk (2003, Eq. 3), on their 0-255 scale.

    ``rg = R - G``, ``yb = (R + G) / 2 - B`` (RGB scaled to [0, 255]);
    ``M = sqrt(s_rg^2 + s_yb^2) + 0.3 sqrt(m_rg^2 + m_yb^2)`` with standard
    deviations ``s`` and means ``m`` over pixels. Their scale: 0 not colourful,
    about 33 moderately, 59 quite, 82 highly and 109 extremely colourful.

    Parameters
    ----------
    rgb : ndarray, (H, W, 3), float in [0, 1]

    Returns
    -------
    float >= 0

    Examples
    --------
    >>> colourfulness(np.full((4, 4, 3), 0.5))
    0.0
    """
    image = float_image(rgb, "rgb") * 255.0
    rg = image[..., 0] - image[..., 1]
    yb = 0.5 * (image[..., 0] + image[..., 1]) - image[..., 2]
    return float(np.hypot(rg.std(), yb.std()) + 0.3 * np.hypot(rg.mean(), yb.mean()))


def colourfulness_ratio(pred_rgb: np.ndarray, true_rgb: np.ndarray) -> float:
    """Colourfulness (Hasler and Suesstrunk 2003) of the prediction over that of the truth.

    Below 1: the colorization is duller (the typical failure of regression losses); above 1:
    more saturated. Returns 1 when both are gray and ``inf`` when only the truth is gray.
    """
    pred, true = float_pair(pred_rgb, true_rgb)
    numerator, denominator = colourfulness(pred), colourfulness(true)
    if denominator == 0:
        return 1.0 if numerator == 0 else float("inf")
    return numerator / denominator


def mean_finite(values) -> tuple[float, int]:
    """Mean of the finite values and how many were left out (inf, -inf, NaN).

    Averaging in a perfect prediction's PSNR ``inf`` would hide every other image. When every
    value is infinite with one sign the mean is that infinity (all predictions perfect); when
    none is usable, NaN.

    Examples
    --------
    >>> mean_finite([20.0, 30.0, float("inf")])
    (25.0, 1)
    >>> mean_finite([float("inf"), float("inf")])
    (inf, 2)
    """
    array = np.asarray(list(values), dtype=np.float64)
    finite = np.isfinite(array)
    left_out = int(array.size - finite.sum())
    if finite.any():
        return float(array[finite].mean()), left_out
    infinite = array[np.isinf(array)]
    if infinite.size == array.size and array.size and np.all(infinite == infinite[0]):
        return float(infinite[0]), left_out
    return math.nan, left_out


def json_safe(value):
    """``value`` with non-finite floats made valid JSON, recursively.

    ``inf`` and ``-inf`` become the strings ``"inf"`` and ``"-inf"`` and NaN becomes
    ``null`` (``json.dumps`` would write the non-standard tokens ``Infinity`` and
    ``NaN``, which strict parsers refuse). Dicts, lists and tuples are walked; numpy
    scalars become Python numbers. ``float(s)`` reads the strings back.

    Examples
    --------
    >>> json_safe({"psnr": float("inf"), "ssim": [1.0, float("nan")]})
    {'psnr': 'inf', 'ssim': [1.0, None]}
    """
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None if math.isnan(value) else ("inf" if value > 0 else "-inf")
    return value
