"""CIE L*a*b* (D65 white, sRGB primaries and companding): the toolkit's reference space.

Speed: conversions run in cache-sized blocks of 16 384 pixels with OpenCV's vectorised
primitives (``cv2.log``/``exp``/``transform``/``threshold``), not ``cv2.cvtColor``, whose float
Lab is a fixed-point approximation off by up to 0.5 in a and b (``benchmarks/bench_colour.py``).
Piecewise transfer functions run without branches: ``g`` above a knee ``t`` and the line ``h``
below, continuous at ``t``, is ``f(x) = g(max(x, t)) + h(min(x, t)) - h(t)``. Where the C
kernels are built (:func:`core.compiled.compiled_kernels`), float32 :func:`rgb_to_lab` and
:meth:`LabSpace.lightness` run the single-pass ``rgb_to_lab`` kernel of ``core/_kernels.c``
instead (same formulas, 1.5-2x the throughput, ``scripts/bench_lab.py``); float64 input always
takes the OpenCV path, in float64.

Accuracy: float64 round trips agree to 1e-9; float32 agrees with ``skimage.color.rgb2lab``
to about 2e-4 (skimage rounds the CIE constants 0.008856 and 7.787), and the kernel and the
OpenCV path agree to about 2e-4 (each within 1.4e-4 of float64: rounding of ``500 (fx - fy)``).

References
----------
IEC 61966-2-1:1999 (sRGB). CIE 15:2004 (L*a*b*; D65 white X = 95.047, Y = 100,
Z = 108.883, as in scikit-image).
"""

from __future__ import annotations

import cv2
import numpy as np

from core.colorspaces.base import ChannelRange, StackedColorSpace, as_float, as_float3, toward_gray
from core.compiled import compiled_kernels

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

# CIE L*a*b* constants: f(t) = cbrt(t) above _EPS, _KAPPA * t + 4/29 below.
_DELTA = 6.0 / 29.0
_EPS = _DELTA**3
_KAPPA = 1.0 / (3.0 * _DELTA**2)
# sRGB companding knees. IEC 61966-2-1 rounds them to 0.04045 and 0.0031308, where its two
# segments miss each other by 2e-9 and 3e-8; these are the exact intersections next to them
# (roots of ((x + 0.055) / 1.055)^2.4 = x / 12.92 and 1.055 l^(1/2.4) - 0.055 = 12.92 l), so the
# branch-free forms below are continuous and exact on both segments.
_SRGB_KNEE = 0.040448236277107856  # encoded
_LINEAR_KNEE = 0.003130668442500588  # linear

_BLOCK = 1 << 14  # pixels per block; 3 buffers of 16k RGB float32 fit in L2.

# --- encoded sRGB -> linear: lin = s (max(x, k) + 0.055)^2.4 + (min(x, k) - k) / 12.92
_S = 1.055**-2.4
_DECODE_MIN_SCALE = 1.0 / (12.92 * _S)  # multiplies min(x, k) before scaling by _S

# rgb -> XYZ/white, folded with the decode scale and constant term.
_M1 = _RGB_TO_XYZ / WHITE_D65[:, None]
_DECODE_OFFSET = -_SRGB_KNEE / 12.92
_RGB_TO_XYZN = np.hstack([_M1 * _S, (_M1 @ np.full(3, _DECODE_OFFSET))[:, None]])
# f -> Lab, folded with the -kappa * eps constant of the linear branch.
_F_TO_LAB_LINEAR = np.array([[0.0, 116.0, 0.0], [500.0, -500.0, 0.0], [0.0, 200.0, -200.0]])
_F_TO_LAB_OFFSET = np.array([-16.0, 0.0, 0.0]) + _F_TO_LAB_LINEAR @ np.full(3, -_KAPPA * _EPS)
_F_TO_LAB = np.hstack([_F_TO_LAB_LINEAR, _F_TO_LAB_OFFSET[:, None]])
# Lab -> f = (fx, fy, fz).
_LAB_TO_F = np.array(
    [
        [1 / 116, 1 / 500, 0.0, 16 / 116],
        [1 / 116, 0.0, 0.0, 16 / 116],
        [1 / 116, 0.0, -1 / 200, 16 / 116],
    ]
)
# XYZ/white -> linear RGB, folded with the -delta/kappa constant of f^-1's linear branch.
_M2 = _XYZ_TO_RGB * WHITE_D65[None, :]
_XYZN_TO_RGB = np.hstack([_M2, (_M2 @ np.full(3, -_DELTA / _KAPPA))[:, None]])


_ENCODE_OFFSET = -1.055 * _LINEAR_KNEE ** (1 / 2.4)
#: The forward C kernel's matrix (core/_kernels.c rgb_to_lab): linear RGB -> XYZ/white.
_FORWARD_CONSTANTS = np.ascontiguousarray(_M1.ravel(), np.float32)


def _run(image: np.ndarray, out_channels: int, step) -> np.ndarray:
    """Apply ``step(src, dst, scratch_a, scratch_b, scratch_c)`` block by block, on (n, 1, 3)
    views (an n x 1 three-channel image to ``cv2.transform``) and scratch allocated once."""
    src = np.ascontiguousarray(image).reshape(-1, 1, image.shape[-1])
    out = np.empty((src.shape[0], 1, out_channels), dtype=src.dtype)
    size = min(_BLOCK, src.shape[0])
    scratch = [np.empty((size, 1, 3), dtype=src.dtype) for _ in range(3)]
    for start in range(0, src.shape[0], _BLOCK):
        block = src[start : start + _BLOCK]
        n = block.shape[0]
        step(block, out[start : start + n], *(buf[:n] for buf in scratch))
    return out.reshape(*image.shape[:-1], out_channels)


def _forward(rgb: np.ndarray, lab: bool) -> np.ndarray | None:
    """Lab (``lab``) or L* of ``rgb`` (..., 3) through the C kernel; None where the
    kernel does not apply (not built, turned off, or float64 input)."""
    kernels = compiled_kernels()
    if kernels is None or rgb.dtype != np.float32:
        return None
    src = np.ascontiguousarray(rgb)
    out = np.empty(rgb.shape if lab else rgb.shape[:-1], np.float32)
    if out.size:
        convert = kernels.rgb_to_lab if lab else kernels.rgb_to_lightness
        convert(src, out, _FORWARD_CONSTANTS)
    return out


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


def _gray_lightness_step(gray, dst, a, b, c) -> None:
    """L* of gray sRGB values (n, 1, 1): the Y of R = G = B = x is linear(x) (white Y = 1)."""
    n = gray.shape[0]
    gray, dst, low, high = (buf.reshape(-1)[:n].reshape(n, 1) for buf in (gray, dst, a, b))
    _decode_srgb(gray, low, high)
    cv2.addWeighted(high, _S, high, 0.0, _DECODE_OFFSET, dst=dst)  # Y
    _lab_f(dst, low, high)
    cv2.addWeighted(high, 116.0, high, 0.0, -16.0 - 116.0 * _KAPPA * _EPS, dst=dst)


def rgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """Convert sRGB in [0, 1] to CIE L*a*b* (D65).

    Parameters
    ----------
    rgb : ndarray, shape (..., 3), float32 or float64 (other dtypes are cast to float32)
        sRGB-encoded values, nominally in [0, 1]; values outside are extrapolated.

    Returns
    -------
    ndarray, shape (..., 3), same float dtype
        L in [0, 100], a and b roughly in [-128, 127]. A pixel with a NaN or infinite
        value (or whose conversion overflows) is NaN in all three channels.

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
    rgb = as_float3(rgb)
    fast = _forward(rgb, lab=True)
    return fast if fast is not None else _run(rgb, 3, _rgb_to_lab_step)


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
    return _run(as_float3(lab, "Lab"), 3, _lab_to_rgb_step)


def _gray_to_l(gray: np.ndarray) -> np.ndarray:
    """CIE L* of a gray sRGB value (R = G = B = gray): L depends only on Y = linear(gray)."""
    linear = np.where(
        gray > _SRGB_KNEE, ((np.maximum(gray, _SRGB_KNEE) + 0.055) / 1.055) ** 2.4, gray / 12.92
    )
    f = np.where(linear > _EPS, np.cbrt(np.maximum(linear, _EPS)), _KAPPA * linear + 4.0 / 29.0)
    return (116.0 * f - 16.0).astype(gray.dtype, copy=False)


def _l_to_gray(lightness: np.ndarray) -> np.ndarray:
    """sRGB value of the gray with CIE L* = ``lightness`` (inverse of :func:`_gray_to_l`): two
    1-D functions (CIE 15:2004 Eq. 8.1 inverted, sRGB companding), ~4x cheaper than Lab -> RGB."""
    dtype = lightness.dtype
    f = (lightness + 16.0) / 116.0
    linear = np.where(f > _DELTA, f * f * f, (f - 4.0 / 29.0) / _KAPPA)
    encoded = np.where(
        linear > _LINEAR_KNEE,
        1.055 * np.power(np.maximum(linear, _LINEAR_KNEE), 1.0 / 2.4, dtype=dtype) - 0.055,
        12.92 * linear,
    )
    return encoded.astype(dtype, copy=False)


# --- fused recombination (LabSpace.recombine): Lab -> clipped sRGB + App. A.4 correction.
# The kernel works on u = 1.055^2.4 x (x: linear RGB), so that the power of the sRGB
# encode needs no scale: 1.055 x^(1/2.4) = u^(1/2.4).
_U = 1.055**2.4
_U_KNEE = _U * _LINEAR_KNEE
_F_TO_U = _U * _XYZN_TO_RGB  # from the branch-free f^-1 buffer (with its constant)
_LUMA_U = _RGB_TO_XYZ[1:2] / _U  # Y (white Y = 1) of u
_TRUNC, _TOZERO = cv2.THRESH_TRUNC, cv2.THRESH_TOZERO
#: The C kernel's matrices (core/_kernels.c): XYZ/white -> linear RGB, then RGB -> Y.
_KERNEL_CONSTANTS = np.concatenate([_M2.ravel(), _RGB_TO_XYZ[1]]).astype(np.float32)


def _encode_u(u: np.ndarray, low: np.ndarray, high: np.ndarray, dst: np.ndarray) -> None:
    """dst = sRGB encode of x = u / 1.055^2.4 for x in [0, 1], branch-free:
    1.055 max(x, k)^(1/2.4) + 12.92 min(x, k) - 1.055 k^(1/2.4)."""
    cv2.threshold(u, _U_KNEE, 0, _TRUNC, dst=low)  # 1.055^2.4 min(x, k)
    cv2.addWeighted(u, 1.0, low, -1.0, _U_KNEE, dst=high)  # 1.055^2.4 max(x, k)
    cv2.log(high, dst=high)
    np.multiply(high, high.dtype.type(1.0 / 2.4), out=high)
    cv2.exp(high, dst=high)  # 1.055 max(x, k)^(1/2.4)
    cv2.addWeighted(low, 12.92 / _U, high, 1.0, _ENCODE_OFFSET, dst=dst)


def _recombine_lab(
    lightness: np.ndarray, chroma: np.ndarray, gray: np.ndarray | None, out: np.ndarray
) -> None:
    """Fused :meth:`LabSpace.recombine` (float32, contiguous): per block Lab -> linear RGB, clip
    (as clipping sRGB: encoding is monotonic), encode; where the clip changed Y, App. A.4's
    :func:`toward_gray` from encoded Y after to the wanted gray (``gray``, else Y before)."""
    light = lightness.reshape(-1, 1)
    ab = chroma.reshape(-1, 1, 2)
    rgb = out.reshape(-1, 1, 3)
    total = light.shape[0]
    size = min(_BLOCK, total)
    lab, low = np.empty((size, 1, 3), np.float32), np.empty((size, 1, 3), np.float32)
    y_before, y_after = np.empty((size, 1), np.float32), np.empty((size, 1), np.float32)
    found = []  # (indices, Y after the clip, Y before) of the pixels the clip changed
    for start in range(0, total, _BLOCK):
        stop = min(total, start + _BLOCK)
        n = stop - start
        u, low_b, y0, y1 = lab[:n], low[:n], y_before[:n], y_after[:n]
        dst = rgb[start:stop]
        cv2.merge([light[start:stop], ab[start:stop]], dst=u)
        cv2.transform(u, _LAB_TO_F, dst=dst)  # f = (fx, fy, fz); dst is scratch until the end
        # f^-1(t) = max(t, d)^3 + (min(t, d) - d) / kappa (the constant is in the matrix)
        cv2.threshold(dst, _DELTA, 0, _TRUNC, dst=low_b)
        cv2.addWeighted(dst, 1.0, low_b, -1.0, _DELTA, dst=dst)
        cv2.pow(dst, 3, dst=dst)
        cv2.scaleAdd(low_b, 1.0 / _KAPPA, dst, dst=dst)
        cv2.transform(dst, _F_TO_U, dst=u)
        cv2.transform(u, _LUMA_U, dst=y0)
        cv2.threshold(u, _U, 0, _TRUNC, dst=u)
        cv2.threshold(u, 0.0, 0, _TOZERO, dst=u)
        cv2.transform(u, _LUMA_U, dst=y1)
        _encode_u(u, low_b, dst, dst)
        cv2.threshold(dst, 1.0, 0, _TRUNC, dst=dst)
        cv2.threshold(dst, 0.0, 0, _TOZERO, dst=dst)
        if cv2.countNonZero(cv2.compare(y0, y1, cv2.CMP_NE)):
            clipped = np.flatnonzero(y0 != y1)
            found.append((clipped + start, np.take(y1, clipped), np.take(y0, clipped)))
    if not found:
        return
    # App. A.4 on the gathered subset: the wanted and achieved grays, sRGB encodings of Y
    index = np.concatenate([f[0] for f in found])
    k = index.size
    ys = np.concatenate([f[1] for f in found] + [f[2] for f in found]).reshape(-1, 1)
    np.clip(ys, 0.0, 1.0, out=ys)
    ys *= ys.dtype.type(_U)
    _encode_u(ys, np.empty_like(ys), np.empty_like(ys), ys)
    wanted = ys[k:, 0] if gray is None else np.take(gray.reshape(-1), index)
    flat = out.reshape(-1, 3)
    rows = toward_gray(np.take(flat, index, axis=0), ys[:k, 0], wanted)
    pixel = np.dtype((np.void, 12))  # one RGB float32 pixel, so put() moves whole rows
    np.put(flat.view(pixel).reshape(-1), index, rows.view(pixel).reshape(-1))


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
        rgb = as_float3(rgb)
        fast = _forward(rgb, lab=False)
        return fast if fast is not None else _run(rgb, 1, _lightness_step)[..., 0]

    def gray_lightness(self, gray: np.ndarray) -> np.ndarray:
        gray = as_float(gray)
        if gray.size < _BLOCK:
            return _gray_to_l(gray)
        return _run(gray[..., None], 1, _gray_lightness_step)[..., 0]  # in-cache blocks

    def gray_of_lightness(self, lightness: np.ndarray) -> np.ndarray:
        lightness = as_float(lightness)
        flat = np.ascontiguousarray(lightness).reshape(-1)
        out = np.empty_like(flat)
        for start in range(0, flat.size, _BLOCK):  # in-cache blocks: ~3.5x faster
            out[start : start + _BLOCK] = _l_to_gray(flat[start : start + _BLOCK])
        return out.reshape(lightness.shape)

    def recombine(
        self,
        lightness: np.ndarray,
        chroma: np.ndarray,
        *,
        gray: np.ndarray | None = None,
        out: np.ndarray | None = None,
    ) -> np.ndarray:
        """Fused :meth:`ColorSpace.recombine` (App. A.4), agreeing with it to about 1e-5: the C
        kernel of :mod:`core._kernels` where built (:func:`core.compiled.compiled_kernels`), else
        cache-sized blocks of OpenCV primitives (``benchmarks/bench_recombine.py`` times both)."""
        kernels = compiled_kernels()
        if kernels is None:
            return self._fused_recombine(_recombine_lab, lightness, chroma, gray, out)

        def kernel(*arrays: np.ndarray | None) -> None:
            kernels.recombine_lab(*arrays, _KERNEL_CONSTANTS)

        return self._fused_recombine(kernel, lightness, chroma, gray, out)
