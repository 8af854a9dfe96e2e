"""The colour-space interface shared by every method.

A colour space splits an sRGB image into a *lightness* channel (what a
grayscale photo shows) and two *chroma* channels (what a colorizer predicts).
Methods predict chroma in their own space; the core recombines it with the
input's full-resolution lightness (Larsson et al. 2016, App. A.4).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import cv2
import numpy as np

__all__ = ["ChannelRange", "ColorSpace", "StackedColorSpace", "as_float", "as_float3"]
__all__ += ["toward_gray", "transform3"]  # helpers of the colour spaces


def as_float(image: np.ndarray) -> np.ndarray:
    """``image`` as a float array: float32/float64 kept, anything else cast to float32."""
    image = np.asarray(image)
    if image.dtype not in (np.float32, np.float64):
        image = image.astype(np.float32)
    return image


def as_float3(image: np.ndarray, what: str = "RGB") -> np.ndarray:
    """:func:`as_float` of a (..., 3) ``what`` array; ``ValueError`` for another shape."""
    image = as_float(image)
    if image.shape[-1:] != (3,):
        raise ValueError(f"expected (..., 3) {what} array, got shape {image.shape}")
    return image


def transform3(image: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """Apply a 3x3 matrix to the last axis with ``cv2.transform`` (fast for images)."""
    flat = np.ascontiguousarray(image).reshape(-1, 1, 3)
    if flat.shape[0] == 0:
        return np.empty(image.shape, dtype=image.dtype)
    return cv2.transform(flat, matrix).reshape(image.shape)


def toward_gray(rgb: np.ndarray, achieved: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """App. A.4's correction of clipped sRGB ``rgb`` (..., 3, overwritten and returned) whose
    gray is ``achieved`` (...): ``w + s (rgb - achieved)``, ``w`` the ``wanted`` gray clipped to
    [0, 1] and ``s`` the largest in [0, 1] keeping every channel in [0, 1] (1 where adding
    ``w - achieved`` does; else the colour is desaturated toward ``w``), clipped for rounding."""
    w = np.clip(wanted, 0.0, 1.0).astype(rgb.dtype)
    a = np.asarray(achieved, rgb.dtype)
    r, g, b = np.moveaxis(rgb, -1, 0)
    high = np.maximum(np.maximum(r, g), b) - a  # the largest deviation from the gray
    low = np.subtract(a, np.minimum(np.minimum(r, g), b))  # minus the smallest
    with np.errstate(divide="ignore", invalid="ignore"):  # 0 / 0 on one side only: fmin
        s = np.fmin((1 - w) / np.maximum(high, 1 - w), w / np.maximum(low, w))
    w -= s * a
    rgb *= s[..., None]
    rgb += w[..., None]
    return np.clip(rgb, 0.0, 1.0, out=rgb)


@dataclass(frozen=True)
class ChannelRange:
    """Name and nominal value range of one channel."""

    name: str
    low: float
    high: float
    circular: bool = False


class ColorSpace(ABC):
    """A lightness/chroma decomposition of sRGB.

    Subclasses set :attr:`name`, :attr:`lightness_channel`, :attr:`chroma_channels`
    and :attr:`lightness_definition`, and implement :meth:`from_rgb` and
    :meth:`to_rgb`. All images are float arrays; RGB is sRGB-encoded in [0, 1].
    """

    name: str = ""
    #: Range of the lightness channel.
    lightness_channel: ChannelRange
    #: The two chroma channels, in the order of the last axis of ``chroma``.
    chroma_channels: tuple[ChannelRange, ChannelRange]
    #: One line saying how lightness is computed from RGB.
    lightness_definition: str = ""
    #: Whether a gray's lightness is its sRGB value (the gray conversions are then identities).
    gray_is_lightness: bool = False

    @abstractmethod
    def from_rgb(self, rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Split ``rgb`` (..., 3) in [0, 1] into lightness (...) and chroma (..., 2)."""

    @abstractmethod
    def to_rgb(self, lightness: np.ndarray, chroma: np.ndarray) -> np.ndarray:
        """Combine lightness (...) and chroma (..., 2) into sRGB (..., 3), unclipped."""

    def lightness(self, rgb: np.ndarray) -> np.ndarray:
        """Lightness channel of ``rgb`` (..., 3); subclasses may override for speed."""
        return self.from_rgb(rgb)[0]

    def gray_lightness(self, gray: np.ndarray) -> np.ndarray:
        """Lightness of a grayscale image whose sRGB value is ``gray`` in [0, 1]."""
        if self.gray_is_lightness:
            return as_float(gray)
        gray = np.asarray(gray)
        return self.lightness(np.repeat(gray[..., None], 3, axis=-1))

    def gray_of_lightness(self, lightness: np.ndarray) -> np.ndarray:
        """The sRGB value of the gray (R = G = B) whose lightness is ``lightness``.

        The inverse of :meth:`gray_lightness`, for the lightness correction of Larsson et
        al. (2016), App. A.4. The default converts ``(lightness, neutral chroma)`` to RGB;
        spaces whose gray lightness is a simple function override it for speed.
        """
        lightness = as_float(lightness)
        if self.gray_is_lightness:
            return lightness
        neutral = self.neutral_chroma(lightness.shape, lightness.dtype)
        return self.to_rgb(lightness, neutral)[..., 0]

    def gray_equivalent(self, rgb: np.ndarray) -> np.ndarray:
        """The sRGB value of the gray with the same lightness as ``rgb`` (..., 3)."""
        return self.gray_of_lightness(self.lightness(rgb))

    def neutral_chroma(self, shape: tuple[int, ...], dtype: np.dtype = np.float32) -> np.ndarray:
        """Chroma of a gray image of spatial ``shape`` (zeros for most spaces)."""
        return np.zeros((*shape, 2), dtype=dtype)

    def recombine(
        self,
        lightness: np.ndarray,
        chroma: np.ndarray,
        *,
        gray: np.ndarray | None = None,
        out: np.ndarray | None = None,
    ) -> np.ndarray:
        """Displayable sRGB from lightness and chroma, keeping the lightness (App. A.4).

        Converts to sRGB, clips to [0, 1], and adds to every channel the gray of the wanted
        lightness minus the gray of the clipped colour's lightness (Larsson et al. 2016,
        App. A.4: gamut clipping must not change the input's lightness); where that would
        leave [0, 1] it desaturates toward the wanted gray instead of clipping again, just
        enough to stay inside (:func:`toward_gray`). So the output's gray is the wanted one
        (exactly where gray is linear in sRGB, e.g. YCbCr; for Lab as closely as App. A.4's
        step allows) and L* = 0 gives black, L* = 100 white, whatever the chroma. The core
        runs this on every full-resolution pixel; Lab and YCbCr override it with fused,
        blocked versions that must agree with it to 1e-5.

        Parameters
        ----------
        lightness : ndarray, shape (H, W), float32
            Lightness in this space, at full resolution.
        chroma : ndarray, shape (H, W, 2), float32
            Chroma at the same resolution.
        gray : ndarray, shape (H, W), float32, optional
            The input's sRGB gray level when it was a grayscale image: the exact
            target of the correction (otherwise :meth:`gray_of_lightness`).
        out : ndarray, shape (H, W, 3), float32, optional
            Where to write the result (a contiguous array).

        Returns
        -------
        ndarray, shape (H, W, 3), float32 in [0, 1]
        """
        lightness = np.asarray(lightness, np.float32)
        rgb = np.clip(self.to_rgb(lightness, np.asarray(chroma, np.float32)), 0.0, 1.0)
        target = self.gray_of_lightness(lightness) if gray is None else gray
        rgb = toward_gray(rgb, self.gray_equivalent(rgb), target).astype(np.float32, copy=False)
        if out is not None:
            out[...] = rgb
        return rgb if out is None else out

    @staticmethod
    def _fused_recombine(body, lightness, chroma, gray, out) -> np.ndarray:
        """The frame of a fused :meth:`recombine`: checks and converts the arrays, runs
        ``body(lightness, chroma, gray, result)`` on contiguous float32 ones (``gray`` may be
        None) unless empty, and copies ``result`` into ``out`` where it could not be."""
        lightness = np.ascontiguousarray(lightness, np.float32)
        chroma = np.ascontiguousarray(chroma, np.float32)
        if chroma.shape != (*lightness.shape, 2):
            raise ValueError(
                f"expected chroma of shape {(*lightness.shape, 2)}, got {chroma.shape}"
            )
        if gray is not None:
            gray = np.ascontiguousarray(gray, np.float32)
        result = out
        if out is None or not out.flags.c_contiguous or out.dtype != np.float32:
            result = np.empty((*lightness.shape, 3), np.float32)
        if lightness.size:
            body(lightness, chroma, gray, result)
        if out is not None and result is not out:
            out[...] = result
        return result if out is None else out

    def resize_chroma(self, chroma: np.ndarray, size: tuple[int, int]) -> np.ndarray:
        """Bilinearly resize ``chroma`` (h, w, 2) to ``size`` = (H, W) (spaces with a circular
        channel override this to interpolate on the circle)."""
        height, width = size
        chroma = np.ascontiguousarray(chroma, dtype=np.float32)
        if chroma.shape[:2] == (height, width):
            return chroma
        return cv2.resize(chroma, (width, height), interpolation=cv2.INTER_LINEAR)

    def __repr__(self) -> str:
        return f"<ColorSpace {self.name}>"


class StackedColorSpace(ColorSpace):
    """A colour space defined by a pair of functions on stacked (..., 3) arrays.

    Subclasses set :attr:`forward` (sRGB -> [lightness, chroma1, chroma2]) and
    :attr:`inverse` (the reverse), e.g. ``forward = staticmethod(rgb_to_lab)``;
    :meth:`from_rgb` and :meth:`to_rgb` split and stack around them.
    """

    forward: staticmethod
    inverse: staticmethod

    def from_rgb(self, rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        stacked = self.forward(rgb)
        return stacked[..., 0], stacked[..., 1:]

    def to_rgb(self, lightness: np.ndarray, chroma: np.ndarray) -> np.ndarray:
        lightness = as_float(lightness)
        chroma = np.asarray(chroma, dtype=lightness.dtype)
        return self.inverse(np.concatenate([lightness[..., None], chroma], axis=-1))
