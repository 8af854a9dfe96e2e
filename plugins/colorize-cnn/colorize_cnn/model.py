"""The loss-study CNN in torch (training and export only; inference uses ONNX Runtime).

Architecture (report section 4.2.3, Figure 4): nine 2-D convolutions with 5x5
kernels, each followed by ReLU and then batch normalisation; down-sampling is
done by the convolutions themselves (stride 2 in the first two), with no
pooling. The report's fully-connected output layer is replaced by a per-pixel
1x1 convolution, and the chroma predicted at a quarter of the working
resolution is upsampled bilinearly inside the graph (see MODEL_CARD.md).

References
----------
The CNN colorization loss-study report, sections 4.2.2-4.2.7.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

__all__ = ["ColorCNN", "LIGHTNESS_CENTER", "AB_SCALE"]

#: Lightness is fed as (L - 50) / 50, i.e. roughly [-1, 1].
LIGHTNESS_CENTER = 50.0
#: Regression heads predict a, b / 100.
AB_SCALE = 100.0


class ColorCNN(nn.Module):
    """Nine-layer colorization CNN.

    Parameters
    ----------
    head : {"regression", "classification"}
        Regression predicts (N, 2, H, W) a, b in Lab units; classification predicts
        logits (N, 2, n_bins, H, W) over ``n_bins`` bins per chroma channel.
    n_bins : int
        Bins per channel for the classification head (10 in the report).
    widths : sequence of 9 ints
        Output channels of the nine convolutions.
    strides : sequence of 9 ints
        Strides of the nine convolutions (their product is the output stride).
    dropout : float
        Dropout probability after every batch normalisation (report section 4.2.7
        uses 0.4); 0 disables it.

    Input ``lightness`` is (N, 1, H, W) float32 in Lab L units [0, 100], with H and W
    multiples of the total stride.
    """

    def __init__(
        self,
        head: str = "classification",
        n_bins: int = 10,
        widths: tuple[int, ...] = (32, 64, 64, 64, 64, 64, 64, 64, 64),
        strides: tuple[int, ...] = (2, 2, 1, 1, 1, 1, 1, 1, 1),
        dropout: float = 0.0,
    ):
        super().__init__()
        if head not in ("regression", "classification"):
            raise ValueError(f"head must be 'regression' or 'classification', got {head!r}")
        if len(widths) != 9 or len(strides) != 9:
            raise ValueError("the report's network has exactly 9 convolutional layers")
        self.head_kind = head
        self.n_bins = int(n_bins)
        self.stride = 1
        for s in strides:
            self.stride *= int(s)
        layers: list[nn.Module] = []
        channels = 1
        for width, stride in zip(widths, strides, strict=True):
            layers += [
                nn.Conv2d(channels, width, kernel_size=5, stride=stride, padding=2),
                nn.ReLU(inplace=True),
                nn.BatchNorm2d(width),
            ]
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            channels = width
        self.features = nn.Sequential(*layers)
        outputs = 2 if head == "regression" else 2 * self.n_bins
        self.head = nn.Conv2d(channels, outputs, kernel_size=1)

    def forward(self, lightness: torch.Tensor) -> torch.Tensor:
        h, w = lightness.shape[-2:]
        x = (lightness - LIGHTNESS_CENTER) / LIGHTNESS_CENTER
        y = self.head(self.features(x))
        y = F.interpolate(y, size=(h, w), mode="bilinear", align_corners=False)
        if self.head_kind == "regression":
            return y * AB_SCALE
        return y.reshape(y.shape[0], 2, self.n_bins, h, w)
