"""CIE L*a*b* (D65 white, sRGB primaries and companding).

The reference colour space of the toolkit: every other space is checked
against it, and metrics such as colourfulness are computed through it.

References
----------
IEC 61966-2-1:1999 (sRGB). CIE 15:2004 (L*a*b*).
"""

from __future__ import annotations

import numpy as np

from core.colorspaces.base import ChannelRange, ColorSpace

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
# D65 reference white, as the matrix above maps RGB = 1 to it.
_WHITE = _RGB_TO_XYZ.sum(axis=1)
_EPS = (6.0 / 29.0) ** 3
_KAPPA = (29.0 / 6.0) ** 2 / 3.0


def _float(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    if image.dtype not in (np.float32, np.float64):
        image = image.astype(np.float32)
    return image


def _srgb_to_linear(c: np.ndarray) -> np.ndarray:
    return np.where(c > 0.04045, ((c + 0.055) / 1.055) ** 2.4, c / 12.92)


def _linear_to_srgb(c: np.ndarray) -> np.ndarray:
    return np.where(
        c > 0.0031308, 1.055 * np.power(np.maximum(c, 0.0031308), 1.0 / 2.4) - 0.055, 12.92 * c
    )


def _f(t: np.ndarray) -> np.ndarray:
    return np.where(t > _EPS, np.cbrt(np.maximum(t, _EPS)), _KAPPA * t + 4.0 / 29.0)


def _f_inv(t: np.ndarray) -> np.ndarray:
    return np.where(t > 6.0 / 29.0, t**3, (t - 4.0 / 29.0) / _KAPPA)


def rgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """Convert sRGB in [0, 1] to CIE L*a*b* (D65).

    Parameters
    ----------
    rgb : ndarray, shape (..., 3), float32 or float64 (other dtypes are cast to float32)
        sRGB-encoded values in [0, 1].

    Returns
    -------
    ndarray, shape (..., 3), same float dtype
        L in [0, 100], a and b roughly in [-128, 127].

    Examples
    --------
    >>> rgb_to_lab(np.array([1.0, 1.0, 1.0])).round(3)
    array([100.,   0.,   0.])
    """
    rgb = _float(rgb)
    if rgb.shape[-1:] != (3,):
        raise ValueError(f"expected (..., 3) RGB array, got shape {rgb.shape}")
    dtype = rgb.dtype
    linear = _srgb_to_linear(rgb)
    xyz = linear @ (_RGB_TO_XYZ / _WHITE[:, None]).T.astype(dtype)
    f = _f(xyz)
    lab = np.empty_like(f)
    lab[..., 0] = 116.0 * f[..., 1] - 16.0
    lab[..., 1] = 500.0 * (f[..., 0] - f[..., 1])
    lab[..., 2] = 200.0 * (f[..., 1] - f[..., 2])
    return lab.astype(dtype, copy=False)


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

    Examples
    --------
    >>> lab_to_rgb(np.array([100.0, 0.0, 0.0])).round(3)
    array([1., 1., 1.])
    """
    lab = _float(lab)
    if lab.shape[-1:] != (3,):
        raise ValueError(f"expected (..., 3) Lab array, got shape {lab.shape}")
    dtype = lab.dtype
    fy = (lab[..., 0] + 16.0) / 116.0
    f = np.stack([fy + lab[..., 1] / 500.0, fy, fy - lab[..., 2] / 200.0], axis=-1)
    xyz = _f_inv(f)
    linear = xyz @ (_XYZ_TO_RGB * _WHITE[None, :]).T.astype(dtype)
    return _linear_to_srgb(linear).astype(dtype, copy=False)


class LabSpace(ColorSpace):
    """CIE L*a*b*: lightness L in [0, 100], chroma (a, b) in about [-128, 127]."""

    name = "lab"
    lightness_channel = ChannelRange("L", 0.0, 100.0)
    chroma_channels = (ChannelRange("a", -128.0, 127.0), ChannelRange("b", -128.0, 127.0))
    lightness_definition = "CIE L* of the sRGB (D65) colour"

    def from_rgb(self, rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        lab = rgb_to_lab(rgb)
        return lab[..., 0], lab[..., 1:]

    def to_rgb(self, lightness: np.ndarray, chroma: np.ndarray) -> np.ndarray:
        lightness = _float(lightness)
        chroma = np.asarray(chroma, dtype=lightness.dtype)
        return lab_to_rgb(np.concatenate([lightness[..., None], chroma], axis=-1))

    def lightness(self, rgb: np.ndarray) -> np.ndarray:
        rgb = _float(rgb)
        y = _srgb_to_linear(rgb) @ _RGB_TO_XYZ[1].astype(rgb.dtype)
        return (116.0 * _f(y) - 16.0).astype(rgb.dtype, copy=False)

    def gray_lightness(self, gray: np.ndarray) -> np.ndarray:
        gray = _float(gray)
        return (116.0 * _f(_srgb_to_linear(gray)) - 16.0).astype(gray.dtype, copy=False)
