"""PixColor networks in torch (training and export only; inference never imports this).

Three networks, scaled down from Guadarrama et al. 2017, Appendix Table 2:

* :class:`ConditioningNet` -- ResNet-style encoder of the lightness Y at the
  working resolution (112 px short side) down to the 28 px grid, followed by the
  adaptation layers (Sec. 3, Fig. 4).
* :class:`BackboneConditioning` -- the same role over the shared gray ImageNet backbone
  (issue #20): the frozen EfficientNet-Lite0's hypercolumn on the 28 px grid and the
  adaptation convolutions (the paper's pretrained ResNet-101 + adaptation, Fig. 4).
* :class:`PixelCNN` -- a conditional gated PixelCNN (van den Oord et al. 2016,
  vertical and horizontal stacks, so there is no blind spot) over the 28 px
  Cr/Cb image, 32 bins per channel, factorised as in Sec. 3.1 (the equation
  ``p(y|x) = prod_i p(y(i,r) | y(1:i-1,:), x) p(y(i,b) | y(i,r), y(1:i-1,:), x)``):
  the Cr logits of pixel ``i`` see only earlier pixels; the Cb logits also see
  the Cr bin of pixel ``i`` through an embedding added in the output head.
* :class:`RefinementNet` -- image-to-image CNN that combines bilinearly
  up-sampled low-resolution chroma with the full-resolution lightness (Sec. 3.2).

The PixelCNN has three *views* sharing one set of weights, exported as three
ONNX graphs: :class:`FullGraph` (the whole 28 px image at once: teacher-forced
training, naive sampling, likelihood), :class:`RowStep` (the vertical stack for
one finished row, from cached rows above) and :class:`PixelStep` (the horizontal
stack and heads for one pixel, from cached pixels to its left). The two step
graphs implement the caching scheme of Ramachandran et al. 2017 ("Fast
Generation for Convolutional Autoregressive Models"): every layer keeps only the
inputs its kernel still needs, and one call computes only what the new pixel or
row changes. The stacks and the row step are the toolkit's shared gated PixelCNN
(:mod:`training.pixelcnn`); this module adds the PixColor heads and pixel step.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from colorize_pixcolor import N_BINS
from training.hypercolumn import GridHypercolumn
from training.pixelcnn import GatedStacks, RowStep, pixel_conv

__all__ = [
    "BackboneCondGraph",
    "BackboneConditioning",
    "ConditioningNet",
    "FullGraph",
    "PixColorModel",
    "PixelCNN",
    "PixelStep",
    "RefinementNet",
    "RowStep",
    "bin_centers",
    "to_bins",
]


def to_bins(chroma: torch.Tensor, k: int = N_BINS) -> torch.Tensor:
    """Uniform bin index over [-0.5, 0.5] (``core.binning.PIXCOLOR_BINS``), int64."""
    return torch.floor((chroma + 0.5) * k).clamp(0, k - 1).long()


def bin_centers(index: torch.Tensor, k: int = N_BINS) -> torch.Tensor:
    """Centre value in [-0.5, 0.5] of bin ``index``."""
    return (index.float() + 0.5) / k - 0.5


def _resize(x: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """Bilinear resize of ``x`` to the spatial size of ``like`` (half-pixel centres)."""
    return F.interpolate(x, size=like.shape[-2:], mode="bilinear", align_corners=False)


class _ResBlock(nn.Module):
    def __init__(self, channels: int, dilation: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=dilation, dilation=dilation)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=dilation, dilation=dilation)
        self.norm1 = nn.BatchNorm2d(channels)
        self.norm2 = nn.BatchNorm2d(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu(self.norm1(self.conv1(x)))
        return F.relu(x + self.norm2(self.conv2(y)))


class ConditioningNet(nn.Module):
    """Lightness Y (N, 1, 4h, 4w) in [0, 1] -> conditioning features (N, C, h, w).

    A scaled-down stand-in for the ResNet-101 conditioning network of Table 2
    (two stride-2 stages instead of three, a handful of blocks, no COCO
    pre-training) followed by the adaptation convolutions.
    """

    def __init__(self, widths: tuple[int, int] = (32, 64), blocks: int = 3, out: int = 48):
        super().__init__()
        w1, w2 = widths
        self.stem = nn.Sequential(
            nn.Conv2d(1, w1, 3, stride=2, padding=1), nn.BatchNorm2d(w1), nn.ReLU(),
            _ResBlock(w1),
            nn.Conv2d(w1, w2, 3, stride=2, padding=1), nn.BatchNorm2d(w2), nn.ReLU(),
        )
        self.blocks = nn.Sequential(*[_ResBlock(w2, dilation=1 + (i % 2)) for i in range(blocks)])
        self.adapt = nn.Sequential(
            nn.Conv2d(w2, out, 3, padding=1), nn.ReLU(), nn.Conv2d(out, out, 1)
        )

    def forward(self, lightness: torch.Tensor) -> torch.Tensor:
        return self.adapt(self.blocks(self.stem((lightness - 0.5) * 2.0)))


class PixelCNN(GatedStacks):
    """Conditional gated PixelCNN over the low-resolution (Cr, Cb) image.

    Parameters
    ----------
    channels : int
        Width of both stacks (Table 2: 64).
    layers : int
        Gated blocks (Table 2: 10).
    first_kernel, kernel : int
        Kernel of the first masked convolution (Table 2: 7x7) and of the gated
        blocks (Table 2: 5x5).
    cond : int
        Channels of the conditioning features.
    k : int
        Bins per chroma channel.

    Notes
    -----
    The stacks (:class:`training.pixelcnn.GatedStacks`, ReLU head) make the
    features of pixel ``i`` depend on pixels ``< i`` in raster order only, so the
    Cr logits do too -- checked on the exported graph by the tests. The Cb logits
    also see the Cr bin of pixel ``i``, through an embedding (:meth:`cb_logits`).
    """

    def __init__(self, channels=32, layers=5, first_kernel=7, kernel=5, cond=48, k=N_BINS):
        super().__init__(channels, layers, first_kernel, kernel, cond, activation=F.relu)
        c = channels
        self.k = k
        self.cr_out = nn.Conv2d(c, k, 1)
        self.cb_hidden = nn.Conv2d(c, c, 1)
        self.cr_embed = nn.Embedding(k, c)
        self.cb_out = nn.Conv2d(c, k, 1)

    # -- the whole image at once ----------------------------------------------------

    def cr_logits(self, feats: torch.Tensor) -> torch.Tensor:
        return self.cr_out(feats)

    def cb_logits(self, feats: torch.Tensor, cr: torch.Tensor) -> torch.Tensor:
        """Cb logits given the Cr bin ``cr`` (N, H, W) of the same pixel."""
        embed = self.cr_embed(cr).permute(0, 3, 1, 2)
        return self.cb_out(F.relu(self.cb_hidden(feats) + embed))

    def forward(self, x: torch.Tensor, cond: torch.Tensor, cr: torch.Tensor):
        """Teacher-forced logits (Sec. 3.1): ``x`` (N, 2, H, W) is (Cr, Cb) scaled to [-1, 1]."""
        feats = self.features(x, cond)
        return self.cr_logits(feats), self.cb_logits(feats, cr)


def chroma_input(cr: torch.Tensor, cb: torch.Tensor) -> torch.Tensor:
    """PixelCNN input (N, 2, H, W) from Cr and Cb bins: bin centres scaled to [-1, 1]."""
    return torch.stack([bin_centers(cr), bin_centers(cb)], dim=1) * 2.0


class FullGraph(nn.Module):
    """The whole PixelCNN in one pass: naive sampling and likelihood scoring.

    Inputs ``x`` (N, 2, H, W) current (Cr, Cb) image in [-1, 1] (zeros where not
    yet sampled), ``cond`` (N, C, H, W), ``gumbel`` (N, 2K, H, W) noise (Cr's K, then Cb's K),
    ``inv_temperature`` (1,). Outputs: ``cr``, ``cb`` (N, H, W) int64 sampled at
    every pixel by the Gumbel-max trick (only the next pixel's value is used by the
    naive sampler), ``loglik`` (N, H, W) log p of the bins of ``x`` itself at
    temperature 1, and ``cr_logits`` (N, K, H, W) (for the causality test).
    """

    def __init__(self, net: PixelCNN):
        super().__init__()
        self.net = net

    def forward(self, x, cond, gumbel, inv_temperature):
        net = self.net
        feats = net.features(x, cond)
        cr_logits = net.cr_logits(feats)
        k = net.k
        cr = torch.argmax(cr_logits * inv_temperature + gumbel[:, :k], dim=1)
        cb_logits = net.cb_logits(feats, cr)
        cb = torch.argmax(cb_logits * inv_temperature + gumbel[:, k:], dim=1)
        own = to_bins(x * 0.5)  # bins of x itself: centres map back exactly
        own_cb_logits = net.cb_logits(feats, own[:, 0])
        loglik = torch.gather(F.log_softmax(cr_logits, 1), 1, own[:, :1]) + torch.gather(
            F.log_softmax(own_cb_logits, 1), 1, own[:, 1:]
        )
        return cr, cb, loglik[:, 0], cr_logits


class PixelStep(nn.Module):
    """Horizontal stack and both heads for one pixel, from cached pixels to its left.

    Inputs: ``cache_x`` (N, 2, p0) the input pixels ``c-p0 .. c-1`` of the row;
    ``cache_h`` (N, L*C, p) the pixels ``c-p .. c-1`` of every gated block's
    horizontal input; ``above`` (N, V) this column of the row step's output for the
    row above (zeros in row 0); ``cond`` (N, C); ``gumbel`` (N, 2K);
    ``inv_temperature`` (1,). Outputs the sampled ``cr``, ``cb`` (N,) int64,
    ``loglik`` (N,) of the sample at temperature 1, and the updated caches.
    """

    def __init__(self, net: PixelCNN):
        super().__init__()
        self.net = net

    def forward(self, cache_x, cache_h, above, cond, gumbel, inv_temperature):
        net = self.net
        pix = pixel_conv
        feats, new_h = net.pixel_features(cache_x, cache_h, above, cond)
        cr_logits = pix(net.cr_out, feats)
        k = net.k
        cr = torch.argmax(cr_logits * inv_temperature + gumbel[:, :k], dim=1)
        hidden = pix(net.cb_hidden, feats) + net.cr_embed(cr)
        cb_logits = pix(net.cb_out, F.relu(hidden))
        cb = torch.argmax(cb_logits * inv_temperature + gumbel[:, k:], dim=1)
        loglik = torch.gather(F.log_softmax(cr_logits, 1), 1, cr[:, None]) + torch.gather(
            F.log_softmax(cb_logits, 1), 1, cb[:, None]
        )
        x_new = torch.stack([bin_centers(cr), bin_centers(cb)], dim=1) * 2.0
        new_x = torch.cat([cache_x, x_new[:, :, None]], dim=2)[:, :, 1:]
        return cr, cb, loglik[:, 0], new_x, new_h


class PixColorModel(nn.Module):
    """Conditioning network + PixelCNN, trained jointly with teacher forcing (Sec. 3.1)."""

    def __init__(self, channels=32, layers=5, cond=48, cond_blocks=3, conditioning="scratch",
                 proj=32, adapt=64):
        super().__init__()
        if conditioning not in ("scratch", "backbone"):
            raise ValueError(f"conditioning must be 'scratch' or 'backbone', got {conditioning!r}")
        self.conditioning_kind = conditioning
        self.conditioning = (
            ConditioningNet(out=cond, blocks=cond_blocks)
            if conditioning == "scratch"
            else BackboneConditioning(proj=proj, width=adapt, out=cond)
        )
        self.pixelcnn = PixelCNN(channels=channels, layers=layers, cond=cond)

    def forward(self, y, cr: torch.Tensor, cb: torch.Tensor):
        """Teacher-forced (Cr, Cb) logits for lightness ``y`` (the backbone's levels, a
        dict, for the backbone conditioning) and true bins ``cr``, ``cb``."""
        cond = self.conditioning(y)
        return self.pixelcnn(chroma_input(cr, cb), cond, cr)


class BackboneConditioning(GridHypercolumn):
    """The conditioning network over the shared gray backbone (issue #20; Sec. 3, Fig. 4).

    The paper conditions on a pretrained ResNet-101 followed by an adaptation network of
    three convolutions (Table 2). Here the pretrained network is the frozen gray
    EfficientNet-Lite0 of :mod:`core.backbones` run at 224 px: its levels' hypercolumn on
    the 28 px grid (stride 8; :class:`training.hypercolumn.GridHypercolumn`), then the
    adaptation network: two 3x3 convolutions of ``width`` channels and a 1x1 to ``out``.
    """

    def __init__(self, proj: int = 32, width: int = 64, out: int = 48):
        super().__init__(proj)
        self.adapt = nn.Sequential(
            nn.Conv2d(self.hyper_channels, width, 3, padding=1), nn.ReLU(),
            nn.Conv2d(width, width, 3, padding=1), nn.ReLU(),
            nn.Conv2d(width, out, 1),
        )

    def forward(self, levels: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.adapt(self.hypercolumn(levels))


class BackboneCondGraph(nn.Module):
    """Exported conditioning over the backbone: levels f4 ... head -> ``cond`` (N, C, h, w)."""

    def __init__(self, conditioning: BackboneConditioning):
        super().__init__()
        self.conditioning = conditioning

    def forward(self, f4, f8, f16, f32, head):
        return self.conditioning({"f4": f4, "f8": f8, "f16": f16, "f32": f32, "head": head})


class RefinementNet(nn.Module):
    """Low-resolution chroma + full-resolution lightness -> chroma (Sec. 3.2).

    Inputs ``y`` (N, 1, 4h, 4w) in [0, 1] and ``chroma`` (N, 2, h, w) (Cb, Cr) in
    [-0.5, 0.5]; output (N, 2, 4h, 4w) (Cb, Cr). Encoder-decoder with bilinear
    up-sampling instead of learned up-sampling (as the paper); the output is a
    correction added to the bilinearly up-sampled input chroma.
    """

    def __init__(self, width: int = 16):
        super().__init__()
        w = width

        def conv(i, o, s=1, d=1):
            return nn.Sequential(nn.Conv2d(i, o, 3, stride=s, padding=d, dilation=d), nn.ReLU())

        self.enc1 = conv(3, w)
        self.enc2 = nn.Sequential(conv(w, 2 * w, 2), conv(2 * w, 2 * w))
        self.enc3 = nn.Sequential(
            conv(2 * w, 4 * w, 2), conv(4 * w, 4 * w, d=2), conv(4 * w, 4 * w)
        )
        self.dec2 = conv(6 * w, 2 * w)
        self.dec1 = nn.Sequential(conv(3 * w, w), conv(w, w))
        self.out = nn.Conv2d(w, 2, 3, padding=1)

    def forward(self, lightness: torch.Tensor, chroma: torch.Tensor) -> torch.Tensor:
        up = _resize(chroma, lightness)
        e1 = self.enc1(torch.cat([(lightness - 0.5) * 2.0, up * 2.0], dim=1))
        e2 = self.enc2(e1)
        e3 = self.enc3(e2)
        d2 = self.dec2(torch.cat([_resize(e3, e2), e2], dim=1))
        d1 = self.dec1(torch.cat([_resize(d2, e1), e1], dim=1))
        return up + 0.5 * torch.tanh(self.out(d1))
