"""Metrics: hand-computed examples, agreement with scikit-image, validation."""

from __future__ import annotations

import numpy as np
import pytest
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from core.metrics import (
    ab_histograms,
    binned_accuracy,
    closeness,
    colourfulness,
    colourfulness_ratio,
    histogram_intersection,
    intersection,
    mean_iou,
    ms_ssim,
    psnr,
    rmse_alphabeta,
    ssim,
)


@pytest.fixture(scope="module")
def pair():
    rng = np.random.default_rng(0)
    true = rng.random((48, 40, 3))
    pred = np.clip(true + rng.normal(0, 0.08, true.shape), 0, 1)
    return pred, true


def test_psnr_hand_and_skimage(pair):
    # MSE 0.01 with data range 1: -10 log10(0.01) = 20 dB (Larsson Eq. 11).
    assert psnr(np.full((2, 3, 3), 0.5), np.full((2, 3, 3), 0.6)) == pytest.approx(20.0)
    assert psnr(pair[1], pair[1]) == float("inf")
    assert psnr(*pair) == pytest.approx(peak_signal_noise_ratio(pair[1], pair[0], data_range=1.0))


def test_rmse_alphabeta_hand():
    """Gray prediction of a dark blue pixel: alpha error 0.3 / (0.1 + 1e-4) (Eq. 9-10)."""
    true = np.tile([0.0, 0.0, 0.3], (2, 2, 1))
    pred = np.full((2, 2, 3), 0.1)
    assert rmse_alphabeta(pred, true) == pytest.approx(0.3 / 0.1001)
    mixed = true.copy()
    mixed[0, 0] = [
        0.3,
        0.0,
        0.0,
    ]  # beta = 0.3 / 0.1001, alpha = -0.15 / 0.1001: norm sqrt(0.1125) / 0.1001
    pred_mixed = np.full((2, 2, 3), 0.1)
    expected = (3 * 0.3 + np.sqrt(0.3**2 + 0.15**2)) / 4 / 0.1001
    assert rmse_alphabeta(pred_mixed, mixed) == pytest.approx(expected)
    assert rmse_alphabeta(true, true) == 0.0


@pytest.mark.parametrize("gaussian", [True, False])
def test_ssim_agrees_with_skimage(pair, gaussian):
    pred, true = pair
    kwargs = (
        {"gaussian_weights": True, "use_sample_covariance": False, "sigma": 1.5} if gaussian else {}
    )
    expected = structural_similarity(pred, true, channel_axis=-1, data_range=1.0, **kwargs)
    assert ssim(pred, true, gaussian=gaussian) == pytest.approx(expected, abs=1e-10)
    gray = structural_similarity(pred[..., 0], true[..., 0], data_range=1.0, **kwargs)
    assert ssim(pred[..., 0], true[..., 0], gaussian=gaussian) == pytest.approx(gray, abs=1e-10)
    assert ssim(true, true) == pytest.approx(1.0)


def test_ms_ssim_hand_computed():
    """Constant images: contrast-structure is 1 at every scale, so MS-SSIM = l^w5 (Wang 2003)."""
    a, b = np.full((176, 180), 0.2), np.full((176, 180), 0.6)
    c1 = 0.01**2
    luminance = (2 * 0.2 * 0.6 + c1) / (0.2**2 + 0.6**2 + c1)
    assert ms_ssim(a, b) == pytest.approx(luminance**0.1333, rel=1e-9)
    assert ms_ssim(a, b, weights=(0.5, 0.5)) == pytest.approx(luminance**0.5, rel=1e-9)


def test_ms_ssim_orders_noise_levels():
    rng = np.random.default_rng(1)
    true = rng.random((180, 200, 3))
    mild = np.clip(true + rng.normal(0, 0.02, true.shape), 0, 1)
    strong = np.clip(true + rng.normal(0, 0.2, true.shape), 0, 1)
    assert ms_ssim(true, true) == pytest.approx(1.0)
    assert 1.0 > ms_ssim(mild, true) > ms_ssim(strong, true) > 0.0
    with pytest.raises(ValueError, match="at least 176"):
        ms_ssim(true[:100], true[:100])


def test_colourfulness_hand():
    """Half pure red, half pure blue (Hasler & Suesstrunk on the 0-255 scale)."""
    image = np.zeros((2, 2, 3))
    image[0, :, 0] = 1.0
    image[1, :, 2] = 1.0
    rg, yb = np.array([255.0, 0.0]), np.array([127.5, -255.0])
    expected = np.hypot(rg.std(), yb.std()) + 0.3 * np.hypot(rg.mean(), yb.mean())
    assert expected == pytest.approx(229.8539 + 0.3 * 142.5493, abs=1e-3)  # 272.619
    assert colourfulness(image) == pytest.approx(expected)
    gray = np.full((2, 2, 3), 0.3)
    assert colourfulness(gray) == 0.0
    assert colourfulness_ratio(gray, image) == 0.0
    assert colourfulness_ratio(image, image) == pytest.approx(1.0)
    assert colourfulness_ratio(gray, gray) == 1.0 and colourfulness_ratio(image, gray) == float(
        "inf"
    )


def test_histogram_intersection():
    rng = np.random.default_rng(2)
    image = rng.random((20, 20, 3))
    assert histogram_intersection(image, image) == pytest.approx((1.0, 1.0))
    red = np.tile([0.8, 0.1, 0.1], (5, 5, 1))  # a > 0, b > 0
    green = np.tile([0.1, 0.7, 0.1], (5, 6, 1))  # a < 0, b > 0
    hi_a, hi_b = histogram_intersection(red, green)
    assert hi_a == 0.0 and 0.0 <= hi_b <= 1.0
    counts = ab_histograms(image, bins=10)
    assert counts.shape == (2, 10) and counts.sum() == 2 * 400
    assert intersection([1.0, 1.0, 0.0], [0.0, 1.0, 1.0]) == 0.5


def test_binned_accuracy_hand():
    # Width-20 bins: 5 -> [0, 20), 15 -> [0, 20) match; 25 -> [20, 40), 45 -> [40, 60) do not.
    pred = np.array([[5.0, 25.0], [-99.0, 150.0]])
    true = np.array([[15.0, 45.0], [-81.0, 99.0]])
    assert binned_accuracy(pred, true) == pytest.approx(3 / 4)
    assert binned_accuracy(pred, true, joint=True) == pytest.approx(1 / 2)
    assert binned_accuracy(pred, true, 50) == pytest.approx(1 / 4)  # width 4: only the clipped pair
    with pytest.raises(ValueError, match=r"\(\.\.\., 2\)"):
        binned_accuracy(pred[..., :1], true[..., :1])


def test_closeness_hand():
    assert closeness(np.zeros((1, 2, 3)), np.full((1, 2, 3), 0.5)) == pytest.approx(
        np.sqrt(6 * 0.25)
    )


def test_mean_iou_hand():
    pred = np.array([[0, 0, 1, 1], [2, 2, 2, 1]])
    true = np.array([[0, 1, 1, 1], [2, 2, 255, 255]])
    # ignoring the 255s: class 0: TP 1 / (TP 1 + FP 1); class 1: 2 / (2 + FN 1); class 2: 2 / 2
    assert mean_iou(pred, true, 3, ignore_index=255) == pytest.approx((1 / 2 + 2 / 3 + 2 / 2) / 3)
    assert mean_iou(np.array([0, 0, 1, 1]), np.array([0, 1, 1, 1]), 2) == pytest.approx(
        (1 / 2 + 2 / 3) / 2
    )
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 3\)"):
        mean_iou(pred, true, 3)
    assert np.isnan(mean_iou(np.array([1]), np.array([255]), 2, ignore_index=255))


def test_input_validation(pair):
    pred, true = pair
    with pytest.raises(ValueError, match="differ in shape"):
        psnr(pred[:10], true)
    with pytest.raises(ValueError, match="float image"):
        rmse_alphabeta((pred * 255).astype(np.uint8), true)
    with pytest.raises(ValueError, match=r"\(H, W, 3\)"):
        colourfulness(pred[..., 0])
    with pytest.raises(ValueError, match="smaller than"):
        ssim(pred[:5, :5], true[:5, :5])


@pytest.mark.parametrize("module", ["core.metrics"])
def test_docstring_examples(module):
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(module))
    assert result.attempted > 0 and result.failed == 0


def test_perfect_prediction_psnr_inf_rmse_zero():
    """Identical images: PSNR is +inf (not an error or a huge number), every error 0."""
    rng = np.random.default_rng(3)
    true = rng.random((20, 24, 3))
    assert psnr(true, true) == float("inf")
    assert rmse_alphabeta(true, true) == 0.0
    assert ssim(true, true) == pytest.approx(1.0)
    assert colourfulness_ratio(true, true) == pytest.approx(1.0)
    hist_a, hist_b = histogram_intersection(true, true)
    assert hist_a == pytest.approx(1.0) and hist_b == pytest.approx(1.0)


def test_gray_baseline_on_a_known_image():
    """Gray prediction of a half red / half green image, computed by hand.

    Left half RGB (0.6, 0.2, 0.2), right half (0.2, 0.6, 0.2). The gray baseline keeps
    Lab L* and sets a* = b* = 0: that is the achromatic gray of the same relative
    luminance Y, so its sRGB value g satisfies lin(g) = Y.
    """
    from colorize_eval.evaluate import baseline_prediction

    def lin(c):
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    def delin(v):
        return 12.92 * v if v <= 0.0031308 else 1.055 * v ** (1 / 2.4) - 0.055

    red, green = (0.6, 0.2, 0.2), (0.2, 0.6, 0.2)
    true = np.empty((4, 6, 3))
    true[:, :3], true[:, 3:] = red, green
    grays = [delin(0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b)) for r, g, b in (red, green)]
    # MSE over all pixels and channels: each half is half the image.
    mse = np.mean(
        [np.mean((np.array(c) - g) ** 2) for c, g in zip((red, green), grays, strict=True)]
    )
    pred = baseline_prediction("gray", true)
    np.testing.assert_allclose(pred[0, 0], [grays[0]] * 3, atol=2e-3)
    np.testing.assert_allclose(pred[0, 5], [grays[1]] * 3, atol=2e-3)
    assert psnr(pred, true) == pytest.approx(-10 * np.log10(mse), abs=0.02)
    # The gray's alpha, beta are 0 (R = G = B). The truth's (Eq. 9): L = (R + G + B) / 3
    # = 1/3 on both halves, alpha = (B - (R + G) / 2) / (L + 1e-4) = -0.2 / (1/3 + 1e-4),
    # beta = (R - G) / (L + 1e-4) = +-0.4 / (1/3 + 1e-4); RMSE-ab is the mean per-pixel
    # norm (Eq. 10): sqrt(0.2) / (1/3 + 1e-4) on every pixel.
    assert rmse_alphabeta(pred, true) == pytest.approx(np.sqrt(0.2) / (1 / 3 + 1e-4), rel=1e-4)
    assert colourfulness_ratio(pred, true) == pytest.approx(0.0, abs=1e-2)


def test_mean_finite_and_json_safe():
    import json
    import math

    from core.metrics import json_safe, mean_finite

    assert mean_finite([20.0, 30.0, math.inf]) == (25.0, 1)
    assert mean_finite([math.inf, math.inf]) == (math.inf, 2)
    value, left_out = mean_finite([math.nan, math.inf, -math.inf])
    assert math.isnan(value) and left_out == 3
    value, left_out = mean_finite([])
    assert math.isnan(value) and left_out == 0
    safe = json_safe({"psnr": math.inf, "low": -math.inf, "x": [np.float32(1.5), math.nan]})
    assert safe == {"psnr": "inf", "low": "-inf", "x": [1.5, None]}
    text = json.dumps(safe, allow_nan=False)  # valid strict JSON
    assert float(json.loads(text)["psnr"]) == math.inf
