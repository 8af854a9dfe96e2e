"""The hypercolumn network in torch (training and export only; inference uses ONNX Runtime).

A fully convolutional VGG-style backbone whose first layer takes one lightness
channel (Sec. 3.5), scaled down to train on a CPU: four blocks of two 3x3
convolutions (widths 16, 32, 64, 128 by default) each followed by 2x2 max
pooling, then ``fc6`` (3x3) and ``fc7`` (1x1) at stride 16. Every convolution is
followed by batch normalisation and ReLU, since there is no pretrained VGG to
start from (see MODEL_CARD.md).

Hypercolumns (Sec. 3.5, Fig. 2): the features of the layers ``data``, ``conv1_2``,
``conv2_2``, ``conv3_2``, ``conv4_2`` and ``fc7`` are bilinearly interpolated to a
pixel position and concatenated, fed to ``h_fc1`` (a fully connected layer, i.e. a
1x1 convolution) and then to the prediction layer.

* **Sparse extraction** (training): ``S`` random pixels per image (128 as in the
  paper) are sampled with ``grid_sample``; gradients flow to the four nearest cells of
  every layer, as in the paper's custom Caffe layer.
* **Dense extraction** (inference): every pixel. ``dense="concat"`` upsamples every
  layer to the image size and concatenates (the literal hypercolumn, memory
  ``sum(C_l) x H x W``); ``dense="factorized"`` (the default, and what is exported)
  uses that ``h_fc1`` is linear and bilinear interpolation commutes with a 1x1
  convolution: ``h_fc1(concat_l up(X_l)) = sum_l up(W_l X_l) + b``, so each layer's
  slice of ``h_fc1`` is applied at the layer's own resolution before upsampling. The
  two are equal up to float rounding (a test checks both against the sparse path).

Re-balancing (App. A.1): each layer's slice of the hypercolumn is multiplied by a fixed
``m_l = 1 / sqrt(E[X_l^2])``, estimated on the first training batch, so every layer
enters ``h_fc1`` with unit second moment. The paper folds ``m`` into the layer weights
(Eq. 7) because VGG has no normalisation; here the backbone has batch norm, so the
scale is a buffer applied to the hypercolumn only (the backbone function is
unchanged, which is what Eq. 7-8 guarantee too). It matters most for the raw
lightness channel and for layers whose post-ReLU scale differs from the rest.

References
----------
Larsson et al. 2016, Sec. 3.5 (architecture, sparse hypercolumns), App. A.1 (Eqs. 7-8).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

__all__ = ["HypercolumnNet", "LIGHTNESS_CENTER", "HYPERCOLUMN_LAYERS"]

#: Lightness L* in [0, 100] enters as (L - 50) / 50.
LIGHTNESS_CENTER = 50.0
HYPERCOLUMN_LAYERS = ("data", "conv1_2", "conv2_2", "conv3_2", "conv4_2", "fc7")


def _conv(cin: int, cout: int, k: int = 3) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, k, padding=k // 2, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


def pixel_grid(positions: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Integer pixel positions (N, S, 2) as (y, x) -> ``grid_sample`` grid (N, 1, S, 2).

    Pixel centres are mapped with ``align_corners=False`` conventions, so sampling a
    layer at a pixel equals upsampling it to (height, width) with
    ``F.interpolate(..., mode="bilinear", align_corners=False)`` and reading that pixel.
    """
    y = (positions[..., 0].float() + 0.5) / height * 2 - 1
    x = (positions[..., 1].float() + 0.5) / width * 2 - 1
    return torch.stack([x, y], dim=-1)[:, None]


class HypercolumnNet(nn.Module):
    """VGG-style hypercolumn colorization network.

    Parameters
    ----------
    out_channels : int
        Channels of the prediction layer (64 for hue+chroma, 256 for the joint grid...).
    widths : 4 ints
        Widths of the four convolution blocks.
    fc_width : int
        Width of ``fc6`` and ``fc7``.
    hidden : int
        Width of ``h_fc1`` (1024 in the paper).
    samples : int
        Hypercolumns sampled per image in training (128 in the paper).

    ``forward(lightness)`` takes (N, 1, H, W) Lab L* in [0, 100]. In training mode it
    returns ``(logits (N, C, S), positions (N, S, 2) int64)`` at ``samples`` random
    pixels; in eval mode the dense logits (N, C, H, W).
    """

    def __init__(
        self,
        out_channels: int,
        widths: tuple[int, int, int, int] = (16, 32, 64, 128),
        fc_width: int = 256,
        hidden: int = 256,
        samples: int = 128,
        dense: str = "factorized",
    ):
        super().__init__()
        w1, w2, w3, w4 = (int(w) for w in widths)
        self.conv1 = nn.Sequential(_conv(1, w1), _conv(w1, w1))
        self.conv2 = nn.Sequential(_conv(w1, w2), _conv(w2, w2))
        self.conv3 = nn.Sequential(_conv(w2, w3), _conv(w3, w3))
        self.conv4 = nn.Sequential(_conv(w3, w4), _conv(w4, w4))
        self.fc6 = _conv(w4, fc_width, 3)
        self.fc7 = _conv(fc_width, fc_width, 1)
        self.pool = nn.MaxPool2d(2, ceil_mode=True)
        self.layer_widths = (1, w1, w2, w3, w4, fc_width)
        self.h_fc1 = nn.Conv2d(sum(self.layer_widths), hidden, 1)
        self.head = nn.Conv2d(hidden, out_channels, 1)
        nn.init.xavier_uniform_(self.h_fc1.weight)
        nn.init.xavier_uniform_(self.head.weight)
        self.samples = int(samples)
        self.dense = dense
        self.register_buffer("hc_scale", torch.ones(len(self.layer_widths)))
        self.register_buffer("hc_ready", torch.zeros((), dtype=torch.bool))

    # -- backbone ---------------------------------------------------------------

    def features(self, lightness: torch.Tensor) -> list[torch.Tensor]:
        """The hypercolumn layers (data, conv1_2, conv2_2, conv3_2, conv4_2, fc7)."""
        x = (lightness - LIGHTNESS_CENTER) / LIGHTNESS_CENTER
        c1 = self.conv1(x)
        c2 = self.conv2(self.pool(c1))
        c3 = self.conv3(self.pool(c2))
        c4 = self.conv4(self.pool(c3))
        f7 = self.fc7(self.fc6(self.pool(c4)))
        return [x, c1, c2, c3, c4, f7]

    @torch.no_grad()
    def rebalance(self, layers: list[torch.Tensor]) -> None:
        """Set ``m_l = 1 / sqrt(E[X_l^2])`` per hypercolumn layer (App. A.1)."""
        second = torch.stack([f.detach().float().pow(2).mean() for f in layers])
        self.hc_scale.copy_(second.clamp_min(1e-8).rsqrt())
        self.hc_ready.fill_(True)

    # -- hypercolumns -----------------------------------------------------------

    def sparse_hypercolumns(self, layers, positions, size) -> torch.Tensor:
        """Hypercolumns (N, sum C_l, 1, S) at integer pixels ``positions`` (N, S, 2)."""
        grid = pixel_grid(positions, *size)
        cols = [
            F.grid_sample(f, grid, mode="bilinear", padding_mode="border", align_corners=False)
            * self.hc_scale[i]
            for i, f in enumerate(layers)
        ]
        return torch.cat(cols, dim=1)

    def dense_hypercolumns(self, layers, size) -> torch.Tensor:
        """Literal dense hypercolumns (N, sum C_l, H, W): every layer upsampled and concatenated."""
        cols = [
            (
                f
                if f.shape[-2:] == size
                else F.interpolate(f, size=size, mode="bilinear", align_corners=False)
            )
            * self.hc_scale[i]
            for i, f in enumerate(layers)
        ]
        return torch.cat(cols, dim=1)

    def dense_hidden_factorized(self, layers, size) -> torch.Tensor:
        """``h_fc1`` pre-activation at every pixel without forming the hypercolumns."""
        weight = self.h_fc1.weight
        out = None
        start = 0
        for i, f in enumerate(layers):
            width = f.shape[1]
            w = weight[:, start : start + width] * self.hc_scale[i]
            start += width
            y = F.conv2d(f, w)
            if y.shape[-2:] != size:
                y = F.interpolate(y, size=size, mode="bilinear", align_corners=False)
            out = y if out is None else out + y
        return out + self.h_fc1.bias[None, :, None, None]

    def predict_dense(self, lightness: torch.Tensor, mode: str | None = None) -> torch.Tensor:
        """Dense logits (N, C, H, W) (``mode``: "factorized" or "concat")."""
        size = tuple(lightness.shape[-2:])
        layers = self.features(lightness)
        if (mode or self.dense) == "concat":
            hidden = self.h_fc1(self.dense_hypercolumns(layers, size))
        else:
            hidden = self.dense_hidden_factorized(layers, size)
        return self.head(F.relu(hidden))

    def predict_sparse(self, lightness: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        """Logits (N, C, S) at integer pixel ``positions`` (N, S, 2) as (y, x)."""
        size = tuple(lightness.shape[-2:])
        layers = self.features(lightness)
        hidden = self.h_fc1(self.sparse_hypercolumns(layers, positions, size))
        return self.head(F.relu(hidden))[:, :, 0]

    def random_positions(self, n: int, height: int, width: int, device) -> torch.Tensor:
        """``samples`` random pixels per image, (N, S, 2) int64 (y, x), from torch's RNG."""
        y = torch.randint(0, height, (n, self.samples), device=device)
        x = torch.randint(0, width, (n, self.samples), device=device)
        return torch.stack([y, x], dim=-1)

    def forward(self, lightness: torch.Tensor):
        if not self.training:
            logits = self.predict_dense(lightness)
            logits.lightness = lightness  # for validation decoding (hue/chroma needs L*)
            return logits
        n, _, h, w = lightness.shape
        layers = self.features(lightness)
        if not bool(self.hc_ready):
            self.rebalance(layers)
        positions = self.random_positions(n, h, w, lightness.device)
        hidden = self.h_fc1(self.sparse_hypercolumns(layers, positions, (h, w)))
        return self.head(F.relu(hidden))[:, :, 0], positions
