"""CIE L*a*b* (D65) <-> sRGB in torch, batched, for the training data pipeline.

The same definition as :mod:`core.colorspaces.lab` (sRGB primaries, D65 white,
IEC 61966-2-1 companding, CIE 15:2004 L*a*b*), written for (N, 3, H, W)
tensors so batches convert in one call; ``tests/test_training.py`` checks the
two agree.
"""

from __future__ import annotations

import torch

__all__ = ["lab_to_rgb", "rgb_to_lab"]

# Linear sRGB -> XYZ (D65), IEC 61966-2-1.
_M = torch.tensor(
    [
        [0.412453, 0.357580, 0.180423],
        [0.212671, 0.715160, 0.072169],
        [0.019334, 0.119193, 0.950227],
    ],
    dtype=torch.float64,
)
_WHITE = _M.sum(dim=1)
_RGB_TO_XYZN = (_M / _WHITE[:, None]).float()
_XYZN_TO_RGB = torch.linalg.inv(_M / _WHITE[:, None]).float()
_DELTA = 6.0 / 29.0


def _f(t: torch.Tensor) -> torch.Tensor:
    return torch.where(
        t > _DELTA**3, torch.pow(t.clamp_min(_DELTA**3), 1.0 / 3.0), t / (3 * _DELTA**2) + 4 / 29
    )


def _f_inv(t: torch.Tensor) -> torch.Tensor:
    return torch.where(t > _DELTA, t**3, 3 * _DELTA**2 * (t - 4 / 29))


def rgb_to_lab(rgb: torch.Tensor) -> torch.Tensor:
    """sRGB (N, 3, H, W) float in [0, 1] -> Lab (N, 3, H, W): L in [0, 100], a, b ~[-128, 127]."""
    if rgb.ndim != 4 or rgb.shape[1] != 3:
        raise ValueError(f"expected (N, 3, H, W) RGB tensor, got shape {tuple(rgb.shape)}")
    linear = torch.where(rgb > 0.04045, ((rgb + 0.055) / 1.055) ** 2.4, rgb / 12.92)
    xyz = torch.einsum("ij,njhw->nihw", _RGB_TO_XYZN.to(rgb), linear)
    f = _f(xyz)
    lightness = 116.0 * f[:, 1] - 16.0
    a = 500.0 * (f[:, 0] - f[:, 1])
    b = 200.0 * (f[:, 1] - f[:, 2])
    return torch.stack([lightness, a, b], dim=1)


def lab_to_rgb(lab: torch.Tensor) -> torch.Tensor:
    """Lab (N, 3, H, W) -> sRGB (N, 3, H, W), clipped to [0, 1]."""
    if lab.ndim != 4 or lab.shape[1] != 3:
        raise ValueError(f"expected (N, 3, H, W) Lab tensor, got shape {tuple(lab.shape)}")
    fy = (lab[:, 0] + 16.0) / 116.0
    f = torch.stack([fy + lab[:, 1] / 500.0, fy, fy - lab[:, 2] / 200.0], dim=1)
    xyz = _f_inv(f)
    linear = torch.einsum("ij,njhw->nihw", _XYZN_TO_RGB.to(lab), xyz).clamp(0.0, 1.0)
    rgb = torch.where(
        linear > 0.0031308, 1.055 * linear.clamp_min(0.0031308) ** (1 / 2.4) - 0.055, 12.92 * linear
    )
    return rgb.clamp(0.0, 1.0)
