"""Torch definitions of the two networks (training and export only; imports torch).

* :class:`FeatureNet` -- a small gray feature extractor with a five-level pyramid, the
  stand-in for gray-VGG-19 ``relu{1..5}_1`` (He et al. 2018, §3.1). Trained on a
  classification pretext task on L*; :meth:`FeatureNet.pyramid` returns the five levels
  resampled to one coarse grid (1/4 of the input), which is what the ONNX graph outputs.
* :class:`ColorNet` -- the colorization sub-net C (§3.2.2), scaled down: stride-2
  convolutions down, dilated convolutions in the middle, transposed convolutions up,
  skip connections, and a 1x1 convolution + tanh head.
* :class:`PerceptualNet` -- the same pyramid on the three Lab channels, the stand-in for
  the colour VGG-19 whose ``relu5_1`` the perceptual loss compares (§3.2.4, Eqs. 5-6).
  Used only as a frozen loss network during training; never exported or shipped.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

#: Channels of the five pyramid levels.
LEVEL_CHANNELS = (16, 32, 64, 96, 128)
#: Input channels of C: L, R'_ab (2), sim_T->R (5), sim_R->T (5) -- 13 as in the paper.
COLOR_IN = 1 + 2 + 2 * len(LEVEL_CHANNELS)
#: Scale of the ab output (tanh * AB_SCALE) and of the ab input (ab / AB_SCALE).
AB_SCALE = 110.0


def _block(cin: int, cout: int, *, stride: int = 1, dilation: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, stride=stride, padding=dilation, dilation=dilation),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


class FeatureNet(nn.Module):
    """Gray feature pyramid; input L* in 0..100 of shape (N, 1, H, W), H and W multiples of 16."""

    #: Input channels (1: L* only).
    in_channels = 1

    def __init__(self, classes: int = 202) -> None:
        super().__init__()
        c1, c2, c3, c4, c5 = LEVEL_CHANNELS
        self.level1 = nn.Sequential(_block(self.in_channels, c1), _block(c1, c1))
        self.level2 = nn.Sequential(nn.MaxPool2d(2), _block(c1, c2), _block(c2, c2))
        self.level3 = nn.Sequential(nn.MaxPool2d(2), _block(c2, c3), _block(c3, c3))
        self.level4 = nn.Sequential(nn.MaxPool2d(2), _block(c3, c4), _block(c4, c4))
        self.level5 = nn.Sequential(nn.MaxPool2d(2), _block(c4, c5), _block(c5, c5))
        self.head = nn.Linear(c5, classes)

    def normalise(self, image: torch.Tensor) -> torch.Tensor:
        """L* in 0..100 -> about -1..1."""
        return image / 50.0 - 1.0

    def levels(self, lightness: torch.Tensor) -> list[torch.Tensor]:
        x = self.normalise(lightness)
        out = []
        for layer in (self.level1, self.level2, self.level3, self.level4, self.level5):
            x = layer(x)
            out.append(x)
        return out

    def classify(self, lightness: torch.Tensor) -> torch.Tensor:
        return self.head(self.levels(lightness)[-1].mean(dim=(2, 3)))

    def pyramid(self, lightness: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """The five levels on the 1/4 grid (area-averaged below it, bilinear above it)."""
        f1, f2, f3, f4, f5 = self.levels(lightness)
        size = f3.shape[-2:]
        return (
            F.avg_pool2d(f1, 4),
            F.avg_pool2d(f2, 2),
            f3,
            F.interpolate(f4, size=size, mode="bilinear", align_corners=False),
            F.interpolate(f5, size=size, mode="bilinear", align_corners=False),
        )

    def forward(self, lightness: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return self.pyramid(lightness)


class PerceptualNet(FeatureNet):
    """Colour feature pyramid: input Lab (N, 3, H, W), L* in 0..100, ab in Lab units.

    The loss network of the perceptual branch (He et al. 2018, §3.2.4, Eqs. 5-6): the
    paper compares ``relu5_1`` of a VGG-19 trained on colour ImageNet; here the deepest
    level of the :class:`FeatureNet` architecture with three input channels, trained on
    Tiny ImageNet classification from Lab (``python -m colorize_exemplar.train
    perceptual``). Unlike the gray :class:`FeatureNet` it sees chrominance, so its
    features change when the colours change.
    """

    in_channels = 3

    def normalise(self, image: torch.Tensor) -> torch.Tensor:
        """L* in 0..100 -> about -1..1, ab / :data:`AB_SCALE`."""
        return torch.cat([image[:, :1] / 50.0 - 1.0, image[:, 1:] / AB_SCALE], 1)

    def deepest(self, lab: torch.Tensor) -> torch.Tensor:
        """The deepest level (N, 128, H/16, W/16), the analogue of VGG-19 ``relu5_1``."""
        return self.levels(lab)[-1]


class ColorNet(nn.Module):
    """Colorization sub-net: (N, 13, H, W) -> ab (N, 2, H, W) in Lab units; H, W multiples of 8."""

    def __init__(self, width: int = 32) -> None:
        super().__init__()
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
