"""App. A.4's correction at the edge of the gamut: desaturate toward the wanted gray.

``ColorSpace.recombine`` (the definition), the fused OpenCV blocks (``COLORIZE_KERNELS=0``)
and the C kernel of ``core._kernels`` must all keep black black and white white, whatever
the chroma (clipping again after the correction used to leave e.g. L* = 0, b* = -20 blue),
leave in-gamut colours alone and agree with each other.
"""

from __future__ import annotations

import numpy as np
import pytest

from core import compiled
from core.colorspaces import AlphaBetaSpace, ColorSpace, HueChromaSpace, LabSpace, YCbCrSpace
from core.colorspaces.base import toward_gray

FUSED = [LabSpace(), YCbCrSpace()]
PATHS = ["compiled", "opencv", "definition"]


def _recombine(space, path, monkeypatch, light, chroma, gray=None):
    """``space.recombine`` through one implementation path."""
    if path == "definition":
        return ColorSpace.recombine(space, light, chroma, gray=gray)
    monkeypatch.setenv("COLORIZE_KERNELS", "1" if path == "compiled" else "0")
    if path == "compiled" and space.name == "lab" and compiled.compiled_kernels() is None:
        pytest.skip("core._kernels not built")
    return space.recombine(light, chroma, gray=gray)


def _chroma_grid(space, n=41, spread=1.5):
    """Every chroma of an n x n grid over ``spread`` times the nominal ranges, (1, n*n, 2)."""
    axes = [np.linspace(c.low, c.high, n) * spread for c in space.chroma_channels]
    a, b = np.meshgrid(*axes)
    return np.stack([a.ravel(), b.ravel()], -1)[None].astype(np.float32)


def _random_case(space, n=6000, spread=2.0, seed=0):
    """Lightness over the whole range (its ends and next to them too), chroma mostly out of
    gamut, and the gray of each lightness."""
    rng = np.random.default_rng(seed)
    gray = rng.random((1, n)).astype(np.float32)
    gray[0, :6] = [0.0, 1.0, 1e-4, 1 - 1e-4, 0.003, 0.997]
    light = space.gray_lightness(gray).astype(np.float32)
    low = [c.low * spread for c in space.chroma_channels]
    high = [c.high * spread for c in space.chroma_channels]
    chroma = rng.uniform(low, high, (1, n, 2)).astype(np.float32)
    return light, chroma, gray


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("space", FUSED, ids=lambda s: s.name)
def test_lowest_lightness_is_black_and_highest_white(space, path, monkeypatch):
    chroma = _chroma_grid(space)
    for value, expected, tol in ((space.lightness_channel.low, 0.0, 1e-6),
                                 (space.lightness_channel.high, 1.0, 1e-5)):  # fmt: skip
        light = np.full(chroma.shape[:-1], value, np.float32)
        out = _recombine(space, path, monkeypatch, light, chroma)
        assert np.abs(out - expected).max() <= tol, (value, np.abs(out - expected).max())
        gray = np.full(light.shape, expected, np.float32)  # a grayscale input's exact ends
        out = _recombine(space, path, monkeypatch, light, chroma, gray)
        assert np.abs(out - expected).max() <= 1e-6


@pytest.mark.parametrize("path", PATHS)
def test_no_blue_in_black(path, monkeypatch):
    """The reported case: L* = 0, b* = -20 came out blue, (0, 0, 0.11), clipped twice."""
    light = np.zeros((1, 3), np.float32)
    chroma = np.array([[[0.0, -20.0], [30.0, 0.0], [-80.0, 80.0]]], np.float32)
    out = _recombine(LabSpace(), path, monkeypatch, light, chroma)
    assert np.abs(out).max() <= 1e-6


@pytest.mark.parametrize("with_gray", [False, True])
@pytest.mark.parametrize(
    ("space", "path"),
    [(YCbCrSpace(), path) for path in PATHS]
    + [(space, "definition") for space in (AlphaBetaSpace(), HueChromaSpace())],
    ids=lambda v: getattr(v, "name", v),
)
def test_the_output_keeps_the_wanted_gray(space, path, with_gray, monkeypatch):
    """Where gray is linear in sRGB (for HSL lightness, in max and min) the lightness
    guarantee now holds on every pixel. The spaces without a fused path take the definition."""
    light, chroma, gray = _random_case(space, seed=1)
    out = _recombine(space, path, monkeypatch, light, chroma, gray if with_gray else None)
    wanted = gray if with_gray else space.gray_of_lightness(light)
    np.testing.assert_allclose(space.gray_equivalent(out), wanted, atol=1e-4)


@pytest.mark.parametrize("path", PATHS)
def test_lab_gray_error_shrinks_and_vanishes_at_the_ends(path, monkeypatch):
    """For Lab the gray is the encoding of a luminance, so neither App. A.4's additive step
    nor a desaturation in encoded sRGB keeps it exactly; desaturating leaves well under the
    gray error that clipping again did (0.13 of the sRGB range here) and none at the ends."""
    lab = LabSpace()
    light, chroma, gray = _random_case(lab, seed=2, spread=0.8)
    out = _recombine(lab, path, monkeypatch, light, chroma)
    error = np.abs(lab.gray_equivalent(out) - gray)
    clipped = np.clip(lab.to_rgb(light, chroma), 0.0, 1.0)
    again = np.clip(clipped + (gray - lab.gray_equivalent(clipped))[..., None], 0.0, 1.0)
    before = np.abs(lab.gray_equivalent(again) - gray)
    assert error.max() < 0.7 * before.max() and np.median(error) < 2e-3
    assert error[0, :2].max() < 1e-5


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("space", FUSED, ids=lambda s: s.name)
def test_in_gamut_colours_are_the_plain_conversion(space, path, monkeypatch):
    rng = np.random.default_rng(3)
    light, chroma = space.from_rgb(rng.uniform(0.02, 0.98, (1, 5000, 3)).astype(np.float32))
    light, chroma = light.astype(np.float32), chroma.astype(np.float32)
    out = _recombine(space, path, monkeypatch, light, chroma)
    np.testing.assert_allclose(out, space.to_rgb(light, chroma), atol=1e-5)


@pytest.mark.parametrize("space", FUSED, ids=lambda s: s.name)
def test_where_no_second_clip_was_needed_nothing_changes(space):
    """s = 1: where adding the correction stays in [0, 1], the result is App. A.4's as before."""
    light, chroma, _ = _random_case(space, n=20000, spread=0.6, seed=4)
    clipped = np.clip(space.to_rgb(light, chroma), 0.0, 1.0)
    shifted = clipped + (space.gray_of_lightness(light) - space.gray_equivalent(clipped))[..., None]
    inside = np.all((shifted >= 0.0) & (shifted <= 1.0), axis=-1)
    out = ColorSpace.recombine(space, light, chroma)
    assert 0.2 < inside.mean() < 0.95
    np.testing.assert_allclose(out[inside], shifted[inside], atol=1e-6)
    assert not np.allclose(out[~inside], np.clip(shifted[~inside], 0.0, 1.0), atol=1e-3)


@pytest.mark.parametrize("with_gray", [False, True])
@pytest.mark.parametrize("spread", [0.3, 1.0, 2.0])
@pytest.mark.parametrize("space", FUSED, ids=lambda s: s.name)
def test_the_paths_agree(space, spread, with_gray, monkeypatch):
    light, chroma, gray = _random_case(space, n=40_000, spread=spread, seed=5)
    gray = gray if with_gray else None
    definition = ColorSpace.recombine(space, light, chroma, gray=gray)
    for path in ("compiled", "opencv"):
        out = _recombine(space, path, monkeypatch, light, chroma, gray)
        assert out.min() >= 0.0 and out.max() <= 1.0
        np.testing.assert_allclose(out, definition, atol=1e-5, err_msg=path)


def test_toward_gray_desaturates_just_enough():
    rgb = np.array([[1.0, 0.5, 0.0], [0.6, 0.5, 0.4], [0.0, 0.0, 0.3]], np.float32)
    achieved = np.array([0.5, 0.5, 0.1], np.float32)
    wanted = np.array([0.8, 0.45, 0.0], np.float32)
    out = toward_gray(rgb, achieved, wanted)
    # s = (1 - 0.8) / 0.5 = 0.4; the plain shift (s = 1); black at a wanted gray of 0
    expected = [[1.0, 0.8, 0.6], [0.55, 0.45, 0.35], [0.0, 0.0, 0.0]]
    np.testing.assert_allclose(out, expected, atol=1e-6)
