"""Colour spaces: reference values, agreement with scikit-image/OpenCV, round trips."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from skimage import color

from core.colorspaces import (
    AlphaBetaSpace,
    ColorSpace,
    HueChromaSpace,
    LabSpace,
    YCbCrSpace,
    alphabeta_to_rgb,
    huechroma_to_rgb,
    lab_to_rgb,
    rgb_to_alphabeta,
    rgb_to_huechroma,
    rgb_to_lab,
    rgb_to_ycbcr,
    ycbcr_to_rgb,
)
from core.plugins import Registry

SETTINGS = settings(max_examples=40, deadline=None)
unit = st.floats(0.0, 1.0, allow_nan=False, width=64)
rgb_arrays = arrays(
    np.float64, st.tuples(st.integers(1, 6), st.integers(1, 6), st.just(3)), elements=unit
)

PRIMARIES = np.array(
    [
        [0, 0, 0],
        [1, 1, 1],
        [1, 0, 0],
        [0, 1, 0],
        [0, 0, 1],
        [1, 1, 0],
        [0, 1, 1],
        [1, 0, 1],
        [0.5, 0.5, 0.5],
        [0.01, 0.02, 0.03],
        [0.2, 0.7, 0.4],
    ],
    dtype=np.float64,
)


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    """Random colours plus every corner of the cube, larger than one 16k-pixel block."""
    rng = np.random.default_rng(0)
    image = rng.random((150, 130, 3))
    image[0, : len(PRIMARIES)] = PRIMARIES
    return image


# -- Lab ----------------------------------------------------------------------------


def test_lab_reference_values():
    # sRGB red in CIE Lab (D65), as tabulated by scikit-image / colour-science.
    np.testing.assert_allclose(
        rgb_to_lab(np.array([1.0, 0.0, 0.0])), [53.2408, 80.0925, 67.2032], atol=1e-3
    )
    np.testing.assert_allclose(rgb_to_lab(np.array([0.0, 0.0, 0.0])), [0.0, 0.0, 0.0], atol=1e-9)
    assert rgb_to_lab(np.array([1.0, 1.0, 1.0]))[0] == pytest.approx(100.0, abs=1e-9)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_lab_agrees_with_skimage(photo, dtype):
    image = photo.astype(dtype)
    lab = rgb_to_lab(image)
    assert lab.dtype == dtype and lab.shape == image.shape
    assert np.abs(lab - color.rgb2lab(photo)).max() <= 1e-3
    back = lab_to_rgb(color.rgb2lab(photo).astype(dtype))
    assert back.dtype == dtype
    assert np.abs(back - color.lab2rgb(color.rgb2lab(photo))).max() <= 1e-3


def test_lab_round_trip_float64(photo):
    assert np.abs(lab_to_rgb(rgb_to_lab(photo)) - photo).max() <= 1e-4


@SETTINGS
@given(rgb_arrays)
def test_lab_round_trip_property(rgb):
    assert np.abs(lab_to_rgb(rgb_to_lab(rgb)) - rgb).max() <= 1e-4


def test_lab_blocks_are_independent(photo):
    """Results do not depend on where the 16k-pixel block boundaries fall."""
    whole = rgb_to_lab(photo)
    rows = np.concatenate([rgb_to_lab(photo[i : i + 7]) for i in range(0, len(photo), 7)])
    np.testing.assert_allclose(whole, rows, atol=1e-12)


def test_lab_accepts_odd_layouts():
    rng = np.random.default_rng(1)
    image = rng.random((10, 12, 3))
    np.testing.assert_allclose(rgb_to_lab(image[:, ::2]), rgb_to_lab(image)[:, ::2], atol=1e-12)
    assert rgb_to_lab(np.zeros((0, 3))).shape == (0, 3)
    assert rgb_to_lab(np.array([0.5, 0.5, 0.5])).shape == (3,)
    assert rgb_to_lab(np.full((2, 2, 3), 128, dtype=np.uint8)).dtype == np.float32


@pytest.mark.parametrize(
    "func",
    [
        rgb_to_lab,
        lab_to_rgb,
        rgb_to_huechroma,
        huechroma_to_rgb,
        rgb_to_alphabeta,
        alphabeta_to_rgb,
        rgb_to_ycbcr,
        ycbcr_to_rgb,
    ],
)
def test_bad_shape_is_refused(func):
    with pytest.raises(ValueError, match=r"expected \(\.\.\., 3\)"):
        func(np.zeros((4, 5, 6, 7)))


def test_lab_space_lightness_matches_from_rgb(photo):
    space = LabSpace()
    lightness, chroma = space.from_rgb(photo)
    np.testing.assert_allclose(space.lightness(photo), lightness, atol=1e-9)
    gray = photo[..., 0]
    np.testing.assert_allclose(
        space.gray_lightness(gray), space.lightness(np.repeat(gray[..., None], 3, -1)), atol=1e-9
    )
    assert chroma.shape == (*photo.shape[:2], 2)


def test_opencv_lab_is_not_accurate_enough(photo):
    """Why lab.py does not call cv2.cvtColor: its float Lab misses the 1e-3 bound."""
    lab = cv2.cvtColor(photo.astype(np.float32), cv2.COLOR_RGB2Lab)
    assert np.abs(lab - color.rgb2lab(photo)).max() > 1e-3


# -- hue/chroma ---------------------------------------------------------------------------


def test_huechroma_reference_values():
    lhc = rgb_to_huechroma(PRIMARIES[[2, 3, 4, 5, 8]])
    np.testing.assert_allclose(lhc[:, 1], [0.0, 1 / 3, 2 / 3, 1 / 6, 0.0], atol=1e-12)  # hue
    np.testing.assert_allclose(lhc[:, 2], [1.0, 1.0, 1.0, 1.0, 0.0])  # chroma
    np.testing.assert_allclose(lhc[:, 0], [0.5, 0.5, 0.5, 0.5, 0.5])  # (max + min) / 2


def test_huechroma_agrees_with_hsv(photo):
    """V = L + C/2 and S = C/V (Larsson Sec. 3.1); hue equals HSV hue."""
    lhc = rgb_to_huechroma(photo)
    hsv = color.rgb2hsv(photo)
    v = lhc[..., 0] + lhc[..., 2] / 2
    np.testing.assert_allclose(v, hsv[..., 2], atol=1e-12)
    lit = v > 0
    np.testing.assert_allclose(lhc[..., 2][lit] / v[lit], hsv[..., 1][lit], atol=1e-12)
    hue_gap = np.abs((lhc[..., 1] - hsv[..., 0] + 0.5) % 1 - 0.5)
    assert hue_gap.max() < 1e-9


@SETTINGS
@given(rgb_arrays)
def test_huechroma_round_trip_property(rgb):
    lhc = rgb_to_huechroma(rgb)
    assert np.all((lhc[..., 1] >= 0) & (lhc[..., 1] < 1))
    assert np.all(lhc[..., 2] <= 2 * np.minimum(lhc[..., 0], 1 - lhc[..., 0]) + 1e-12)  # bicone
    np.testing.assert_allclose(huechroma_to_rgb(lhc), rgb, atol=1e-9)


@SETTINGS
@given(st.floats(0, 1), st.floats(-3, 3), st.floats(0, 2))
def test_huechroma_clamp_keeps_lightness(lightness, hue, chroma):
    """Chroma beyond the bicone is faded, never turning into a lightness change."""
    rgb = huechroma_to_rgb(np.array([lightness, hue, chroma]))
    assert np.all(rgb >= -1e-12) and np.all(rgb <= 1 + 1e-12)
    assert (rgb.max() + rgb.min()) / 2 == pytest.approx(lightness, abs=1e-9)


def test_huechroma_resize_interpolates_hue_on_the_circle():
    chroma = np.zeros((1, 2, 2), np.float32)
    chroma[0, 0] = (0.02, 0.8)  # red, slightly orange
    chroma[0, 1] = (0.98, 0.8)  # red, slightly magenta
    out = HueChromaSpace().resize_chroma(chroma, (1, 3))
    hue = out[0, 1, 0]
    assert min(hue, 1 - hue) < 0.03  # stays red; a linear blend would give 0.5 (cyan)
    assert out[0, 1, 1] == pytest.approx(0.8, abs=1e-5)


def test_huechroma_resize_ignores_gray_neighbours():
    chroma = np.array([[[0.5, 0.0], [0.3, 0.6]]], np.float32)  # gray pixel with arbitrary hue
    out = HueChromaSpace().resize_chroma(chroma, (1, 3))
    assert out[0, 1, 0] == pytest.approx(0.3, abs=1e-4)


# -- alpha-beta and YCbCr ---------------------------------------------------------------------


def test_alphabeta_reference_values():
    # Larsson App. A.2: alpha = (B - (R+G)/2) / (L + eps), beta = (R - G) / (L + eps).
    out = rgb_to_alphabeta(np.array([[0.0, 0.0, 0.3], [0.6, 0.0, 0.0], [0.4, 0.4, 0.4]]))
    np.testing.assert_allclose(out[0], [0.1, 0.3 / 0.1001, 0.0])
    np.testing.assert_allclose(out[1], [0.2, -0.3 / 0.2001, 0.6 / 0.2001])
    np.testing.assert_allclose(out[2], [0.4, 0.0, 0.0], atol=1e-12)


@SETTINGS
@given(rgb_arrays)
def test_alphabeta_round_trip_property(rgb):
    out = rgb_to_alphabeta(rgb)
    assert np.all(np.abs(out[..., 1:]) <= 3 + 1e-9)
    np.testing.assert_allclose(alphabeta_to_rgb(out), rgb, atol=1e-9)


def test_alphabeta_rejects_bad_eps():
    with pytest.raises(ValueError, match="eps"):
        rgb_to_alphabeta(np.zeros(3), eps=0.0)


def test_ycbcr_reference_values_and_opencv(photo):
    np.testing.assert_allclose(
        rgb_to_ycbcr(np.array([0.0, 0.0, 1.0])), [0.114, 0.5, -0.081312], atol=1e-6
    )
    np.testing.assert_allclose(
        rgb_to_ycbcr(np.array([1.0, 0.0, 0.0])), [0.299, -0.168736, 0.5], atol=1e-6
    )
    ours = rgb_to_ycbcr(photo.astype(np.float32))
    theirs = cv2.cvtColor(photo.astype(np.float32), cv2.COLOR_RGB2YCrCb)[..., [0, 2, 1]] - [
        0,
        0.5,
        0.5,
    ]
    assert np.abs(ours - theirs).max() < 5e-4


@SETTINGS
@given(rgb_arrays)
def test_ycbcr_round_trip_property(rgb):
    out = rgb_to_ycbcr(rgb)
    assert np.all(np.abs(out[..., 1:]) <= 0.5 + 1e-12)
    np.testing.assert_allclose(ycbcr_to_rgb(out), rgb, atol=1e-12)


# -- the ColorSpace contract, for every built-in space ---------------------------------------------

SPACES = [LabSpace(), HueChromaSpace(), AlphaBetaSpace(), YCbCrSpace()]


@pytest.mark.parametrize("space", SPACES, ids=lambda s: s.name)
def test_colorspace_contract(space: ColorSpace, photo):
    lightness, chroma = space.from_rgb(photo)
    assert lightness.shape == photo.shape[:2] and chroma.shape == (*photo.shape[:2], 2)
    assert space.lightness_definition
    low, high = space.lightness_channel.low, space.lightness_channel.high
    assert lightness.min() >= low - 1e-6 and lightness.max() <= high + 1e-6
    for i, channel in enumerate(space.chroma_channels):
        assert (
            chroma[..., i].min() >= channel.low - 1e-6
            and chroma[..., i].max() <= channel.high + 1e-6
        )
    np.testing.assert_allclose(space.to_rgb(lightness, chroma), photo, atol=1e-4)
    np.testing.assert_allclose(space.lightness(photo), lightness, atol=1e-6)
    # A gray image has neutral chroma (up to Lab's white-point rounding).
    gray = np.linspace(0, 1, 11)
    _, gray_chroma = space.from_rgb(np.repeat(gray[:, None], 3, axis=-1))
    assert np.abs(gray_chroma[:, 1 if space.name == "huechroma" else slice(None)]).max() < 5e-3
    np.testing.assert_allclose(
        space.gray_lightness(gray), space.lightness(np.repeat(gray[:, None], 3, -1)), atol=1e-6
    )
    # gray_of_lightness inverts gray_lightness (App. A.4 correction) and agrees with the
    # generic definition, to_rgb of neutral chroma; gray_equivalent keeps lightness.
    levels = np.linspace(0, 1, 1001)
    np.testing.assert_allclose(
        space.gray_of_lightness(space.gray_lightness(levels)), levels, atol=1e-9
    )
    light = space.gray_lightness(levels)
    generic = space.to_rgb(light, space.neutral_chroma(light.shape, light.dtype))
    np.testing.assert_allclose(space.gray_of_lightness(light), generic[..., 0], atol=1e-5)
    equivalent = space.gray_equivalent(photo)
    np.testing.assert_allclose(space.gray_lightness(equivalent), space.lightness(photo), atol=1e-4)


def test_builtin_spaces_are_registered():
    registry = Registry(load_entry_points=False, strict=True)
    for name, cls in [
        ("lab", LabSpace),
        ("huechroma", HueChromaSpace),
        ("alphabeta", AlphaBetaSpace),
        ("ycbcr", YCbCrSpace),
    ]:
        assert isinstance(registry.get("colorspace", name), cls)
        assert registry.entries("colorspace")[name].plugin == "core"


@pytest.mark.parametrize(
    "module",
    [
        "core.colorspaces.lab",
        "core.colorspaces.huechroma",
        "core.colorspaces.alphabeta",
        "core.colorspaces.ycbcr",
    ],
)
def test_docstring_examples(module):
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(module))
    assert result.attempted > 0 and result.failed == 0


def test_huechroma_subnormal_chroma_is_gray():
    """Hypothesis found 1/chroma overflowing for a subnormal red (5e-324): no NaN hue."""
    from core.colorspaces.huechroma import rgb_to_huechroma

    lhc = rgb_to_huechroma(np.array([[[5e-324, 0.0, 0.0]]]))
    assert np.all(np.isfinite(lhc)) and lhc[..., 1] == 0.0


# -- recombination (ColorSpace.recombine: clip + App. A.4 correction) ----------------


def _recombination_case(space: ColorSpace, shape=(131, 157), spread=1.0, seed=0):
    """Lightness over the whole range (with its ends) and smooth chroma, part out of gamut."""
    rng = np.random.default_rng(seed)
    gray = rng.random(shape).astype(np.float32)
    gray.reshape(-1)[:4] = [0.0, 1.0, 0.001, 0.999]
    light = space.gray_lightness(gray).astype(np.float32)
    low = [c.low for c in space.chroma_channels]
    high = [c.high for c in space.chroma_channels]
    small = rng.uniform(low, high, (9, 11, 2)) * spread
    chroma = cv2.resize(small.astype(np.float32), shape[::-1], interpolation=cv2.INTER_LINEAR)
    return light, chroma, gray


@pytest.mark.parametrize("kernels", ["1", "0"], ids=["compiled", "opencv"])
@pytest.mark.parametrize("spread", [0.1, 0.5, 1.5])
@pytest.mark.parametrize("with_gray", [False, True])
@pytest.mark.parametrize("space", [LabSpace(), YCbCrSpace()], ids=lambda s: s.name)
def test_fused_recombine_matches_the_definition(space, with_gray, spread, kernels, monkeypatch):
    """The fused paths (several 16k blocks here; the C kernel where built, and the OpenCV
    blocks with COLORIZE_KERNELS=0) equal the generic definition."""
    monkeypatch.setenv("COLORIZE_KERNELS", kernels)
    light, chroma, gray = _recombination_case(space, spread=spread)
    gray = gray if with_gray else None
    expected = ColorSpace.recombine(space, light, chroma, gray=gray)
    out = space.recombine(light, chroma, gray=gray)
    assert out.dtype == np.float32 and out.shape == (*light.shape, 3)
    assert out.min() >= 0.0 and out.max() <= 1.0
    np.testing.assert_allclose(out, expected, atol=1e-5)
    clipped = np.any((expected <= 0.0) | (expected >= 1.0), axis=-1).mean()
    if spread > 1:
        assert clipped > 0.2  # the correction path is exercised, not only in-gamut colours


@pytest.mark.parametrize("space", [LabSpace(), YCbCrSpace()], ids=lambda s: s.name)
def test_recombine_keeps_lightness_where_the_clip_allows(space):
    """App. A.4: after clipping, adding gray(L) - gray(L of the clipped colour) restores L."""
    light, chroma, gray = _recombination_case(space, spread=0.7, seed=3)
    rgb = space.recombine(light, chroma, gray=gray)
    inside = np.all((rgb > 0.02) & (rgb < 0.98), axis=-1)
    span = space.lightness_channel.high - space.lightness_channel.low
    error = np.abs(space.lightness(rgb) - light)[inside] / span
    assert inside.mean() > 0.3 and error.max() < 2e-3


@pytest.mark.parametrize("space", [LabSpace(), YCbCrSpace(), HueChromaSpace()], ids=str)
def test_recombine_out_and_bad_shapes(space):
    light, chroma, _ = _recombination_case(space, shape=(20, 30))
    out = np.full((20, 30, 3), -1.0, np.float32)
    assert space.recombine(light, chroma, out=out) is out and out.min() >= 0.0
    strided = np.zeros((20, 30, 6), np.float32)[..., ::2]  # not contiguous: still filled
    space.recombine(light, chroma, out=strided)
    np.testing.assert_array_equal(strided, out)
    assert space.recombine(light[:0], chroma[:0]).shape == (0, 30, 3)
    if type(space).recombine is not ColorSpace.recombine:
        with pytest.raises(ValueError, match="expected chroma of shape"):
            space.recombine(light, chroma[:, :-1])
