"""YCbCr, ITU-R BT.601 full range, as used by JPEG (JFIF) and PixColor.

``Y = 0.299 R + 0.587 G + 0.114 B`` in [0, 1]; the chroma channels are the scaled colour
differences ``Cb = (B - Y) / 1.772`` and ``Cr = (R - Y) / 1.402``, centred on zero, in
[-0.5, 0.5]. JPEG stores ``255 Y`` and ``255 C + 128``; OpenCV's ``COLOR_RGB2YCrCb`` on float
images returns ``C + 0.5`` in the order Y, Cr, Cb, within 3e-4 of this module (it rounds the
chroma scale factors to 0.564 and 0.713). The space is linear in (gamma-encoded) sRGB, which
is why PixColor chose it ("linear, simple and widely used"); it discretises Cb and Cr into 32
bins each (:data:`core.binning.PIXCOLOR_BINS`). ``skimage.color.rgb2ycbcr`` is the
*studio-range* variant (Y in [16, 235]), not the same space.

References
----------
ITU-R BT.601-7; JPEG File Interchange Format 1.02 (full-range equations).
S. Guadarrama et al. PixColor: Pixel Recursive Colorization. BMVC 2017, Sec. 3.
"""

from __future__ import annotations

import cv2
import numpy as np

from core.colorspaces.base import (
    ChannelRange,
    StackedColorSpace,
    as_float3,
    toward_gray,
    transform3,
)

__all__ = ["YCbCrSpace", "rgb_to_ycbcr", "ycbcr_to_rgb"]

_KR, _KB = 0.299, 0.114
_KG = 1.0 - _KR - _KB
_FORWARD = np.array(
    [
        [_KR, _KG, _KB],
        [-_KR / (2 * (1 - _KB)), -_KG / (2 * (1 - _KB)), 0.5],
        [0.5, -_KG / (2 * (1 - _KR)), -_KB / (2 * (1 - _KR))],
    ]
)
_INVERSE = np.linalg.inv(_FORWARD)


def rgb_to_ycbcr(rgb: np.ndarray) -> np.ndarray:
    """Convert sRGB to full-range BT.601 YCbCr with centred chroma.

    Parameters
    ----------
    rgb : ndarray, shape (..., 3), float32 or float64 (other dtypes are cast to float32)
        sRGB values in [0, 1].

    Returns
    -------
    ndarray, shape (..., 3), same float dtype
        Y in [0, 1]; Cb and Cr in [-0.5, 0.5].

    Raises
    ------
    ValueError
        If the last axis is not 3.

    References
    ----------
    ITU-R BT.601 luma weights; JFIF 1.02 full-range chroma scaling.

    Examples
    --------
    >>> rgb_to_ycbcr(np.array([0.0, 0.0, 1.0])).round(4)
    array([ 0.114 ,  0.5   , -0.0813])
    """
    return transform3(as_float3(rgb), _FORWARD)


def ycbcr_to_rgb(ycbcr: np.ndarray) -> np.ndarray:
    """Convert full-range YCbCr (centred chroma) back to sRGB, without clipping.

    Parameters
    ----------
    ycbcr : ndarray, shape (..., 3), float
        Y in [0, 1]; Cb, Cr in [-0.5, 0.5].

    Returns
    -------
    ndarray, shape (..., 3), same float dtype
        sRGB; out-of-gamut combinations fall outside [0, 1].

    Raises
    ------
    ValueError
        If the last axis is not 3.

    Examples
    --------
    >>> ycbcr_to_rgb(np.array([0.5, 0.0, 0.0]))
    array([0.5, 0.5, 0.5])
    """
    return transform3(as_float3(ycbcr, "YCbCr"), _INVERSE)


class YCbCrSpace(StackedColorSpace):
    """Full-range BT.601 YCbCr (PixColor, Guadarrama et al. 2017, Sec. 3): luma Y in [0, 1],
    chroma (Cb, Cr) in [-0.5, 0.5], see :func:`rgb_to_ycbcr`. Gray pixels have Cb = Cr = 0."""

    name = "ycbcr"
    lightness_channel = ChannelRange("Y", 0.0, 1.0)
    chroma_channels = (ChannelRange("cb", -0.5, 0.5), ChannelRange("cr", -0.5, 0.5))
    lightness_definition = "Y = 0.299 R + 0.587 G + 0.114 B of gamma-encoded sRGB (BT.601 luma)"
    gray_is_lightness = True

    forward = staticmethod(rgb_to_ycbcr)
    inverse = staticmethod(ycbcr_to_rgb)

    def lightness(self, rgb: np.ndarray) -> np.ndarray:
        rgb = as_float3(rgb)
        return rgb @ _FORWARD[0].astype(rgb.dtype)

    def recombine(
        self,
        lightness: np.ndarray,
        chroma: np.ndarray,
        *,
        gray: np.ndarray | None = None,
        out: np.ndarray | None = None,
    ) -> np.ndarray:
        """Fused :meth:`ColorSpace.recombine`: one matrix, a clip, and the App. A.4
        correction (toward the wanted gray, Y itself, exactly) where the clip changed it."""
        return self._fused_recombine(_recombine_ycbcr, lightness, chroma, gray, out)


_BLOCK = 1 << 14  # pixels per block (cache-sized buffers)
_LUMA = _FORWARD[0:1]


def _recombine_ycbcr(
    lightness: np.ndarray, chroma: np.ndarray, gray: np.ndarray | None, out: np.ndarray
) -> None:
    """YCbCr -> RGB by one matrix, clip, and where the clip changed the colour
    :func:`toward_gray` from Y(clipped) to ``gray``, else Y (a luma's gray), gathered."""
    light, chroma = lightness.reshape(-1, 1), chroma.reshape(-1, 1, 2)
    target = (lightness if gray is None else gray).reshape(-1)
    rgb = out.reshape(-1, 1, 3)
    total = light.shape[0]
    size = min(_BLOCK, total)
    ycc = np.empty((size, 1, 3), np.float32)
    y_before, y_after = np.empty((size, 1), np.float32), np.empty((size, 1), np.float32)
    found = []  # (indices, Y after the clip) of the pixels the clip changed
    for start in range(0, total, _BLOCK):
        stop = min(total, start + _BLOCK)
        n = stop - start
        dst, y0, y1 = rgb[start:stop], y_before[:n], y_after[:n]
        cv2.merge([light[start:stop], chroma[start:stop]], dst=ycc[:n])
        cv2.transform(ycc[:n], _INVERSE, dst=dst)
        cv2.transform(dst, _LUMA, dst=y0)
        cv2.threshold(dst, 1.0, 0, cv2.THRESH_TRUNC, dst=dst)
        cv2.threshold(dst, 0.0, 0, cv2.THRESH_TOZERO, dst=dst)
        cv2.transform(dst, _LUMA, dst=y1)
        if cv2.countNonZero(cv2.compare(y0, y1, cv2.CMP_NE)):
            clipped = np.flatnonzero(y0 != y1)
            found.append((clipped + start, np.take(y1, clipped)))
    if found:  # one correction of all of them (per-block numpy calls cost more)
        index, achieved = (np.concatenate(f) for f in zip(*found, strict=True))
        flat = out.reshape(-1, 3)
        rows = toward_gray(np.take(flat, index, axis=0), achieved, np.take(target, index))
        pixel = np.dtype((np.void, 12))  # one RGB float32 pixel, so put() moves whole rows
        np.put(flat.view(pixel).reshape(-1), index, rows.view(pixel).reshape(-1))
