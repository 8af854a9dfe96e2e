"""CIE L*a*b* (D65 white, sRGB primaries and companding).

The reference colour space of the toolkit: every other space is checked
against it, and metrics such as colourfulness are computed through it.

Speed
-----
The conversions run block by block (16 384 pixels at a time, so the working
buffers stay in the CPU cache) and use OpenCV's vectorised primitives
(``cv2.log``/``cv2.exp``/``cv2.transform``/``cv2.threshold``) rather than
``cv2.cvtColor``: OpenCV's own float Lab conversion is a fixed-point
approximation that differs from the CIE formulas by up to 0.5 in a and b
(measured in ``benchmarks/bench_colour.py``), far outside the 1e-3 this module
promises. The piecewise sRGB and CIE transfer functions are evaluated without
branches: for a function that is ``g`` above a knee ``t`` and the line ``h``
below it, and continuous at ``t``, ``f(x) = g(max(x, t)) + h(min(x, t)) - h(t)``.

Accuracy: float64 round trips agree to better than 1e-9; float32 agrees with
``skimage.color.rgb2lab`` to about 2e-4 (skimage rounds the CIE constants
0.008856 and 7.787).

References
----------
IEC 61966-2-1:1999 (sRGB). CIE 15:2004 (L*a*b*; D65 tristimulus values
X = 95.047, Y = 100, Z = 108.883, the white point scikit-image also uses).
"""

from __future__ import annotations

import cv2
import numpy as np

from core.colorspaces.base import ChannelRange, StackedColorSpace, as_float

__all__ = ["LabSpace", "lab_to_rgb", "rgb_to_lab"]

# sRGB (linear) -> XYZ, D65, IEC 61966-2-1.
_RGB_TO_XYZ = np.array(
    [
        [0.412453, 0.357580, 0.180423],
        [0.212671, 0.715160, 0.072169],
        [0.019334, 0.119193, 0.950227],
    ]
)
_XYZ_TO_RGB = np.linalg.inv(_RGB_TO_XYZ)
#: D65 reference white (CIE 15:2004, 2-degree observer), Y normalised to 1.
WHITE_D65 = np.array([0.95047, 1.0, 1.08883])
_WHITE = WHITE_D65

# CIE L*a*b* constants: f(t) = cbrt(t) above _EPS, _KAPPA * t + 4/29 below.
_DELTA = 6.0 / 29.0
_EPS = _DELTA**3
_KAPPA = 1.0 / (3.0 * _DELTA**2)
# sRGB companding knees. IEC 61966-2-1 rounds them to 0.04045 and 0.0031308,
# where its two segments miss each other by 2e-9 and 3e-8; these are the exact
# intersections next to them (roots of ((x + 0.055) / 1.055)^2.4 = x / 12.92 and
# 1.055 l^(1/2.4) - 0.055 = 12.92 l), so the branch-free forms below are
# continuous and exact on both segments.
_SRGB_KNEE = 0.040448236277107856  # encoded
_LINEAR_KNEE = 0.003130668442500588  # linear

_BLOCK = 1 << 14  # pixels per block; 3 buffers of 16k RGB float32 fit in L2.

# --- encoded sRGB -> linear: lin = s (max(x, k) + 0.055)^2.4 + (min(x, k) - k) / 12.92
_S = 1.055**-2.4
_DECODE_MIN_SCALE = 1.0 / (12.92 * _S)  # multiplies min(x, k) before scaling by _S

# rgb -> XYZ/white, folded with the decode scale and constant term.
_M1 = _RGB_TO_XYZ / _WHITE[:, None]
_DECODE_OFFSET = -_SRGB_KNEE / 12.92
_RGB_TO_XYZN = np.hstack([_M1 * _S, (_M1 @ np.full(3, _DECODE_OFFSET))[:, None]])
# f -> Lab, folded with the -kappa * eps constant of the linear branch.
_F_TO_LAB_LINEAR = np.array([[0.0, 116.0, 0.0], [500.0, -500.0, 0.0], [0.0, 200.0, -200.0]])
_F_TO_LAB = np.hstack(
    [
        _F_TO_LAB_LINEAR,
        (np.array([-16.0, 0.0, 0.0]) + _F_TO_LAB_LINEAR @ np.full(3, -_KAPPA * _EPS))[:, None],
    ]
)
# Lab -> f = (fx, fy, fz).
_LAB_TO_F = np.array(
    [
        [1 / 116, 1 / 500, 0.0, 16 / 116],
        [1 / 116, 0.0, 0.0, 16 / 116],
        [1 / 116, 0.0, -1 / 200, 16 / 116],
    ]
)
# XYZ/white -> linear RGB, folded with the -delta/kappa constant of f^-1's linear branch.
_M2 = _XYZ_TO_RGB * _WHITE[None, :]
_XYZN_TO_RGB = np.hstack([_M2, (_M2 @ np.full(3, -_DELTA / _KAPPA))[:, None]])


_ENCODE_OFFSET = -1.055 * _LINEAR_KNEE ** (1 / 2.4)


def _run(image: np.ndarray, out_channels: int, step) -> np.ndarray:
    """Apply ``step(src, dst, scratch_a, scratch_b, scratch_c)`` block by block.

    Blocks are (n, 1, 3) views, the layout ``cv2.transform`` reads as an n x 1
    three-channel image; scratch buffers are allocated once.
    """
    src = np.ascontiguousarray(image).reshape(-1, 1, image.shape[-1])
    out = np.empty((src.shape[0], 1, out_channels), dtype=src.dtype)
    size = min(_BLOCK, src.shape[0])
    scratch = [np.empty((size, 1, 3), dtype=src.dtype) for _ in range(3)]
    for start in range(0, src.shape[0], _BLOCK):
        block = src[start : start + _BLOCK]
        n = block.shape[0]
        step(block, out[start : start + n], *(buf[:n] for buf in scratch))
    return out.reshape(*image.shape[:-1], out_channels)


def _flat(a: np.ndarray) -> np.ndarray:
    return a.reshape(-1, 1)


def _decode_srgb(x: np.ndarray, low: np.ndarray, dst: np.ndarray) -> None:
    """dst = (max(x,k)+0.055)^2.4 + min(x,k)/(12.92 s); scale s and constant go to the matrix."""
    x, low, dst = _flat(x), _flat(low), _flat(dst)
    cv2.threshold(x, _SRGB_KNEE, 0, cv2.THRESH_TRUNC, dst=low)  # min(x, k)
    cv2.addWeighted(x, 1.0, low, -1.0, _SRGB_KNEE + 0.055, dst=dst)  # max(x, k) + 0.055
    cv2.log(dst, dst=dst)
    np.multiply(dst, dst.dtype.type(2.4), out=dst)
    cv2.exp(dst, dst=dst)
    cv2.scaleAdd(low, _DECODE_MIN_SCALE, dst, dst=dst)


def _lab_f(t: np.ndarray, low: np.ndarray, dst: np.ndarray) -> None:
    """dst = cbrt(max(t, eps)) + kappa * min(t, eps); the -kappa*eps goes to the matrix."""
    t, low, dst = _flat(t), _flat(low), _flat(dst)
    cv2.threshold(t, _EPS, 0, cv2.THRESH_TRUNC, dst=low)
    cv2.addWeighted(t, 1.0, low, -1.0, _EPS, dst=dst)
    np.cbrt(dst, out=dst)
    cv2.scaleAdd(low, _KAPPA, dst, dst=dst)


def _rgb_to_lab_step(rgb, dst, a, b, c) -> None:
    _decode_srgb(rgb, a, b)
    cv2.transform(b, _RGB_TO_XYZN, dst=c)
    _lab_f(c, a, b)
    cv2.transform(b, _F_TO_LAB, dst=dst)


def _lab_to_rgb_step(lab, dst, a, b, c) -> None:
    cv2.transform(lab, _LAB_TO_F, dst=c)
    fa, fb, fc = _flat(a), _flat(b), _flat(c)
    # f^-1(t) = max(t, delta)^3 + (min(t, delta) - delta) / kappa
    cv2.threshold(fc, _DELTA, 0, cv2.THRESH_TRUNC, dst=fa)
    cv2.addWeighted(fc, 1.0, fa, -1.0, _DELTA, dst=fb)
    np.multiply(fb, fb, out=fc)
    np.multiply(fc, fb, out=fc)
    cv2.scaleAdd(fa, 1.0 / _KAPPA, fc, dst=fc)
    cv2.transform(c, _XYZN_TO_RGB, dst=b)
    # sRGB encode: 1.055 (max(l, k)^(1/2.4) - k^(1/2.4)) + 12.92 min(l, k)
    cv2.threshold(fb, _LINEAR_KNEE, 0, cv2.THRESH_TRUNC, dst=fa)
    cv2.addWeighted(fb, 1.0, fa, -1.0, _LINEAR_KNEE, dst=fc)
    cv2.log(fc, dst=fc)
    np.multiply(fc, fc.dtype.type(1.0 / 2.4), out=fc)
    cv2.exp(fc, dst=fc)
    cv2.addWeighted(fc, 1.055, fa, 12.92, _ENCODE_OFFSET, dst=_flat(dst))


def _lightness_step(rgb, dst, a, b, c) -> None:
    _decode_srgb(rgb, a, b)
    n = rgb.shape[0]
    y, low, f = (buf.reshape(-1)[:n].reshape(n, 1) for buf in (c, a, dst))
    cv2.transform(b, _RGB_TO_XYZN[1:2], dst=y)
    _lab_f(y, low, f)
    cv2.addWeighted(f, 116.0, f, 0.0, -16.0 - 116.0 * _KAPPA * _EPS, dst=f)


def rgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """Convert sRGB in [0, 1] to CIE L*a*b* (D65).

    Parameters
    ----------
    rgb : ndarray, shape (..., 3), float32 or float64 (other dtypes are cast to float32)
        sRGB-encoded values, nominally in [0, 1]; values outside are extrapolated.

    Returns
    -------
    ndarray, shape (..., 3), same float dtype
        L in [0, 100], a and b roughly in [-128, 127].

    Raises
    ------
    ValueError
        If the last axis is not 3.

    References
    ----------
    IEC 61966-2-1:1999 (sRGB transfer function); CIE 15:2004, Eqs. 8.1-8.3.

    Examples
    --------
    >>> rgb_to_lab(np.array([1.0, 1.0, 1.0])).round(2)
    array([100.,  -0.,   0.])
    """
    rgb = as_float(rgb)
    if rgb.shape[-1:] != (3,):
        raise ValueError(f"expected (..., 3) RGB array, got shape {rgb.shape}")
    return _run(rgb, 3, _rgb_to_lab_step)


def lab_to_rgb(lab: np.ndarray) -> np.ndarray:
    """Convert CIE L*a*b* (D65) to sRGB, without clipping to [0, 1].

    Parameters
    ----------
    lab : ndarray, shape (..., 3), float
        L in [0, 100]; a, b nominally in [-128, 127].

    Returns
    -------
    ndarray, shape (..., 3), same float dtype
        sRGB values; out-of-gamut colours fall outside [0, 1].

    Raises
    ------
    ValueError
        If the last axis is not 3.

    References
    ----------
    CIE 15:2004 (inverse of Eqs. 8.1-8.3); IEC 61966-2-1:1999.

    Examples
    --------
    >>> lab_to_rgb(np.array([100.0, 0.0, 0.0])).round(3)
    array([1., 1., 1.])
    """
    lab = as_float(lab)
    if lab.shape[-1:] != (3,):
        raise ValueError(f"expected (..., 3) Lab array, got shape {lab.shape}")
    return _run(lab, 3, _lab_to_rgb_step)


def _gray_to_l(gray: np.ndarray) -> np.ndarray:
    """CIE L* of a gray sRGB value (R = G = B = gray): L depends only on Y = linear(gray)."""
    linear = np.where(
        gray > _SRGB_KNEE, ((np.maximum(gray, _SRGB_KNEE) + 0.055) / 1.055) ** 2.4, gray / 12.92
    )
    f = np.where(linear > _EPS, np.cbrt(np.maximum(linear, _EPS)), _KAPPA * linear + 4.0 / 29.0)
    return (116.0 * f - 16.0).astype(gray.dtype, copy=False)


def _l_to_gray(lightness: np.ndarray) -> np.ndarray:
    """sRGB value of the gray with CIE L* = ``lightness``: the inverse of :func:`_gray_to_l`.

    A gray's L* depends only on its luminance Y, so this is two 1-D functions
    (CIE 15:2004 inverse of Eq. 8.1, then sRGB companding), ~4x cheaper than a
    full Lab -> RGB conversion with zero chroma.
    """
    dtype = lightness.dtype
    f = (lightness + 16.0) / 116.0
    linear = np.where(f > _DELTA, f * f * f, (f - 4.0 / 29.0) / _KAPPA)
    encoded = np.where(
        linear > _LINEAR_KNEE,
        1.055 * np.power(np.maximum(linear, _LINEAR_KNEE), 1.0 / 2.4, dtype=dtype) - 0.055,
        12.92 * linear,
    )
    return encoded.astype(dtype, copy=False)


class LabSpace(StackedColorSpace):
    """CIE L*a*b*: lightness L in [0, 100], chroma (a, b) in about [-128, 127].

    See :func:`rgb_to_lab` and :func:`lab_to_rgb`.
    """

    name = "lab"
    lightness_channel = ChannelRange("L", 0.0, 100.0)
    chroma_channels = (ChannelRange("a", -128.0, 127.0), ChannelRange("b", -128.0, 127.0))
    lightness_definition = "CIE L* of the sRGB (D65) colour"

    forward = staticmethod(rgb_to_lab)
    inverse = staticmethod(lab_to_rgb)

    def lightness(self, rgb: np.ndarray) -> np.ndarray:
        rgb = as_float(rgb)
        if rgb.shape[-1:] != (3,):
            raise ValueError(f"expected (..., 3) RGB array, got shape {rgb.shape}")
        return _run(rgb, 1, _lightness_step)[..., 0]

    def gray_lightness(self, gray: np.ndarray) -> np.ndarray:
        return _gray_to_l(as_float(gray))

    def gray_of_lightness(self, lightness: np.ndarray) -> np.ndarray:
        lightness = as_float(lightness)
        flat = np.ascontiguousarray(lightness).reshape(-1)
        out = np.empty_like(flat)
        for start in range(0, flat.size, _BLOCK):  # in-cache blocks: ~3.5x faster
            out[start : start + _BLOCK] = _l_to_gray(flat[start : start + _BLOCK])
        return out.reshape(lightness.shape)
