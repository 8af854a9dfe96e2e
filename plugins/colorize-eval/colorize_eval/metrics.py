"""Evaluation metrics beyond the core's: structure, histograms, casts, labels.

The core (:mod:`core.metrics`) keeps the metrics training and the methods use (PSNR,
RMSE-alpha-beta, colourfulness) and the helpers for aggregating them; the metrics below
are those of ``colorize eval`` and of the methods' evaluation scripts. Images are float
sRGB arrays in [0, 1] of shape (H, W, 3) unless noted; prediction first, ground truth
second.

====================================  ======================================================
:func:`ssim`, :func:`ms_ssim`          Wang et al. 2004 / 2003 (PixColor sample diversity)
:func:`histogram_intersection`         Lab a and b marginals (PixColor Fig. 7)
:func:`binned_accuracy`                CNN report Table 2
:func:`closeness`                      CNN report Table 1 (Frobenius norm)
:func:`mean_iou`                       segmentation (Zhao et al. 2019)
:func:`colour_cast`                    mean a*, b* of the output minus the truth's
====================================  ======================================================

References
----------
Z. Wang, A. Bovik, H. Sheikh, E. Simoncelli. Image Quality Assessment: From
Error Visibility to Structural Similarity. IEEE TIP 13(4), 2004.
Z. Wang, E. Simoncelli, A. Bovik. Multi-scale Structural Similarity for Image
Quality Assessment. Asilomar 2003.
S. Guadarrama et al. PixColor: Pixel Recursive Colorization. BMVC 2017, Sec. 5, Figs. 7-8.
"Image Colorization with CNNs: a study of loss functions" (course report), Secs. 5.3-5.4.
J. Zhao et al. Pixelated Semantic Colorization. IJCV 2019.
"""

from __future__ import annotations

import cv2
import numpy as np

from core.binning import uniform_bins
from core.colorspaces.lab import rgb_to_lab
from core.metrics import float_image, float_pair

__all__ = [
    "MS_SSIM_WEIGHTS",
    "ab_histograms",
    "binned_accuracy",
    "closeness",
    "colour_cast",
    "histogram_intersection",
    "intersection",
    "mean_iou",
    "ms_ssim",
    "ssim",
]

#: Scale weights of Wang et al. 2003 (finest first).
MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)


def colour_cast(pred_rgb: np.ndarray, true_rgb: np.ndarray) -> tuple[float, float]:
    """The cast of one image: its mean CIE a*, b* minus the ground truth's (Δa*, Δb*).

    A global tint that per-pixel errors hide: white walls and overcast skies that come
    out blue give a negative Δb* however right the rest is. Averaged over images, the
    signed value shows a systematic cast and the absolute value how far off a photo's
    overall tone typically is (``colorize eval`` reports both).

    Parameters
    ----------
    pred_rgb, true_rgb : ndarray, (H, W, 3), float in [0, 1]

    Returns
    -------
    (float, float)
        ``mean(a*_pred) - mean(a*_true)``, ``mean(b*_pred) - mean(b*_true)``.

    Examples
    --------
    >>> import numpy as np
    >>> from core.colorspaces.lab import lab_to_rgb
    >>> lab = np.zeros((2, 2, 3), np.float32); lab[..., 0] = 60.0
    >>> gray = lab_to_rgb(lab)
    >>> lab[..., 2] = 10.0  # a warm (yellow) photo
    >>> da, db = colour_cast(gray, lab_to_rgb(lab))
    >>> abs(da) < 0.05, round(db, 1)  # no cast in a*, 10 units too cool in b*
    (True, -10.0)
    """
    pred, true = float_pair(pred_rgb, true_rgb)
    pred_ab = rgb_to_lab(pred)[..., 1:].reshape(-1, 2).mean(0, dtype=np.float64)
    true_ab = rgb_to_lab(true)[..., 1:].reshape(-1, 2).mean(0, dtype=np.float64)
    return float(pred_ab[0] - true_ab[0]), float(pred_ab[1] - true_ab[1])


def _filter(image: np.ndarray, gaussian: bool, win_size: int, sigma: float) -> np.ndarray:
    if gaussian:
        return cv2.GaussianBlur(image, (win_size, win_size), sigma, borderType=cv2.BORDER_REFLECT)
    return cv2.blur(image, (win_size, win_size), borderType=cv2.BORDER_REFLECT)


def _ssim_maps(x, y, *, data_range, gaussian, win_size, sigma, sample_covariance):
    """Luminance and contrast-structure maps of Wang et al. 2004, Eqs. 13 and 16."""
    c1 = (0.01 * data_range) ** 2
    c2 = (0.03 * data_range) ** 2
    mx, my = _filter(x, gaussian, win_size, sigma), _filter(y, gaussian, win_size, sigma)
    norm = win_size**2 / (win_size**2 - 1) if sample_covariance else 1.0
    vx = norm * (_filter(x * x, gaussian, win_size, sigma) - mx * mx)
    vy = norm * (_filter(y * y, gaussian, win_size, sigma) - my * my)
    vxy = norm * (_filter(x * y, gaussian, win_size, sigma) - mx * my)
    luminance = (2 * mx * my + c1) / (mx * mx + my * my + c1)
    contrast_structure = (2 * vxy + c2) / (vx + vy + c2)
    return luminance, contrast_structure


def _crop(image: np.ndarray, win_size: int) -> np.ndarray:
    pad = (win_size - 1) // 2
    return image[pad : image.shape[0] - pad, pad : image.shape[1] - pad]


def _channels(image: np.ndarray) -> list[np.ndarray]:
    if image.ndim == 2:
        return [image]
    return [np.ascontiguousarray(image[..., c]) for c in range(image.shape[-1])]


def ssim(
    pred: np.ndarray,
    true: np.ndarray,
    *,
    data_range: float = 1.0,
    gaussian: bool = True,
    win_size: int | None = None,
    sigma: float = 1.5,
) -> float:
    """Mean structural similarity (Wang et al. 2004), averaged over channels.

    ``SSIM = (2 mu_x mu_y + C1)(2 s_xy + C2) / ((mu_x^2 + mu_y^2 + C1)(s_x^2 + s_y^2 + C2))``
    with ``C1 = (0.01 R)^2`` and ``C2 = (0.03 R)^2``, averaged over the pixels
    whose window lies inside the image (as scikit-image does).

    Parameters
    ----------
    pred, true : ndarray, (H, W) or (H, W, 3), float
    data_range : float, default 1
    gaussian : bool, default True
        Wang et al.'s setting: an 11 x 11 Gaussian window (sigma 1.5) and
        population covariances. ``False``: a uniform ``win_size`` window
        (default 7) with sample covariances, scikit-image's default.
    win_size : int, optional
        Odd window size; defaults to 11 (Gaussian) or 7 (uniform).
    sigma : float, default 1.5

    Returns
    -------
    float in [-1, 1]; 1 for identical images.

    Raises
    ------
    ValueError
        On shape mismatch, an even window, or an image smaller than the window.

    References
    ----------
    Wang et al. 2004, Eqs. 13-16; agrees with ``skimage.metrics.structural_similarity``
    (``gaussian_weights=True, use_sample_covariance=False``, or its defaults).
    """
    pred, true = float_pair(pred, true, rgb=False)
    win_size = (11 if gaussian else 7) if win_size is None else int(win_size)
    if win_size % 2 == 0 or win_size < 3:
        raise ValueError(f"win_size must be odd and >= 3, got {win_size}")
    if min(pred.shape[:2]) < win_size:
        raise ValueError(
            f"images of shape {pred.shape[:2]} are smaller than the {win_size}-pixel window"
        )
    values = []
    for x, y in zip(_channels(pred), _channels(true), strict=True):
        lum, cs = _ssim_maps(
            x,
            y,
            data_range=data_range,
            gaussian=gaussian,
            win_size=win_size,
            sigma=sigma,
            sample_covariance=not gaussian,
        )
        values.append(_crop(lum * cs, win_size).mean())
    return float(np.mean(values))


def ms_ssim(
    pred: np.ndarray,
    true: np.ndarray,
    *,
    data_range: float = 1.0,
    weights: tuple[float, ...] = MS_SSIM_WEIGHTS,
) -> float:
    """Multi-scale SSIM (Wang et al. 2003), as PixColor uses to compare samples.

    ``MS-SSIM = prod_{j<M} mean(cs_j)^{w_j} * mean(l_M cs_M)^{w_M}`` over
    ``M = len(weights)`` scales, each half the size of the previous (2 x 2
    averaging), with the 11 x 11 Gaussian window; negative means are clipped
    to 0; channels are averaged per scale.

    Parameters
    ----------
    pred, true : ndarray, (H, W) or (H, W, 3), float
    data_range : float, default 1
    weights : tuple of float, default Wang et al.'s five weights
        Fewer weights use fewer scales (for small images).

    Returns
    -------
    float in [0, 1]; 1 for identical images.

    Raises
    ------
    ValueError
        If the coarsest scale would be smaller than the 11-pixel window
        (needs a short side of at least ``11 * 2^(M-1)``, 176 for M = 5).

    References
    ----------
    Wang, Simoncelli, Bovik 2003, Eq. 7 and the weights of Sec. 3.2;
    Guadarrama et al. 2017, Fig. 8.
    """
    pred, true = float_pair(pred, true, rgb=False)
    weights = tuple(float(w) for w in weights)
    if not weights:
        raise ValueError("need at least one scale weight")
    smallest = 11 * 2 ** (len(weights) - 1)
    if min(pred.shape[:2]) < smallest:
        raise ValueError(
            f"ms_ssim with {len(weights)} scales needs a short side of at least {smallest} "
            f"pixels, got shape {pred.shape[:2]}; pass fewer weights"
        )
    result = 1.0
    x, y = pred, true
    for scale, weight in enumerate(weights):
        per_channel = []
        last = scale == len(weights) - 1
        for xc, yc in zip(_channels(x), _channels(y), strict=True):
            lum, cs = _ssim_maps(
                xc,
                yc,
                data_range=data_range,
                gaussian=True,
                win_size=11,
                sigma=1.5,
                sample_covariance=False,
            )
            per_channel.append(_crop(lum * cs if last else cs, 11).mean())
        result *= max(float(np.mean(per_channel)), 0.0) ** weight
        if not last:
            h, w = (x.shape[0] // 2) * 2, (x.shape[1] // 2) * 2
            x = cv2.resize(x[:h, :w], (w // 2, h // 2), interpolation=cv2.INTER_AREA)
            y = cv2.resize(y[:h, :w], (w // 2, h // 2), interpolation=cv2.INTER_AREA)
    return float(result)


def ab_histograms(
    rgb: np.ndarray, *, bins: int = 100, value_range: tuple[float, float] = (-100.0, 100.0)
) -> np.ndarray:
    """Counts of Lab a and b values, shape (2, bins), for accumulating over a dataset.

    Values outside ``value_range`` are counted in the end bins.

    References
    ----------
    Guadarrama et al. 2017, Fig. 7 (marginal statistics over [-100, 100]).
    """
    image = float_image(rgb, "rgb")
    lab = rgb_to_lab(image).reshape(-1, 3)
    edges = uniform_bins(value_range[0], value_range[1], bins)
    return np.stack([np.bincount(edges.encode(lab[:, c]), minlength=bins) for c in (1, 2)]).astype(
        np.float64
    )


def intersection(p: np.ndarray, q: np.ndarray) -> float:
    """Histogram intersection ``sum_k min(p_k, q_k)`` of two histograms, each normalised to 1.

    Examples
    --------
    >>> intersection(np.array([1.0, 1.0, 0.0]), np.array([0.0, 1.0, 1.0]))
    0.5
    """
    p = np.asarray(p, dtype=np.float64)
    q = np.asarray(q, dtype=np.float64)
    if p.shape != q.shape:
        raise ValueError(f"histograms differ in shape: {p.shape} vs {q.shape}")
    if not (p.sum() > 0 and q.sum() > 0):
        raise ValueError("histograms must have positive mass")
    return float(np.minimum(p / p.sum(), q / q.sum()).sum())


def histogram_intersection(
    pred_rgb: np.ndarray,
    true_rgb: np.ndarray,
    *,
    bins: int = 100,
    value_range: tuple[float, float] = (-100.0, 100.0),
) -> tuple[float, float]:
    """Intersection of the Lab a and of the b histograms of two images (PixColor Fig. 7).

    PixColor compares each method's marginal a and b histograms over the
    ImageNet test set with the ground truth's; for a dataset, sum
    :func:`ab_histograms` over images and call :func:`intersection`.

    Parameters
    ----------
    pred_rgb, true_rgb : ndarray, (H, W, 3), float in [0, 1]
        May differ in size.
    bins : int, default 100
    value_range : (float, float), default (-100, 100)

    Returns
    -------
    (float, float)
        Intersection of the a and of the b marginals, each in [0, 1].

    References
    ----------
    Guadarrama et al. 2017, Sec. 5 and Fig. 7.
    """
    pred = ab_histograms(pred_rgb, bins=bins, value_range=value_range)
    true = ab_histograms(true_rgb, bins=bins, value_range=value_range)
    return intersection(pred[0], true[0]), intersection(pred[1], true[1])


def binned_accuracy(
    pred_ab: np.ndarray,
    true_ab: np.ndarray,
    n_bins: int = 10,
    *,
    value_range: tuple[float, float] = (-100.0, 100.0),
    joint: bool = False,
) -> float:
    """Fraction of a/b values whose bin matches the ground truth's (CNN report Table 2).

    ``Accuracy = (1/N) sum 1(bin(predicted) = bin(actual))`` with ``n_bins``
    equal bins over ``value_range`` (out-of-range values go to the end bins),
    counted over both channels.

    Parameters
    ----------
    pred_ab, true_ab : ndarray, (..., 2), float
        Lab a and b values (not RGB).
    n_bins : int, default 10
        The report's Table 2 uses 10, 30 and 50 (bins of width 20, 6.7, 4).
    value_range : (float, float), default (-100, 100)
    joint : bool, default False
        Count a pixel as correct only if both its a and b bins match.

    Returns
    -------
    float in [0, 1] (the report gives percent)

    References
    ----------
    CNN loss-study report, Sec. 5.4, Table 2.

    Examples
    --------
    >>> binned_accuracy(np.array([[5.0, 25.0]]), np.array([[15.0, 45.0]]))
    0.5
    """
    pred = np.asarray(pred_ab, dtype=np.float64)
    true = np.asarray(true_ab, dtype=np.float64)
    if pred.shape != true.shape or pred.shape[-1:] != (2,):
        raise ValueError(
            "expected pred_ab and true_ab of the same shape (..., 2), "
            f"got {pred.shape} and {true.shape}"
        )
    bins = uniform_bins(value_range[0], value_range[1], n_bins)
    match = bins.encode(pred) == bins.encode(true)
    return float(match.all(axis=-1).mean() if joint else match.mean())


def closeness(pred_rgb: np.ndarray, true_rgb: np.ndarray) -> float:
    """Frobenius norm of the difference between prediction and truth (CNN report Table 1).

    ``||D||_F = sqrt(sum d^2)`` over all pixels and channels of ``D = pred - true``;
    lower is closer. It grows with the square root of the image size, so only
    compare images of the same size (the report uses 64 x 64).

    References
    ----------
    CNN loss-study report, Sec. 5.3, Table 1.

    Examples
    --------
    >>> closeness(np.zeros((1, 2, 3)), np.full((1, 2, 3), 0.5))
    1.224744871391589
    """
    pred, true = float_pair(pred_rgb, true_rgb, rgb=False)
    return float(np.sqrt(np.sum((pred - true) ** 2)))


def mean_iou(
    pred: np.ndarray, true: np.ndarray, n_classes: int, ignore_index: int | None = None
) -> float:
    """Mean intersection over union of two label maps.

    ``IoU_c = TP_c / (TP_c + FP_c + FN_c)``, averaged over classes that occur
    in ``pred`` or ``true``; pixels whose true label is ``ignore_index`` do not
    count.

    Parameters
    ----------
    pred, true : ndarray of int, same shape
        Labels in ``[0, n_classes)`` (``true`` may also hold ``ignore_index``).
    n_classes : int
    ignore_index : int, optional

    Returns
    -------
    float in [0, 1]; NaN if no pixel counts.

    Raises
    ------
    ValueError
        On shape mismatch or labels outside ``[0, n_classes)``.

    References
    ----------
    Zhao et al. 2019 (semantic branch); Everingham et al., PASCAL VOC.

    Examples
    --------
    >>> mean_iou(np.array([0, 0, 1, 1]), np.array([0, 1, 1, 1]), 2)
    0.5833333333333333
    """
    pred = np.asarray(pred)
    true = np.asarray(true)
    if pred.shape != true.shape:
        raise ValueError(f"pred and true differ in shape: {pred.shape} vs {true.shape}")
    if not (np.issubdtype(pred.dtype, np.integer) and np.issubdtype(true.dtype, np.integer)):
        raise ValueError(f"expected integer labels, got {pred.dtype} and {true.dtype}")
    keep = np.ones(true.shape, dtype=bool) if ignore_index is None else true != ignore_index
    pred, true = pred[keep].astype(np.int64), true[keep].astype(np.int64)
    for name, labels in (("pred", pred), ("true", true)):
        if labels.size and (labels.min() < 0 or labels.max() >= n_classes):
            raise ValueError(
                f"{name} labels must lie in [0, {n_classes}), got [{labels.min()}, {labels.max()}]"
            )
    confusion = np.bincount(true * n_classes + pred, minlength=n_classes**2).reshape(
        n_classes, n_classes
    )
    tp = np.diag(confusion).astype(np.float64)
    union = confusion.sum(axis=0) + confusion.sum(axis=1) - tp
    present = union > 0
    if not present.any():
        return float("nan")
    return float(np.mean(tp[present] / union[present]))
