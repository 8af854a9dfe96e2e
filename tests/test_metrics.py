"""Metrics: hand-computed examples, agreement with scikit-image, validation."""

from __future__ import annotations

import numpy as np
import pytest
from skimage.metrics import peak_signal_noise_ratio

from core.metrics import colourfulness, colourfulness_ratio, psnr, rmse_alphabeta


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


def test_input_validation(pair):
    pred, true = pair
    with pytest.raises(ValueError, match="differ in shape"):
        psnr(pred[:10], true)
    with pytest.raises(ValueError, match="float image"):
        rmse_alphabeta((pred * 255).astype(np.uint8), true)
    with pytest.raises(ValueError, match=r"\(H, W, 3\)"):
        colourfulness(pred[..., 0])


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
    assert colourfulness_ratio(true, true) == pytest.approx(1.0)


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
