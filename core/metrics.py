"""Colorization metrics from the papers, per image.

Images are float sRGB arrays in [0, 1] of shape (H, W, 3) unless noted;
prediction first, ground truth second. Dataset-level numbers are averages of
the per-image values (see each function for the weighting the paper uses).
PSNR of a perfect prediction is ``inf``: aggregates average the finite values and
count the others (:func:`mean_finite`); JSON output writes ``inf`` as the string
``"inf"`` and NaN as ``null`` (:func:`json_safe`).

====================================  ======================================================
:func:`psnr`                           Larsson Eq. 11 (RGB, per image, data range 1)
:func:`rmse_alphabeta`                 Larsson Eq. 10 (alpha-beta error per pixel)
:func:`ssim`, :func:`ms_ssim`          Wang et al. 2004 / 2003 (PixColor sample diversity)
:func:`colourfulness`                  Hasler & Suesstrunk 2003
:func:`colourfulness_ratio`            predicted over true colourfulness
:func:`histogram_intersection`         Lab a and b marginals (PixColor Fig. 7)
:func:`binned_accuracy`                CNN report Table 2
:func:`closeness`                      CNN report Table 1 (Frobenius norm)
:func:`mean_iou`                       segmentation (Zhao et al. 2019)
:func:`colour_cast`                    mean a*, b* of the output minus the truth's
:func:`mean_finite`, :func:`json_safe`  aggregating and writing values that can be infinite
====================================  ======================================================

References
----------
G. Larsson, M. Maire, G. Shakhnarovich. Learning Representations for
Automatic Colorization. ECCV 2016, App. A.3, Eqs. 10-11.
S. Guadarrama et al. PixColor: Pixel Recursive Colorization. BMVC 2017, Sec. 5, Figs. 7-8.
"Image Colorization with CNNs: a study of loss functions" (course report), Secs. 5.3-5.4.
Z. Wang, A. Bovik, H. Sheikh, E. Simoncelli. Image Quality Assessment: From
Error Visibility to Structural Similarity. IEEE TIP 13(4), 2004.
Z. Wang, E. Simoncelli, A. Bovik. Multi-scale Structural Similarity for Image
Quality Assessment. Asilomar 2003.
D. Hasler, S. Suesstrunk. Measuring Colourfulness in Natural Images. SPIE 5007, 2003.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from core.binning import uniform_bins
from core.colorspaces.alphabeta import rgb_to_alphabeta
from core.colorspaces.lab import rgb_to_lab

__all__ = [
    "MS_SSIM_WEIGHTS",
    "ab_histograms",
    "binned_accuracy",
    "closeness",
    "colour_cast",
    "colourfulness",
    "colourfulness_ratio",
    "histogram_intersection",
    "intersection",
    "json_safe",
    "mean_finite",
    "mean_iou",
    "ms_ssim",
    "psnr",
    "rmse_alphabeta",
    "ssim",
]

#: Scale weights of Wang et al. 2003 (finest first).
MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)


def _image(image, name: str, *, rgb: bool) -> np.ndarray:
    array = np.asarray(image)
    if not np.issubdtype(array.dtype, np.floating):
        raise ValueError(f"{name}: expected a float image in [0, 1], got dtype {array.dtype}")
    if rgb and (array.ndim != 3 or array.shape[-1] != 3):
        raise ValueError(f"{name}: expected an (H, W, 3) RGB image, got shape {array.shape}")
    if not rgb and not (array.ndim == 2 or (array.ndim == 3 and array.shape[-1] in (1, 3))):
        raise ValueError(f"{name}: expected an (H, W) or (H, W, 3) image, got shape {array.shape}")
    return array.astype(np.float64)


def _pair(pred, true, *, rgb: bool = True) -> tuple[np.ndarray, np.ndarray]:
    pred = _image(pred, "pred", rgb=rgb)
    true = _image(true, "true", rgb=rgb)
    if pred.shape != true.shape:
        raise ValueError(f"pred and true differ in shape: {pred.shape} vs {true.shape}")
    return pred, true


def psnr(pred_rgb: np.ndarray, true_rgb: np.ndarray, *, data_range: float = 1.0) -> float:
    """Peak signal-to-noise ratio of one image in dB (Larsson Eq. 11).

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

    References
    ----------
    Larsson et al. 2016, App. A.3, Eq. 11.

    Examples
    --------
    >>> round(psnr(np.full((2, 2, 3), 0.5), np.full((2, 2, 3), 0.6)), 6)
    20.0
    """
    pred, true = _pair(pred_rgb, true_rgb, rgb=False)
    mse = float(np.mean((pred - true) ** 2))
    if mse == 0:
        return float("inf")
    return float(10 * np.log10(data_range**2 / mse))


def rmse_alphabeta(pred_rgb: np.ndarray, true_rgb: np.ndarray) -> float:
    """Mean per-pixel alpha-beta error of one image (Larsson Eq. 10).

    ``(1 / N) sum_n ||y_ab,n - yhat_ab,n||_2`` with alpha-beta of App. A.2
    (:func:`core.colorspaces.rgb_to_alphabeta`, eps = 1e-4): the root of the
    squared error per pixel, averaged over pixels. For a dataset Eq. 10 divides
    by the total pixel count, so weight images by their number of pixels.

    Parameters
    ----------
    pred_rgb, true_rgb : ndarray, (H, W, 3), float in [0, 1]

    Returns
    -------
    float

    References
    ----------
    Larsson et al. 2016, App. A.3, Eq. 10; App. A.2, Eq. 9.
    """
    pred, true = _pair(pred_rgb, true_rgb)
    delta = rgb_to_alphabeta(pred)[..., 1:] - rgb_to_alphabeta(true)[..., 1:]
    return float(np.mean(np.sqrt(np.sum(delta**2, axis=-1))))


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
    >>> round(da, 1), round(db, 1)
    (0.0, -10.0)
    """
    pred, true = _pair(pred_rgb, true_rgb)
    delta = rgb_to_lab(pred)[..., 1:].reshape(-1, 2).mean(0, dtype=np.float64) - rgb_to_lab(
        true
    )[..., 1:].reshape(-1, 2).mean(0, dtype=np.float64)
    return float(delta[0]), float(delta[1])


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
    pred, true = _pair(pred, true, rgb=False)
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
    pred, true = _pair(pred, true, rgb=False)
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


def colourfulness(rgb: np.ndarray) -> float:
    """Colourfulness M of Hasler and Suesstrunk (2003), on their 0-255 scale.

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

    References
    ----------
    Hasler and Suesstrunk 2003, Eq. 3 (the metric M^(3)).

    Examples
    --------
    >>> colourfulness(np.full((4, 4, 3), 0.5))
    0.0
    """
    image = _image(rgb, "rgb", rgb=True) * 255.0
    rg = image[..., 0] - image[..., 1]
    yb = 0.5 * (image[..., 0] + image[..., 1]) - image[..., 2]
    spread = np.hypot(rg.std(), yb.std())
    offset = np.hypot(rg.mean(), yb.mean())
    return float(spread + 0.3 * offset)


def colourfulness_ratio(pred_rgb: np.ndarray, true_rgb: np.ndarray) -> float:
    """Colourfulness of the prediction over that of the ground truth.

    Below 1: the colorization is duller (the typical failure of regression
    losses); above 1: more saturated. Returns 1 when both are gray and ``inf``
    when only the truth is gray.

    References
    ----------
    Hasler and Suesstrunk 2003.
    """
    pred, true = _pair(pred_rgb, true_rgb)
    numerator, denominator = colourfulness(pred), colourfulness(true)
    if denominator == 0:
        return 1.0 if numerator == 0 else float("inf")
    return numerator / denominator


def ab_histograms(
    rgb: np.ndarray, *, bins: int = 100, value_range: tuple[float, float] = (-100.0, 100.0)
) -> np.ndarray:
    """Counts of Lab a and b values, shape (2, bins), for accumulating over a dataset.

    Values outside ``value_range`` are counted in the end bins.

    References
    ----------
    Guadarrama et al. 2017, Fig. 7 (marginal statistics over [-100, 100]).
    """
    image = _image(rgb, "rgb", rgb=True)
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
    pred, true = _pair(pred_rgb, true_rgb, rgb=False)
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


def mean_finite(values) -> tuple[float, int]:
    """Mean of the finite values and how many were left out (inf, -inf, NaN).

    A perfect prediction has PSNR ``inf``; averaging it in would make the mean ``inf``
    and hide every other image. Aggregates therefore average the finite values and
    report the count of the others next to them. When every value is infinite with one
    sign the mean is that infinity (all predictions perfect); when none is usable, NaN.

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
