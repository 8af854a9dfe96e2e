"""Torch definitions used by training and export only (imports torch).

* :class:`ColorNet` -- the colorization sub-net C (§3.2.2), scaled down: stride-2
  convolutions down, dilated convolutions in the middle, transposed convolutions up,
  skip connections, and a 1x1 convolution + tanh head.
* :class:`ColourLossNet` -- the loss network of the perceptual branch (§3.2.4, Eqs. 5-6):
  the **colour** ImageNet EfficientNet-Lite0 (``training.backbone.load_pretrained``,
  unadapted: it sees chrominance), compared at its ``f16`` level (stride 16, the
  analogue of VGG-19 ``relu5_1``). Frozen, training only, never exported.

The matching features are not trained here: they are the shared gray backbone's
(:mod:`colorize_exemplar.features`).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from training.lab import lab_to_rgb

#: Matching levels (the gray backbone's f2 ... f32), one similarity map each per direction.
LEVELS = 5
#: Input channels of C: L, R'_ab (2), sim_T->R (5), sim_R->T (5) -- 13 as in the paper.
COLOR_IN = 1 + 2 + 2 * LEVELS
#: Scale of the ab output (tanh * AB_SCALE) and of the ab input (ab / AB_SCALE).
AB_SCALE = 110.0


def _block(cin: int, cout: int, *, stride: int = 1, dilation: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, stride=stride, padding=dilation, dilation=dilation),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


class ColourLossNet(nn.Module):
    """Perceptual loss network: Lab (N, 3, H, W) -> one level of a colour ImageNet network.

    Parameters
    ----------
    net : training.backbone.EfficientNetLite0
        An RGB network (three input channels), e.g. ``load_pretrained()``; frozen here.
    level : str, default "f16"
        The compared level (stride 16: the analogue of VGG-19 ``relu5_1``, He et al. 2018,
        §3.2.1, Eq. 6).

    Notes
    -----
    Input sides must be multiples of 32. Lab -> sRGB (clipped to [0, 1]) ->
    ``net.normalise(rgb * 255)`` -> ``net.pyramid(...)[level]``; differentiable in ab.
    """

    def __init__(self, net: nn.Module, level: str = "f16") -> None:
        super().__init__()
        if getattr(net, "in_channels", 3) != 3:
            raise ValueError("the perceptual loss needs the colour (3-channel) network")
        self.net = net.eval().requires_grad_(False)
        self.level = level

    def deepest(self, lab: torch.Tensor) -> torch.Tensor:
        """The compared level (N, C, H / s, W / s) of a Lab batch (L* 0..100, ab in Lab units)."""
        rgb = lab_to_rgb(lab).clamp(0.0, 1.0)
        return self.net.pyramid(self.net.normalise(rgb * 255.0))[self.level]

    def forward(self, lab: torch.Tensor) -> torch.Tensor:
        return self.deepest(lab)


class ColorNet(nn.Module):
    """Colorization sub-net: (N, 13, H, W) -> ab (N, 2, H, W) in Lab units; H, W multiples of 8."""

    def __init__(self, width: int = 32) -> None:
        super().__init__()
        self.width = width
        w1, w2, w3 = width, 2 * width, 4 * width
        self.enc1 = nn.Sequential(_block(COLOR_IN, w1), _block(w1, w1))
        self.enc2 = nn.Sequential(_block(w1, w2, stride=2), _block(w2, w2))
        self.enc3 = nn.Sequential(_block(w2, w3, stride=2), _block(w3, w3))
        self.enc4 = nn.Sequential(_block(w3, w3, stride=2), _block(w3, w3))
        self.middle = nn.Sequential(
            _block(w3, w3, dilation=2), _block(w3, w3, dilation=2), _block(w3, w3, dilation=2)
        )
        self.up3 = nn.ConvTranspose2d(w3, w3, 4, stride=2, padding=1)
        self.dec3 = _block(2 * w3, w3)
        self.up2 = nn.ConvTranspose2d(w3, w2, 4, stride=2, padding=1)
        self.dec2 = _block(2 * w2, w2)
        self.up1 = nn.ConvTranspose2d(w2, w1, 4, stride=2, padding=1)
        self.dec1 = _block(2 * w1, w1)
        self.out = nn.Conv2d(w1, 2, 1)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        e1 = self.enc1(inputs)
        e2 = self.enc2(e1)
        e3 = self.enc3(e2)
        m = self.middle(self.enc4(e3))
        d3 = self.dec3(torch.cat([F.relu(self.up3(m)), e3], 1))
        d2 = self.dec2(torch.cat([F.relu(self.up2(d3)), e2], 1))
        d1 = self.dec1(torch.cat([F.relu(self.up1(d2)), e1], 1))
        return torch.tanh(self.out(d1)) * AB_SCALE
