"""The optional C kernels (core/_kernels.c) against the Python paths they replace."""

from __future__ import annotations

import sysconfig

import numpy as np
import pytest

from core import compiled
from core.colorspaces import LabSpace
from core.colorspaces.base import ColorSpace
from core.colorspaces.lab import _KERNEL_CONSTANTS, _recombine_lab
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
