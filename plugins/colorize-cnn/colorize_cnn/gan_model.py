"""The conditional GAN of the loss-study report's Appendix 1, in torch (training and export only).

* :class:`UNetGenerator` -- a pix2pix-style U-Net over Lab lightness: strided 4x4
  convolutions down to a ``1/32`` bottleneck, transposed 4x4 convolutions back up,
  a skip connection from every encoder level to its mirrored decoder level, dropout
  in the innermost decoder layers instead of an input noise vector, and ``tanh``
  output scaled to Lab a, b.
* :class:`PatchDiscriminator` -- a PatchGAN over the (lightness, a, b) image pair
  returning a grid of real/fake scores, one per overlapping patch.

Inference never uses this module: the shipped ``cnn-gan.onnx`` is the exported
generator (see :mod:`colorize_cnn.gan`).

References
----------
The CNN colorization loss-study report, Appendix 1 ("Conditional Generative
Adversarial Networks": U-Net generator with skip connections and dropout in the
middle layers; PatchGAN discriminator with a 30x30 output on its input size).
Isola et al., "Image-to-Image Translation with Conditional Adversarial Networks",
CVPR 2017 (the report's reference [19]), sections 3.2.1 and 3.2.2.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F
from torch.nn.utils.parametrizations import spectral_norm as _spectral_norm

__all__ = ["AB_RANGE", "PatchDiscriminator", "UNetGenerator", "patch_grid", "receptive_field"]

#: Lightness is fed as (L - 50) / 50, i.e. [-1, 1] (as the cnn-* networks).
LIGHTNESS_CENTER = 50.0
#: Chroma is predicted as tanh(.) * AB_RANGE: sRGB colours have |a|, |b| < 110 in Lab (D65).
AB_RANGE = 110.0


def _crop_to(skip: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """``skip`` cropped to ``like``'s height and width (they differ only off multiples of 32)."""
    return skip[..., : like.shape[-2], : like.shape[-1]]


class UNetGenerator(nn.Module):
    """pix2pix-style U-Net: Lab lightness (N, 1, H, W) -> a, b (N, 2, H, W) in Lab units.

    Parameters
    ----------
    widths : sequence of int
        Output channels of the encoder levels; each level halves the resolution
        (4x4 convolution, stride 2), so the total stride is ``2 ** len(widths)``.
        The decoder mirrors them.
    dropout : float
        Dropout probability in the ``dropout_layers`` innermost decoder layers (the
        report's "dropout units for a few layers in the middle" instead of noise).
    dropout_layers : int

    Notes
    -----
    Encoder level: conv 4x4/2 -> BatchNorm (not on the first) -> LeakyReLU(0.2).
    Decoder level: transposed conv 4x4/2 -> BatchNorm -> (dropout) -> ReLU, then
    concatenation with the mirrored encoder output. The last decoder level maps to
    2 channels, ``tanh`` and ``* AB_RANGE``. Sizes that are multiples of the total
    stride give exactly this network; other sizes (>= the stride) are accepted too:
    skips are cropped to the decoder's size and the output is resized bilinearly to
    the input's size (a no-op at multiples of the stride), so the exported graph
    never fails on a shape. The colorizer pads to multiples of the stride.
    """

    def __init__(
        self,
        widths: tuple[int, ...] = (32, 64, 96, 128, 128),
        dropout: float = 0.5,
        dropout_layers: int = 2,
    ):
        super().__init__()
        if len(widths) < 2:
            raise ValueError(f"the U-Net needs at least 2 levels, got widths {widths}")
        self.widths = tuple(int(w) for w in widths)
        self.stride = 2 ** len(self.widths)
        self.down = nn.ModuleList()
        channels = 1
        for i, width in enumerate(self.widths):
            layers: list[nn.Module] = [nn.Conv2d(channels, width, 4, 2, 1, bias=i == 0)]
            if i > 0:
                layers.append(nn.BatchNorm2d(width))
            layers.append(nn.LeakyReLU(0.2))
            self.down.append(nn.Sequential(*layers))
            channels = width
        self.up = nn.ModuleList()
        # decoder level j (innermost first) outputs the width of encoder level n-2-j
        n = len(self.widths)
        for j in range(n - 1):
            out = self.widths[n - 2 - j]
            layers = [nn.ConvTranspose2d(channels, out, 4, 2, 1, bias=False), nn.BatchNorm2d(out)]
            if j < dropout_layers and dropout > 0:
                layers.append(nn.Dropout(dropout))
            layers.append(nn.ReLU())
            self.up.append(nn.Sequential(*layers))
            channels = 2 * out  # after the skip concatenation
        self.head = nn.ConvTranspose2d(channels, 2, 4, 2, 1)

    def forward(self, lightness: torch.Tensor) -> torch.Tensor:
        h, w = lightness.shape[-2:]
        x = (lightness - LIGHTNESS_CENTER) / LIGHTNESS_CENTER
        skips = []
        for layer in self.down:
            x = layer(x)
            skips.append(x)
        for layer, skip in zip(self.up, reversed(skips[:-1]), strict=True):
            x = layer(x)
            x = torch.cat([x, _crop_to(skip, x)], dim=1)
        y = torch.tanh(self.head(x)) * AB_RANGE
        return F.interpolate(y, size=(h, w), mode="bilinear", align_corners=False)


class PatchDiscriminator(nn.Module):
    """PatchGAN: (lightness, chroma) -> (N, 1, H', W') real/fake scores, one per patch.

    Parameters
    ----------
    widths : sequence of int
        Channels of the hidden 4x4 convolutions: all but the last have stride 2,
        the last has stride 1, then a 4x4 stride-1 convolution gives one score per
        position (pix2pix's C64-C128-C256-C512 for 70x70 patches is ``(64, 128, 256, 512)``).
    spectral_norm : bool
        Spectral normalisation of every convolution (Miyato et al. 2018) instead
        of BatchNorm.

    Notes
    -----
    The default ``(32, 64)`` scales the report's 30x30 grid for 256 px inputs (70 px
    patches, 27 % of the side) to our 64 px crops: one stride-2 level gives a 30x30
    grid of 16 px patches (25 % of the side). Scores are raw (no sigmoid): the
    loss decides (LSGAN or logits for the non-saturating loss).
    """

    def __init__(self, widths: tuple[int, ...] = (32, 64), spectral_norm: bool = True):
        super().__init__()
        self.widths = tuple(int(w) for w in widths)
        wrap = _spectral_norm if spectral_norm else (lambda m: m)
        layers: list[nn.Module] = []
        channels = 3
        for i, width in enumerate(self.widths):
            stride = 1 if i == len(self.widths) - 1 else 2
            layers.append(wrap(nn.Conv2d(channels, width, 4, stride, 1, bias=i == 0)))
            if i > 0 and not spectral_norm:
                layers.append(nn.BatchNorm2d(width))
            layers.append(nn.LeakyReLU(0.2))
            channels = width
        layers.append(wrap(nn.Conv2d(channels, 1, 4, 1, 1)))
        self.net = nn.Sequential(*layers)

    def forward(self, lightness: torch.Tensor, chroma: torch.Tensor) -> torch.Tensor:
        x = torch.cat([(lightness - LIGHTNESS_CENTER) / LIGHTNESS_CENTER, chroma / AB_RANGE], dim=1)
        return self.net(x)


def patch_grid(size: int, widths: tuple[int, ...] = (32, 64)) -> int:
    """Side of the score grid of :class:`PatchDiscriminator` for a ``size`` x ``size`` input.

    >>> patch_grid(64), patch_grid(256, (64, 128, 256, 512))
    (30, 30)
    """
    for _ in widths[:-1]:
        size = size // 2  # 4x4, stride 2, padding 1
    return size - 1 - 1  # the stride-1 hidden layer and the output layer each remove 1


def receptive_field(widths: tuple[int, ...] = (32, 64)) -> int:
    """Side in pixels of the patch one discriminator score sees.

    >>> receptive_field(), receptive_field((64, 128, 256, 512))
    (16, 70)
    """
    field = 4  # output layer
    field += 3  # last hidden layer (stride 1)
    for _ in widths[:-1]:
        field = 2 * field + 2  # 4x4, stride 2
    return field
