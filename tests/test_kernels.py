"""The optional C kernels (core/_kernels.c) against the Python paths they replace."""

from __future__ import annotations

import sysconfig

import numpy as np
import pytest

from core import compiled
from core.colorspaces import LabSpace
from core.colorspaces.base import ColorSpace
from core.colorspaces.lab import (
    _FORWARD_CONSTANTS,
    _KERNEL_CONSTANTS,
    _recombine_lab,
    lab_to_rgb,
    rgb_to_lab,
)
from core.io import quantize

kernels = compiled.compiled_kernels()
needs_kernels = pytest.mark.skipif(kernels is None, reason="core._kernels not built")


def test_the_kernels_are_built_where_a_compiler_is():
    """A build with a C compiler must not silently fall back to the slower paths."""
    if not sysconfig.get_config_var("CC"):
        pytest.skip("no C compiler configured for this Python")
    assert compiled._kernels is not None, "core._kernels missing: reinstall (setup.py)"


def test_environment_switch_turns_them_off(monkeypatch):
    monkeypatch.setenv("COLORIZE_KERNELS", "0")
    assert compiled.compiled_kernels() is None


def _lab_case(n: int, seed: int = 0, spread: float = 1.2):
    """Lightness over the whole range and chroma often out of gamut, with its gray."""
    rng = np.random.default_rng(seed)
    gray = rng.random((1, n)).astype(np.float32)
    gray.reshape(-1)[: min(n, 4)] = [0.0, 1.0, 0.001, 0.999][: min(n, 4)]
    light = LabSpace().gray_lightness(gray).astype(np.float32)
    chroma = rng.uniform(-110, 110, (1, n, 2)).astype(np.float32) * spread
    return light, chroma, gray


@needs_kernels
@pytest.mark.parametrize("n", [1, 255, 256, 257, 40_000])
@pytest.mark.parametrize("with_gray", [False, True])
def test_recombine_lab_matches_the_opencv_path_and_the_definition(n, with_gray):
    light, chroma, gray = _lab_case(n)
    gray = gray if with_gray else None
    out = np.full((1, n, 3), -1.0, np.float32)
    kernels.recombine_lab(light, chroma, gray, out, _KERNEL_CONSTANTS)
    reference = np.empty_like(out)
    _recombine_lab(light, chroma, gray, reference)
    definition = ColorSpace.recombine(LabSpace(), light, chroma, gray=gray)
    assert out.min() >= 0.0 and out.max() <= 1.0
    np.testing.assert_allclose(out, reference, atol=2e-5)
    np.testing.assert_allclose(out, definition, atol=2e-5)


@needs_kernels
def test_recombine_lab_exercises_the_correction():
    """Most of these colours are clipped, so the App. A.4 path is what is compared."""
    light, chroma, _ = _lab_case(5000, seed=1, spread=1.5)
    out = np.empty((1, 5000, 3), np.float32)
    kernels.recombine_lab(light, chroma, None, out, _KERNEL_CONSTANTS)
    definition = ColorSpace.recombine(LabSpace(), light, chroma)
    assert np.any((definition <= 0.0) | (definition >= 1.0), axis=-1).mean() > 0.3
    np.testing.assert_allclose(out, definition, atol=2e-5)


@needs_kernels
def test_recombine_lab_survives_non_finite_input():
    light = np.array([[50.0, np.nan, 50.0, np.inf, -np.inf]], np.float32)
    chroma = np.array([[[np.inf, 0.0], [0.0, 0.0], [np.nan, 1.0], [0.0, 0.0], [3.0, 3.0]]])
    out = np.empty((1, 5, 3), np.float32)
    kernels.recombine_lab(light, chroma.astype(np.float32), None, out, _KERNEL_CONSTANTS)
    assert np.all((out >= 0.0) & (out <= 1.0))  # finite, in range: no table overrun


@needs_kernels
def test_recombine_lab_refuses_mismatched_buffers():
    light, chroma, gray = _lab_case(10)
    with pytest.raises(ValueError, match="chroma: expected 20 float32 values"):
        kernels.recombine_lab(
            light, chroma[:, :5], None, np.empty((1, 10, 3), np.float32), _KERNEL_CONSTANTS
        )
    with pytest.raises(ValueError, match="out: expected 30"):
        kernels.recombine_lab(
            light, chroma, None, np.empty((1, 10, 2), np.float32), _KERNEL_CONSTANTS
        )
    with pytest.raises(ValueError, match="gray: expected 10"):
        kernels.recombine_lab(
            light, chroma, gray[:, :3], np.empty((1, 10, 3), np.float32), _KERNEL_CONSTANTS
        )
    with pytest.raises(TypeError, match="lightness: expected float32"):
        kernels.recombine_lab(
            light.astype(np.float64), chroma, None, np.empty((1, 10, 3)), _KERNEL_CONSTANTS
        )
    with pytest.raises(ValueError, match="C-contiguous"):
        kernels.recombine_lab(
            light, chroma, None, np.empty((1, 10, 6), np.float32)[..., ::2], _KERNEL_CONSTANTS
        )


@needs_kernels
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_quantize_matches_numpy_rounding(monkeypatch, dtype):
    """Clip, scale and round half to even, exactly as the numpy path does."""
    top = np.iinfo(dtype).max
    rng = np.random.default_rng(0)
    values = rng.uniform(-0.3, 1.3, (257, 131, 3)).astype(np.float32)
    ties = (np.arange(top, dtype=np.float64) + 0.5) / top  # halfway between two levels
    values.reshape(-1)[: min(ties.size, values.size)] = ties[: values.size].astype(np.float32)
    fast = quantize(values, dtype)
    monkeypatch.setenv("COLORIZE_KERNELS", "0")
    slow = quantize(values, dtype)
    assert fast.dtype == dtype
    np.testing.assert_array_equal(fast, slow)


@needs_kernels
def test_quantize_refuses_other_types():
    src = np.zeros(6, np.float32)
    with pytest.raises(TypeError, match="uint8 or uint16"):
        kernels.quantize(src, np.empty(6, np.int16))
    with pytest.raises(TypeError, match="input: expected float32"):
        kernels.quantize(np.zeros(6), np.empty(6, np.uint8))
    with pytest.raises(ValueError, match="6 values in, room for 7"):
        kernels.quantize(src, np.empty(7, np.uint8))


# --- rgb_to_lab / rgb_to_lightness: sRGB -> CIE L*a*b*, against the OpenCV path


def _rgb_cases(shape, seed: int = 0) -> np.ndarray:
    """Random sRGB colours with the corners, the knee of the sRGB curve and the grays."""
    rng = np.random.default_rng(seed)
    rgb = rng.random(shape, dtype=np.float32)
    flat = rgb.reshape(-1, 3)
    special = np.array(
        [[0, 0, 0], [1, 1, 1], [1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 0], [0, 1, 1]]
        + [[0.04045, 0.0404, 0.0405], [0.001, 0.002, 0.003], [0.5, 0.5, 0.5]],
        np.float32,
    )
    flat[: min(len(flat), len(special))] = special[: len(flat)]
    return rgb


def _python_path(func, *args, monkeypatch):
    with monkeypatch.context() as m:
        m.setenv("COLORIZE_KERNELS", "0")
        return func(*args)


@needs_kernels
@pytest.mark.parametrize("shape", [(3,), (1, 3), (255, 3), (1, 257, 3), (7, 13, 3), (301, 299, 3)])
def test_rgb_to_lab_kernel_matches_the_opencv_path_and_float64(shape, monkeypatch):
    """Both float32 paths within 1.5e-4 of the float64 result, so within 3e-4 of each
    other (float32 rounding of 500 (fx - fy)); the kernel is the one that runs."""
    rgb = _rgb_cases(shape)
    fast = rgb_to_lab(rgb)
    slow = _python_path(rgb_to_lab, rgb, monkeypatch=monkeypatch)
    exact = rgb_to_lab(rgb.astype(np.float64))
    direct = np.empty_like(rgb)
    kernels.rgb_to_lab(rgb, direct, _FORWARD_CONSTANTS)
    assert fast.dtype == np.float32 and fast.shape == shape
    np.testing.assert_array_equal(fast, direct)
    np.testing.assert_allclose(fast, exact, atol=1.5e-4, rtol=0)
    np.testing.assert_allclose(slow, exact, atol=1.5e-4, rtol=0)
    np.testing.assert_allclose(fast, slow, atol=3e-4, rtol=0)


@needs_kernels
def test_rgb_to_lab_kernel_meets_scikit_image_on_every_8bit_level():
    """Issue #31: within 1e-3 of skimage.color.rgb2lab (which rounds the CIE constants)."""
    color = pytest.importorskip("skimage.color")
    levels = np.arange(0, 256, 5, dtype=np.float32) / np.float32(255)
    rgb = np.stack(np.meshgrid(levels, levels, levels, indexing="ij"), -1).reshape(-1, 3)
    grays = np.repeat((np.arange(256, dtype=np.float32) / np.float32(255))[:, None], 3, 1)
    rgb = np.concatenate([rgb, grays])
    assert np.abs(rgb_to_lab(rgb) - color.rgb2lab(rgb)).max() <= 1e-3
    exact = rgb_to_lab(rgb.astype(np.float64))
    np.testing.assert_allclose(rgb_to_lab(rgb), exact, atol=1.5e-4, rtol=0)


@needs_kernels
def test_lightness_kernel_matches_the_opencv_path(monkeypatch):
    rgb = _rgb_cases((123, 77, 3), seed=3)
    space = LabSpace()
    fast = space.lightness(rgb)
    slow = _python_path(space.lightness, rgb, monkeypatch=monkeypatch)
    assert fast.shape == (123, 77) and fast.dtype == np.float32
    np.testing.assert_allclose(fast, slow, atol=1e-4, rtol=0)
    np.testing.assert_allclose(fast, rgb_to_lab(rgb)[..., 0], atol=1e-5, rtol=0)
    np.testing.assert_allclose(fast, space.lightness(rgb.astype(np.float64)), atol=1e-4)


@needs_kernels
def test_rgb_to_lab_kernel_extrapolates_like_the_opencv_path(monkeypatch):
    """Values outside [0, 1] follow the same branch-free formulas (relative to size)."""
    rgb = np.random.default_rng(5).uniform(-3.0, 5.0, (200, 300, 3)).astype(np.float32)
    exact = rgb_to_lab(rgb.astype(np.float64))
    scale = np.maximum(1.0, np.abs(exact))
    for lab in (rgb_to_lab(rgb), _python_path(rgb_to_lab, rgb, monkeypatch=monkeypatch)):
        assert np.abs(lab - exact).max() > 0  # float32 arithmetic: not the float64 path
        assert (np.abs(lab - exact) / scale).max() < 5e-4


@needs_kernels
def test_rgb_to_lab_kernel_reads_any_layout():
    """Views (strided, reversed channels, transposed) give the values of their copies."""
    rgb = _rgb_cases((40, 60, 3), seed=7)
    for view in (rgb[:, ::2], rgb[::-3], rgb[..., ::-1], rgb.transpose(1, 0, 2)):
        assert not view.flags.c_contiguous
        np.testing.assert_array_equal(rgb_to_lab(view), rgb_to_lab(np.ascontiguousarray(view)))
        np.testing.assert_array_equal(
            LabSpace().lightness(view), LabSpace().lightness(np.ascontiguousarray(view))
        )


@needs_kernels
def test_rgb_to_lab_float64_keeps_the_float64_path(monkeypatch):
    """float64 input is not narrowed to the float32 kernel: same values as with it off."""
    rgb = _rgb_cases((31, 17, 3), seed=2).astype(np.float64)
    lab = rgb_to_lab(rgb)
    assert lab.dtype == np.float64
    np.testing.assert_array_equal(lab, _python_path(rgb_to_lab, rgb, monkeypatch=monkeypatch))
    np.testing.assert_allclose(lab_to_rgb(lab), rgb, atol=1e-9)
    eight = (rgb * 255).round().astype(np.uint8)  # other dtypes: cast to float32, kernel
    np.testing.assert_array_equal(rgb_to_lab(eight), rgb_to_lab(eight.astype(np.float32)))


@needs_kernels
def test_rgb_to_lab_kernel_non_finite_pixels_are_nan_as_in_the_opencv_path(monkeypatch):
    """A NaN or infinite channel, or a float32 overflow, makes the whole pixel NaN; huge
    negative values stay finite (the linear segment); the other pixels are untouched."""
    nan, inf = np.nan, np.inf
    rgb = np.array(
        [
            [nan, 0.5, 0.5], [0.5, inf, 0.5], [0.5, 0.5, -inf], [nan, nan, nan],
            [inf, -inf, 0.0], [1e30, 0.0, 0.0], [-1e30, 0.0, 0.0], [0.2, 0.4, 0.6],
        ],
        np.float32,
    )  # fmt: skip
    space = LabSpace()
    with np.errstate(all="ignore"):
        fast, slow = rgb_to_lab(rgb), _python_path(rgb_to_lab, rgb, monkeypatch=monkeypatch)
        light = space.lightness(rgb)
        slow_light = _python_path(space.lightness, rgb, monkeypatch=monkeypatch)
    np.testing.assert_array_equal(np.isnan(fast), np.isnan(slow))
    assert np.isnan(fast[:6]).all() and np.isfinite(fast[6:]).all()
    np.testing.assert_allclose(fast[6:], slow[6:], rtol=1e-5, atol=2e-4)
    np.testing.assert_array_equal(np.isnan(light), np.isnan(slow_light))
    np.testing.assert_allclose(light[6:], slow_light[6:], rtol=1e-5, atol=1e-4)


@needs_kernels
def test_rgb_to_lab_kernel_refuses_mismatched_buffers():
    rgb, out = np.zeros((10, 3), np.float32), np.empty((10, 3), np.float32)
    with pytest.raises(ValueError, match="out: expected 30 float32 values"):
        kernels.rgb_to_lab(rgb, np.empty((10, 2), np.float32), _FORWARD_CONSTANTS)
    with pytest.raises(ValueError, match="out: expected 10 float32 values"):
        kernels.rgb_to_lightness(rgb, out, _FORWARD_CONSTANTS)
    with pytest.raises(ValueError, match="3 values per pixel"):
        kernels.rgb_to_lab(np.zeros(10, np.float32), out, _FORWARD_CONSTANTS)
    with pytest.raises(TypeError, match="rgb: expected float32"):
        kernels.rgb_to_lab(rgb.astype(np.float64), out, _FORWARD_CONSTANTS)
    with pytest.raises(ValueError, match="constants: expected 9"):
        kernels.rgb_to_lab(rgb, out, _KERNEL_CONSTANTS)
    with pytest.raises(ValueError, match="C-contiguous"):
        kernels.rgb_to_lab(rgb[::2], out[:5], _FORWARD_CONSTANTS)
