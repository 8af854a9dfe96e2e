"""Hue/chroma bicone of Larsson et al. (2016), Sec. 3.1.

HSL and HSV describe a colour *cylinder* whose hue and saturation are arbitrary, hence unstable,
at black (and, for HSL, at white). The bicone replaces saturation by chroma
``C = max(R, G, B) - min(R, G, B)``, which shrinks to zero at both tips, and keeps the lightness
``L`` as a pass-through channel. The only remaining instability, the hue of (nearly) gray
pixels, ``C -> 0``, is handled by the loss (Eq. 3), the decoders (chromatic fading, Eq. 5) and
:meth:`HueChromaSpace.resize_chroma` (chroma-weighted circular interpolation).

The link to HSV is ``V = L + C / 2`` and ``S = C / V`` (Sec. 3.1), so ``L = (max + min) / 2``
(the HSL lightness). This module never divides by ``V``: an RGB colour is
``max - C * clip(min(k, 4 - k), 0, 1)`` with ``k = (n + 6 H) mod 6``, ``n = 5, 3, 1`` for
R, G, B (the closed form of HSV -> RGB with ``V S = C``), exact and stable at black.

Channels are all in [0, 1]; hue is circular (H = 0 and H = 1 are red).

References
----------
G. Larsson, M. Maire, G. Shakhnarovich. Learning Representations for
Automatic Colorization. ECCV 2016, Sec. 3.1, Eqs. 3-5.
"""

from __future__ import annotations

import cv2
import numpy as np

from core.colorspaces.base import ChannelRange, StackedColorSpace, as_float3

__all__ = ["HueChromaSpace", "huechroma_to_rgb", "rgb_to_huechroma"]


def _planes(image: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The three channels of ``(..., 3)`` as contiguous 1-D arrays."""
    flat = image.reshape(-1, 3)
    return tuple(np.ascontiguousarray(flat[:, i]) for i in range(3))


def rgb_to_huechroma(rgb: np.ndarray) -> np.ndarray:
    """Convert sRGB to the hue/chroma bicone (L, H, C) of Larsson et al. 2016, Sec. 3.1.

    Parameters
    ----------
    rgb : ndarray, shape (..., 3), float32 or float64 (other dtypes are cast to float32)
        sRGB values in [0, 1].

    Returns
    -------
    ndarray, shape (..., 3), same float dtype
        ``L = (max + min) / 2`` in [0, 1]; hue ``H`` in [0, 1) (0 = red,
        1/3 = green, 2/3 = blue; 0 for gray pixels, where it is undefined);
        chroma ``C = max - min`` in [0, 1], with ``C <= 2 min(L, 1 - L)``.

    Raises
    ------
    ValueError
        If the last axis is not 3.

    Examples
    --------
    >>> rgb_to_huechroma(np.array([0.0, 1.0, 0.0])).round(4)
    array([0.5   , 0.3333, 1.    ])
    """
    rgb = as_float3(rgb)
    one = rgb.dtype.type
    r, g, b = _planes(rgb)
    high = np.maximum(np.maximum(r, g), b)
    low = np.minimum(np.minimum(r, g), b)
    chroma = high - low
    # subnormal chroma would overflow 1/chroma to inf (and 0 * inf to NaN): treat as gray
    tiny = np.finfo(rgb.dtype).tiny
    inverse = np.divide(one(1), chroma, out=np.zeros_like(chroma), where=chroma > tiny)
    # Hexagonal hue: position within the sector of the largest channel, in sixths.
    sixths = np.where(
        high == r, g - b, np.where(high == g, (b - r) + 2 * chroma, (r - g) + 4 * chroma)
    )
    hue = sixths * inverse
    hue *= one(1 / 6)
    hue += hue < 0
    hue[hue >= 1] = 0  # rounding can land exactly on 1
    return np.stack([(high + low) * one(0.5), hue, chroma], axis=-1).reshape(rgb.shape)


def huechroma_to_rgb(lhc: np.ndarray, *, clamp: bool = True) -> np.ndarray:
    """Convert bicone (L, H, C) back to sRGB (Larsson et al. 2016, Sec. 3.1; V = L + C/2, S = C/V).

    Parameters
    ----------
    lhc : ndarray, shape (..., 3), float
        Lightness L, hue H (any real; taken modulo 1) and chroma C.
    clamp : bool, default True
        Clamp chroma into the bicone, ``0 <= C <= 2 min(L, 1 - L)``, so the result keeps
        lightness ``L`` and hue exactly and lies in [0, 1] for L in [0, 1]: a predicted
        chroma beyond what a lightness allows near black and white fades instead of
        changing L. With ``clamp=False`` such colours come back outside [0, 1].

    Returns
    -------
    ndarray, shape (..., 3), same float dtype
        sRGB, not clipped (only ``L`` outside [0, 1] can push it outside when clamped).

    Raises
    ------
    ValueError
        If the last axis is not 3.

    Examples
    --------
    >>> huechroma_to_rgb(np.array([0.5, 2 / 3, 1.0])).round(4)
    array([0., 0., 1.])
    """
    lhc = as_float3(lhc, "(L, H, C)")
    one = lhc.dtype.type
    lightness, hue, chroma = _planes(lhc)
    if clamp:
        limit = np.minimum(lightness, 1 - lightness)
        limit *= 2
        np.maximum(limit, 0, out=limit)
        chroma = np.clip(chroma, 0, limit)
    high = chroma * one(0.5)
    high += lightness
    sixths = hue - np.floor(hue)
    sixths *= 6
    out = np.empty((hue.size, 3), dtype=lhc.dtype)
    for channel, offset in enumerate((5, 3, 1)):  # R, G, B
        k = sixths + one(offset)
        k -= 6 * (k >= 6)
        ramp = np.minimum(k, 4 - k)
        np.clip(ramp, 0, 1, out=ramp)
        ramp *= chroma
        np.subtract(high, ramp, out=out[:, channel])
    return out.reshape(lhc.shape)


class HueChromaSpace(StackedColorSpace):
    """Larsson's hue/chroma bicone (Larsson et al. 2016, Sec. 3.1): lightness L, chroma (hue, C).

    ``from_rgb`` returns ``L = (max + min) / 2`` and chroma ``(..., 2)`` = (H, C); ``to_rgb``
    clamps C into the bicone (:func:`huechroma_to_rgb`). Hue is circular, so
    :meth:`resize_chroma` interpolates it on the circle.
    """

    name = "huechroma"
    lightness_channel = ChannelRange("L", 0.0, 1.0)
    chroma_channels = (
        ChannelRange("hue", 0.0, 1.0, circular=True),
        ChannelRange("chroma", 0.0, 1.0),
    )
    lightness_definition = "L = (max(R, G, B) + min(R, G, B)) / 2 of sRGB (HSL lightness)"
    gray_is_lightness = True

    forward = staticmethod(rgb_to_huechroma)
    inverse = staticmethod(huechroma_to_rgb)

    def lightness(self, rgb: np.ndarray) -> np.ndarray:
        rgb = as_float3(rgb)
        return ((rgb.max(axis=-1) + rgb.min(axis=-1)) / 2).astype(rgb.dtype, copy=False)

    def resize_chroma(self, chroma: np.ndarray, size: tuple[int, int]) -> np.ndarray:
        """Resize (hue, chroma) ``(h, w, 2)`` to ``size`` = (H, W) bilinearly.

        Chroma is interpolated linearly, hue on the circle through the chroma-weighted unit
        vectors ``C (cos 2 pi H, sin 2 pi H)``: gray neighbours (arbitrary hue) do not pull
        the result, and red next to magenta stays reddish instead of passing through green
        as a linear blend of 0.02 and 0.98 would.
        """
        height, width = size
        chroma = np.ascontiguousarray(chroma, dtype=np.float32)
        if chroma.shape[:2] == (height, width):
            return chroma
        angle = 2 * np.pi * chroma[..., 0]
        weight = np.maximum(chroma[..., 1], 1e-6)  # all-gray: fall back to plain hue vectors
        planes = np.stack(
            [weight * np.cos(angle), weight * np.sin(angle), chroma[..., 1]], axis=-1
        ).astype(np.float32)
        planes = cv2.resize(planes, (width, height), interpolation=cv2.INTER_LINEAR)
        hue = np.mod(np.arctan2(planes[..., 1], planes[..., 0]) / (2 * np.pi), 1.0)
        hue = np.where(hue >= 1.0, 0.0, hue)
        return np.stack([hue, planes[..., 2]], axis=-1).astype(np.float32)
