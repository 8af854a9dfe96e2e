"""Colour transfer to a grayscale image from a colour reference (Welsh et al. 2002).

Each target pixel takes the chroma of the reference pixel whose lightness and
neighbourhood standard deviation match it best (§2 of the paper), after the
reference's lightness has been remapped to the target's mean and spread
("luminance remapping"). Candidates are a jittered grid of about 200 reference
pixels, as in the paper. Working in CIE Lab instead of the paper's l-alpha-beta
keeps the toolkit's lightness definition.

A complete small method plugin to read beside ``colorize new-plugin``'s skeleton (load
ONNX graphs with ``core.runtime.OnnxModel`` from a ``models/`` folder with a
``manifest.json``; see docs/plugins.md).

References
----------
T. Welsh, M. Ashikhmin, K. Mueller. Transferring Color to Greyscale Images.
ACM Transactions on Graphics 21(3), Proc. SIGGRAPH 2002.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

import core
from core.colorspaces.lab import rgb_to_lab

__all__ = ["WelshColorizer", "register_methods"]


def _local_std(lightness: np.ndarray, window: int) -> np.ndarray:
    """Standard deviation of ``lightness`` over a ``window`` x ``window`` neighbourhood."""
    mean = cv2.blur(lightness, (window, window), borderType=cv2.BORDER_REFLECT)
    mean_sq = cv2.blur(lightness * lightness, (window, window), borderType=cv2.BORDER_REFLECT)
    return np.sqrt(np.maximum(mean_sq - mean * mean, 0.0))


class WelshColorizer(core.Colorizer):
    """Reference-based colour transfer by lightness and texture matching."""

    name = "welsh"
    description = (
        "colour from a reference image, matched by lightness and local texture "
        "(Welsh et al. 2002); model-free"
    )
    citation = (
        "T. Welsh, M. Ashikhmin, K. Mueller. Transferring Color to Greyscale Images. "
        "ACM TOG 21(3), SIGGRAPH 2002"
    )
    capabilities = core.Capabilities(automatic=False, reference=True)
    colorspace = "lab"
    working_size = 128

    def predict(
        self,
        lightness: np.ndarray,
        *,
        reference: np.ndarray | None = None,
        seed: int | None = None,
        decoder: str | None = None,
        samples: int = 200,
        window: int = 5,
        **options: Any,
    ) -> core.Prediction:
        """Chroma for ``lightness`` (h, w) taken from ``reference`` (H, W, 3) sRGB in [0, 1].

        Options: ``samples`` (jittered candidates, paper: about 200) and ``window``
        (neighbourhood size for the standard deviation, paper: 5).
        """
        if options:
            raise TypeError(f"{self.name}: unknown option(s) {', '.join(sorted(options))}")
        if reference is None:
            raise core.CapabilityError(f"method {self.name!r} needs a reference image")
        if samples < 1 or window < 1:
            raise ValueError("samples and window must be positive")
        rng = np.random.default_rng(0 if seed is None else seed)
        h, w = lightness.shape
        # Bring the reference to about the same scale as the target.
        scale = min(1.0, max(h, w) / max(reference.shape[:2]))
        if scale < 1.0:
            rh, rw = reference.shape[:2]
            size = (max(1, round(rw * scale)), max(1, round(rh * scale)))
            reference = cv2.resize(reference, size, interpolation=cv2.INTER_AREA)
        ref_lab = rgb_to_lab(reference.astype(np.float32))
        ref_l = ref_lab[..., 0]
        # Luminance remapping (§2): match the reference's lightness mean and spread to the target's.
        spread = ref_l.std()
        if spread > 1e-6:
            ref_l = (ref_l - ref_l.mean()) * (lightness.std() / spread) + lightness.mean()
        ref_std = _local_std(ref_l.astype(np.float32), window)
        # Jittered sampling: one random pixel per cell of a grid of about ``samples`` cells.
        rh, rw = ref_l.shape
        cells = max(1, int(round(np.sqrt(samples))))
        ys, xs = np.linspace(0, rh, cells + 1), np.linspace(0, rw, cells + 1)
        gy, gx = np.meshgrid(np.arange(cells), np.arange(cells), indexing="ij")
        jitter_y, jitter_x = rng.random(gy.shape), rng.random(gx.shape)
        py = (ys[gy] + jitter_y * (ys[gy + 1] - ys[gy])).astype(int).clip(0, rh - 1).ravel()
        px = (xs[gx] + jitter_x * (xs[gx + 1] - xs[gx])).astype(int).clip(0, rw - 1).ravel()
        cand = np.stack([ref_l[py, px], ref_std[py, px]], axis=-1)  # (K, 2)
        chroma_cand = ref_lab[py, px, 1:]  # (K, 2)
        # Match with equal weights on lightness and neighbourhood std (§2).
        target = np.stack([lightness, _local_std(lightness.astype(np.float32), window)], -1)
        target = target.reshape(-1, 2)
        best = np.empty(len(target), np.int64)
        for start in range(0, len(target), 8192):
            block = target[start : start + 8192]
            dist = 0.5 * (block[:, None, 0] - cand[None, :, 0]) ** 2
            dist += 0.5 * (block[:, None, 1] - cand[None, :, 1]) ** 2
            best[start : start + 8192] = dist.argmin(axis=1)
        chroma = chroma_cand[best].reshape(h, w, 2).astype(np.float32)
        return core.Prediction(chroma=chroma, extras={"candidates": len(cand)})


@core.hookimpl
def register_methods(register):
    """Register this plugin's method (see ``core.hookspecs.register_methods``)."""
    register(WelshColorizer())
