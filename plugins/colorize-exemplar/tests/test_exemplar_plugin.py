"""Tests of the colorize-exemplar plugin (inference only; no torch)."""

import os
from pathlib import Path

import numpy as np
import pytest
from colorize_devkit.testing import method_contract_tests
from colorize_exemplar.matching import correspond

import core
from core.colorspaces.lab import lab_to_rgb, rgb_to_lab
from core.metrics import rmse_alphabeta

# The toolkit's contract, over every method this distribution registers.
test_contract = method_contract_tests(distribution="colorize-exemplar")


def _colorizer():
    from core.plugins import get_registry

    return get_registry().get("method", "exemplar")


def test_discovered_through_its_entry_point():
    info = core.get_method("exemplar")
    assert info.plugin == "colorize-exemplar"
    assert info.capabilities.reference and not info.capabilities.automatic
    # the plugin's own sub-net and the shared gray backbone it matches on
    assert {Path(m.path).name for m in info.model_files} == {
        "exemplar-colornet.onnx",
        "efficientnet-lite0-gray.onnx",
    }
    assert info.working_size == 128


def test_similarity_maps_are_one_where_target_is_reference():
    rng = np.random.default_rng(0)
    levels = [rng.standard_normal((c, 4, 6)).astype(np.float32) for c in (3, 5, 8, 8, 9)]
    match = correspond(levels, levels)
    np.testing.assert_allclose(match.forward, 1.0, atol=1e-5)
    np.testing.assert_allclose(match.backward, 1.0, atol=1e-5)
    np.testing.assert_array_equal(match.target_to_reference, np.arange(24))


def test_similarity_maps_with_the_backbone_pyramid():
    colorizer = _colorizer()
    y, x = np.mgrid[0:64, 0:96]
    lightness = (50 + 30 * np.sin(x / 3.0) * np.cos(y / 5.0)).astype(np.float32)
    pyramid = colorizer.pyramid(lightness)
    # f2 ... f32 of the gray EfficientNet-Lite0, all on the 1/4 grid
    assert [p.shape for p in pyramid] == [(c, 16, 24) for c in (32, 24, 40, 112, 320)]
    match = correspond(pyramid, pyramid)
    assert match.forward.min() > 0.999 and match.backward.min() > 0.999
    with pytest.raises(ValueError, match="multiples of 32"):
        colorizer.pyramid(lightness[:48])


def test_the_matcher_agrees_with_the_identity_on_self_references():
    # A photo matched against itself: phi_T->R should be the identity map (He et al.
    # 2018, §3.1). Flat regions (sky) have near-duplicate features, so a few points may
    # land on a neighbouring twin; they must stay within one grid step.
    from colorize_exemplar.matching import get_matcher

    colorizer = _colorizer()
    for rgb in _bsds_test_photos(3):
        lightness = rgb_to_lab(rgb)[..., 0]
        h, w = colorizer.working_shape(*lightness.shape)
        import cv2

        small = cv2.resize(lightness, (w, h), interpolation=cv2.INTER_AREA)
        pyramid = colorizer.pyramid(small)
        n = pyramid[0].shape[1] * pyramid[0].shape[2]
        for name in ("exemplar-nn", "exemplar-nn-coarse-to-fine"):
            t2r, r2t = get_matcher(name)(pyramid, pyramid)
            assert np.mean(t2r == np.arange(n)) > 0.95, name
            assert np.mean(r2t == np.arange(n)) > 0.95, name
            gy, gx = np.divmod(np.arange(n), pyramid[0].shape[2])
            my, mx = np.divmod(t2r, pyramid[0].shape[2])
            assert np.mean(np.maximum(abs(my - gy), abs(mx - gx)) <= 1) > 0.99, name


def test_unrelated_reference_lowers_similarity_and_options_are_checked():
    y, x = np.mgrid[0:128, 0:192]
    gray = (0.5 + 0.3 * np.sin(x / 4.0) * np.cos(y / 7.0)).astype(np.float32)
    lab = rgb_to_lab(np.repeat(gray[..., None], 3, axis=2))
    lab[..., 1], lab[..., 2] = 15.0, 10.0  # same lightness, a mild tint
    tinted = np.clip(lab_to_rgb(lab), 0, 1)
    flat = np.zeros((30, 30, 3), np.float32) + np.float32([0.8, 0.5, 0.2])
    same = core.colorize_result(gray, "exemplar", reference=tinted)
    flat = core.colorize_result(gray, "exemplar", reference=flat)
    assert same.metadata["mean_similarity"] > 0.95
    assert flat.metadata["mean_similarity"] < same.metadata["mean_similarity"]
    with pytest.raises(TypeError, match="flavour"):
        core.colorize(gray, "exemplar", reference=tinted, flavour=1)


def _bsds_test_photos(count):
    data = os.environ.get("COLORIZE_DATA")
    if not data:
        pytest.skip("set COLORIZE_DATA to the datasets folder (with bsds500/) to run this test")
    folder = Path(data) / "bsds500" / "images" / "test"
    paths = sorted(folder.glob("*.jpg"))[:count]
    if len(paths) < count:
        pytest.skip(f"{folder}: fewer than {count} BSDS500 test photos")
    from PIL import Image

    return [np.asarray(Image.open(p).convert("RGB"), np.float32) / 255.0 for p in paths]


def test_own_colours_as_reference_beat_the_gray_baseline():
    # Mean RMSE-alphabeta over the first four test photos (sorted by name); the shipped
    # model gives 0.127 against 0.281 for gray (per photo in MODEL_CARD.md).
    ours, gray = [], []
    for rgb in _bsds_test_photos(4):
        out = core.colorize(rgb, "exemplar", reference=rgb)
        lab = rgb_to_lab(rgb)
        lab[..., 1:] = 0
        ours.append(rmse_alphabeta(out, rgb))
        gray.append(rmse_alphabeta(np.clip(lab_to_rgb(lab), 0, 1), rgb))
    assert np.mean(ours) < 0.9 * np.mean(gray)
