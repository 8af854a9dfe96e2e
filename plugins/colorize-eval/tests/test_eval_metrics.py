"""colorize_eval.metrics: hand-computed examples, agreement with scikit-image, validation."""

from __future__ import annotations

import doctest

import numpy as np
import pytest
from colorize_eval import metrics
from colorize_eval.metrics import (
    ab_histograms,
    binned_accuracy,
    closeness,
    histogram_intersection,
    intersection,
    mean_iou,
    ms_ssim,
    ssim,
)
from skimage.metrics import structural_similarity


@pytest.fixture(scope="module")
def pair():
    rng = np.random.default_rng(0)
    true = rng.random((48, 40, 3))
    pred = np.clip(true + rng.normal(0, 0.08, true.shape), 0, 1)
    return pred, true


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
    with pytest.raises(ValueError, match="smaller than"):
        ssim(pred[:5, :5], true[:5, :5])
    with pytest.raises(ValueError, match="differ in shape"):
        closeness(pred[:10], true)
    with pytest.raises(ValueError, match="float image"):
        ab_histograms((pred * 255).astype(np.uint8))


def test_perfect_prediction_scores_one():
    rng = np.random.default_rng(3)
    true = rng.random((20, 24, 3))
    assert ssim(true, true) == pytest.approx(1.0)
    hist_a, hist_b = histogram_intersection(true, true)
    assert hist_a == pytest.approx(1.0) and hist_b == pytest.approx(1.0)


def test_docstring_examples():
    result = doctest.testmod(metrics)
    assert result.attempted > 0 and result.failed == 0
