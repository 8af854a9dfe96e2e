"""The alpha-beta space of Deshpande et al. (2015), as written down by Larsson et al. (2016).

Lightness is the channel mean ``L = (R + G + B) / 3`` (the grayscale conversion Larsson et
al. train with); the chroma channels are opponent differences normalised by lightness
(App. A.2, Eq. 9)::

    alpha = (B - (R + G) / 2) / (L + eps)      beta = (R - G) / (L + eps)

with ``eps = 1e-4``, which bounds the noise the division amplifies near black. The space
reports the RMSE of Eq. 10 (:func:`core.metrics.rmse_alphabeta`) and serves methods that
predict in it. For R, G, B in [0, 1], alpha lies in [-1.5, 3] and beta in [-3, 3]; the
channel range is the paper's [-3, 3] for both.

References
----------
G. Larsson, M. Maire, G. Shakhnarovich. Learning Representations for Automatic
Colorization. ECCV 2016, App. A.2 (Eq. 9) and A.3 (Eq. 10).
A. Deshpande, J. Rock, D. Forsyth. Learning Large-Scale Automatic Image Colorization. ICCV 2015.
"""

from __future__ import annotations

import numpy as np

from core.colorspaces.base import ChannelRange, StackedColorSpace, as_float3, transform3

__all__ = ["EPSILON", "AlphaBetaSpace", "alphabeta_to_rgb", "rgb_to_alphabeta"]

#: The epsilon of Larsson et al. App. A.2.
EPSILON = 1e-4

# RGB -> (L, alpha numerator, beta numerator); inverse maps back.
_FORWARD = np.array([[1 / 3, 1 / 3, 1 / 3], [-0.5, -0.5, 1.0], [1.0, -1.0, 0.0]])
_INVERSE = np.linalg.inv(_FORWARD)


def rgb_to_alphabeta(rgb: np.ndarray, *, eps: float = EPSILON) -> np.ndarray:
    """Convert sRGB to (L, alpha, beta) (Larsson et al. 2016, App. A.2, Eq. 9).

    Parameters
    ----------
    rgb : ndarray, shape (..., 3), float32 or float64 (other dtypes are cast to float32)
        RGB values in [0, 1].
    eps : float, default 1e-4
        Stabiliser added to L in the denominators.

    Returns
    -------
    ndarray, shape (..., 3), same float dtype
        ``L = (R + G + B) / 3`` in [0, 1], alpha in [-1.5, 3], beta in [-3, 3].

    Raises
    ------
    ValueError
        If the last axis is not 3 or ``eps <= 0``.

    Examples
    --------
    >>> rgb_to_alphabeta(np.array([0.0, 0.0, 0.3])).round(3)
    array([0.1  , 2.997, 0.   ])
    """
    rgb = as_float3(rgb)
    if not eps > 0:
        raise ValueError(f"eps must be positive, got {eps}")
    out = transform3(rgb, _FORWARD)
    out[..., 1:] /= out[..., :1] + rgb.dtype.type(eps)
    return out


def alphabeta_to_rgb(lab: np.ndarray, *, eps: float = EPSILON) -> np.ndarray:
    """Convert (L, alpha, beta) back to RGB; the exact inverse of :func:`rgb_to_alphabeta`.

    Parameters
    ----------
    lab : ndarray, shape (..., 3), float
        ``L = (R + G + B) / 3``, alpha and beta.
    eps : float, default 1e-4
        The same stabiliser used in the forward conversion.

    Returns
    -------
    ndarray, shape (..., 3), same float dtype
        RGB, not clipped.

    Raises
    ------
    ValueError
        If the last axis is not 3 or ``eps <= 0``.

    References
    ----------
    Larsson et al. 2016, App. A.2, Eq. 9 solved for R, G, B.

    Examples
    --------
    >>> alphabeta_to_rgb(np.array([0.1, 2.997, 0.0])).round(3)
    array([0. , 0. , 0.3])
    """
    lab = as_float3(lab, "(L, alpha, beta)")
    if not eps > 0:
        raise ValueError(f"eps must be positive, got {eps}")
    numerators = lab.copy()
    numerators[..., 1:] *= lab[..., :1] + lab.dtype.type(eps)
    return transform3(numerators, _INVERSE)


class AlphaBetaSpace(StackedColorSpace):
    """Deshpande's alpha-beta space (Larsson et al. 2016, App. A.2, Eq. 9): L = (R + G + B) / 3,
    chroma (alpha, beta), see :func:`rgb_to_alphabeta`. Gray pixels have alpha = beta = 0."""

    name = "alphabeta"
    lightness_channel = ChannelRange("L", 0.0, 1.0)
    chroma_channels = (ChannelRange("alpha", -3.0, 3.0), ChannelRange("beta", -3.0, 3.0))
    lightness_definition = "L = (R + G + B) / 3 of sRGB (channel mean)"
    gray_is_lightness = True

    forward = staticmethod(rgb_to_alphabeta)
    inverse = staticmethod(alphabeta_to_rgb)

    def lightness(self, rgb: np.ndarray) -> np.ndarray:
        rgb = as_float3(rgb)
        return rgb.mean(axis=-1, dtype=rgb.dtype)
