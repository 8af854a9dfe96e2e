"""Pixelated Semantic Colorization networks in torch (training and export only).

Scaled down from Zhao et al. 2019, §3.3, Tables 1-2 (inference never imports this):

* :class:`Bottom` -- the layers shared by the colour embedding and the segmentation
  branch (the gray rows of Tables 1-2): convolutions and gated residual blocks from the
  128 px lightness down to the 32 px grid (two stride-2 convolutions).
* :class:`BackboneBottom` -- the same role over the shared gray ImageNet backbone
  (issue #20; Zhao et al. §4 start from a pretrained DeepLab-ResNet-101): each level of
  the frozen EfficientNet-Lite0 pyramid (strides 4-32) projected by a 1x1 convolution,
  resampled to the chroma grid (stride 8 of a 256 px working image), concatenated and
  fused by a convolution and a gated residual block.
* :class:`EmbeddingBranch` -- the rest of f_θ: gated residual blocks with dilation 2
  and 4 (Table 1), ending in the embedding; a 1x1 head predicts a per-pixel discretized
  logistic mixture from the embedding alone, trained by L_emb (§3.3).
* :class:`SegmentationHead` -- h_φ: a gated residual block with dilation 2 and atrous
  spatial pyramid pooling, three 3x3 convolutions with rates 6, 12 and 18 whose class
  scores are summed (Table 2), trained by L_seg.
* :class:`PixelCNN` -- g_ω: a conditional gated PixelCNN (vertical and horizontal
  stacks, no blind spot) over (a, b) on the 32 px grid whose output is a discretized
  mixture of logistics (§3.3, Salimans et al. 2017); conditioned on the embedding
  (Eqs. 2-3) and, in the ``full`` variant, on the segmentation prediction (softmax)
  concatenated along the channels (Eq. 4).

The gated stacks and the row step are the toolkit's shared gated PixelCNN
(:mod:`training.pixelcnn`, also used by the pixcolor plugin); the bin masses of the
mixture are :mod:`colorize_semantic.logistic`'s, evaluated with torch operations.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from colorize_semantic import LEVELS, MIXTURES, N_CLASSES, VARIANTS
from colorize_semantic.logistic import LOG_SCALE_MIN, ArrayOps, channel_log_prob
from training.hypercolumn import LEVEL_CHANNELS, GridHypercolumn
from training.pixelcnn import GatedStacks, RowStep, gate, pixel_conv

__all__ = [
    "BB_CHANNELS",
    "BackboneBottom",
    "BackboneEncoderGraph",
    "Bottom",
    "EmbeddingBranch",
    "EncoderGraph",
    "GeneratorGraph",
    "PixelCNN",
    "PixelStep",
    "RowStep",
    "SegmentationHead",
    "SemanticModel",
    "mixture_log_prob",
    "mixture_sample",
    "quantize",
]

# -- discretized mixture of logistics (Salimans et al. 2017; Zhao et al. §3.3) -----------


def quantize(x: torch.Tensor, k: int = LEVELS) -> torch.Tensor:
    """Nearest of ``k`` levels over [-1, 1] (values clipped first)."""
    half = (k - 1) / 2.0
    return torch.round((x.clamp(-1.0, 1.0) + 1.0) * half) / half - 1.0


def _split(params: torch.Tensor, m: int):
    logits, mean_a, mean_b, ls_a, ls_b, coeff = params.split(m, dim=1)
    return (
        logits,
        mean_a,
        mean_b,
        ls_a.clamp(min=LOG_SCALE_MIN),
        ls_b.clamp(min=LOG_SCALE_MIN),
        torch.tanh(coeff),
    )


def _log_sigmoid(x: torch.Tensor) -> torch.Tensor:
    """log(sigmoid(x)) = min(x, 0) - log1p(exp(-|x|)), written out so that the exported
    graph stays finite far in the tails (an exported ``logsigmoid`` may become
    ``log(sigmoid(x))``, which is -inf there)."""
    return torch.clamp(x, max=0.0) - torch.log1p(torch.exp(-torch.abs(x)))


#: The operations :func:`colorize_semantic.logistic.channel_log_prob` needs, in torch.
_TORCH = ArrayOps(
    exp=torch.exp,
    log=torch.log,
    expm1=torch.expm1,
    where=torch.where,
    cap=lambda x, high: x.clamp(max=high),
    log_sigmoid=_log_sigmoid,
)


def mixture_log_prob(
    params: torch.Tensor, x: torch.Tensor, k: int = LEVELS, m: int = MIXTURES
) -> torch.Tensor:
    """Log-probability (N, H, W) of levels ``x`` (N, 2, H, W) under mixture ``params``.

    Same definition as :func:`colorize_semantic.logistic.log_prob` (numpy): components
    ``j`` with weights ``softmax(π)``, a ~ logistic(μ_a, s_a), b ~ logistic(μ_b + tanh(c) a,
    s_b), each discretized to ``k`` bins whose end bins take the tails.
    """
    logits, mean_a, mean_b, ls_a, ls_b, coeff = _split(params, m)
    a, b = x[:, :1], x[:, 1:]
    log_pa = channel_log_prob(a, mean_a, ls_a, k, _TORCH)
    log_pb = channel_log_prob(b, mean_b + coeff * a, ls_b, k, _TORCH)
    return torch.logsumexp(F.log_softmax(logits, dim=1) + log_pa + log_pb, dim=1)


def mixture_sample(
    params: torch.Tensor,
    gumbel: torch.Tensor,
    uniform: torch.Tensor,
    temperature: torch.Tensor,
    k: int = LEVELS,
    m: int = MIXTURES,
) -> torch.Tensor:
    """Draw (a, b) levels (N, 2, H, W) from the mixture with given noise.

    ``gumbel`` (N, M, H, W) picks the component by the Gumbel-max trick on
    ``π / T``; ``uniform`` (N, 2, H, W) in (0, 1) draws a then b by the inverse logistic
    CDF with scale ``s T``; each is clipped to [-1, 1] and rounded to a level, and b's
    mean uses the rounded a (so the samples follow :func:`mixture_log_prob` at T = 1).
    """
    logits, mean_a, mean_b, ls_a, ls_b, coeff = _split(params, m)
    index = torch.argmax(logits / temperature + gumbel, dim=1, keepdim=True)

    def pick(t):
        return torch.gather(t, 1, index)

    u = uniform.clamp(1e-5, 1.0 - 1e-5)
    noise = torch.log(u) - torch.log1p(-u)
    a = quantize(pick(mean_a) + torch.exp(pick(ls_a)) * temperature * noise[:, :1], k)
    b = quantize(
        pick(mean_b) + pick(coeff) * a + torch.exp(pick(ls_b)) * temperature * noise[:, 1:], k
    )
    return torch.cat([a, b], dim=1)


# -- building blocks ---------------------------------------------------------------------


def _conv(i: int, o: int, stride: int = 1, dilation: int = 1) -> nn.Conv2d:
    return nn.Conv2d(i, o, 3, stride=stride, padding=dilation, dilation=dilation)


class GatedResBlock(nn.Module):
    """Gated residual block (§3.3): two 3x3 convolutions, a gate and a skip connection."""

    def __init__(self, channels: int, dilation: int = 1):
        super().__init__()
        self.conv1 = _conv(channels, channels, dilation=dilation)
        self.conv2 = _conv(channels, 2 * channels, dilation=dilation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + gate(self.conv2(F.elu(self.conv1(F.elu(x)))))


class Bottom(nn.Module):
    """Shared bottom layers (gray rows of Tables 1-2): (N, 1, 4h, 4w) -> (N, C, h, w)."""

    def __init__(self, widths: tuple[int, int, int] = (16, 32, 48)):
        super().__init__()
        w1, w2, w3 = widths
        self.out_channels = w3
        self.layers = nn.Sequential(
            _conv(1, w1),
            GatedResBlock(w1),
            _conv(w1, w2, stride=2),
            GatedResBlock(w2),
            _conv(w2, w3, stride=2),
            GatedResBlock(w3),
        )

    def forward(self, lightness: torch.Tensor) -> torch.Tensor:
        return self.layers((lightness - 0.5) * 2.0)


#: Channels of the gray backbone's levels that :class:`BackboneBottom` reads.
BB_CHANNELS = LEVEL_CHANNELS


class BackboneBottom(GridHypercolumn):
    """Shared bottom over the frozen gray backbone: levels -> (N, C, h, w) on the f8 grid.

    The levels' hypercolumn on the chroma grid (:class:`training.hypercolumn.GridHypercolumn`:
    each level 1x1-projected to ``proj`` channels, pooled or up-sampled to the f8 grid,
    concatenated), fused by ELU, a 3x3 convolution to ``out`` channels and a gated residual
    block (§3.3), in place of the gray rows of Tables 1-2 trained from scratch.
    """

    def __init__(self, proj: int = 32, out: int = 48, channels: dict[str, int] | None = None):
        super().__init__(proj, channels)
        self.out_channels = out
        self.fuse = nn.Sequential(nn.ELU(), _conv(self.hyper_channels, out), GatedResBlock(out))

    def forward(self, levels: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.fuse(self.hypercolumn(levels))


class EmbeddingBranch(nn.Module):
    """Top of f_θ (Table 1): dilated gated residual blocks (rates 2, 4) -> embedding."""

    def __init__(self, in_channels: int, width: int = 48, out: int = 32, m: int = MIXTURES):
        super().__init__()
        self.out_channels = out
        self.layers = nn.Sequential(
            _conv(in_channels, width),
            GatedResBlock(width, 2),
            _conv(width, width),
            GatedResBlock(width, 4),
            _conv(width, out),
        )
        self.head = nn.Conv2d(out, 6 * m, 1)  # per-pixel mixture of L_emb

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.layers(features)


class SegmentationHead(nn.Module):
    """h_φ (Table 2): a dilated gated block, then ASPP with rates 6/12/18, summed."""

    def __init__(
        self,
        in_channels: int,
        width: int = 48,
        classes: int = N_CLASSES,
        rates: tuple[int, ...] = (6, 12, 18),
    ):
        super().__init__()
        self.body = nn.Sequential(_conv(in_channels, width), GatedResBlock(width, 2), nn.ELU())
        self.aspp = nn.ModuleList(_conv(width, classes, dilation=r) for r in rates)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        h = self.body(features)
        out = self.aspp[0](h)
        for conv in self.aspp[1:]:
            out = out + conv(h)
        return out


class PixelCNN(GatedStacks):
    """g_ω: conditional gated PixelCNN over (a, b) with a logistic-mixture output.

    The stacks (:class:`training.pixelcnn.GatedStacks`, ELU head) make the mixture
    parameters of pixel ``i`` depend on pixels ``< i`` (raster order) only; b's
    dependence on the pixel's own a is in the mixture (Salimans et al. 2017), not in the
    network. Upward reach: ``1 + p0 + layers * p`` rows; sideways: ``p0 + layers * p``
    columns (:attr:`reach`), used by the windowed sampler.
    """

    def __init__(
        self,
        channels: int = 32,
        layers: int = 4,
        first_kernel: int = 5,
        kernel: int = 3,
        cond: int = 32,
        m: int = MIXTURES,
    ):
        super().__init__(channels, layers, first_kernel, kernel, cond, activation=F.elu)
        self.m = m
        self.out = nn.Conv2d(channels, 6 * m, 1)

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        """Mixture parameters (N, 6M, H, W) for teacher-forced levels ``x`` (N, 2, H, W)."""
        return self.out(self.features(x, cond))


class SemanticModel(nn.Module):
    """f_θ, h_φ and g_ω of one variant of Fig. 2 (``plain``, ``embedding`` or ``full``)."""

    def __init__(
        self,
        variant: str = "full",
        widths=(16, 32, 48),
        width: int = 48,
        embedding: int = 32,
        channels: int = 32,
        layers: int = 4,
        classes: int = N_CLASSES,
        bottom: str = "scratch",
        proj: int = 32,
    ):
        super().__init__()
        if variant not in VARIANTS:
            raise ValueError(f"variant must be one of {VARIANTS}, got {variant!r}")
        if bottom not in ("scratch", "backbone"):
            raise ValueError(f"bottom must be 'scratch' or 'backbone', got {bottom!r}")
        self.variant = variant
        self.classes = classes
        self.bottom_kind = bottom
        self.bottom = (
            Bottom(tuple(widths)) if bottom == "scratch" else BackboneBottom(proj, widths[-1])
        )
        self.embedding = EmbeddingBranch(self.bottom.out_channels, width, embedding)
        self.segmentation = (
            SegmentationHead(self.bottom.out_channels, width, classes)
            if variant != "plain"
            else None
        )
        cond = embedding + (classes if variant == "full" else 0)
        self.pixelcnn = PixelCNN(channels=channels, layers=layers, cond=cond)

    def encode(self, lightness):
        """(cond for g_ω, embedding, segmentation logits or None) at the low resolution.

        ``lightness`` is L*/100 (N, 1, 4h, 4w) for the scratch bottom, the backbone's
        levels (a dict, :data:`BB_CHANNELS`) for the backbone bottom.
        """
        features = self.bottom(lightness)
        emb = self.embedding(features)
        seg = self.segmentation(features) if self.segmentation is not None else None
        cond = torch.cat([emb, F.softmax(seg, dim=1)], dim=1) if self.variant == "full" else emb
        return cond, emb, seg

    def forward(self, lightness: torch.Tensor, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Teacher-forced outputs for lightness (N, 1, 4h, 4w) and true levels x (N, 2, h, w)."""
        cond, emb, seg = self.encode(lightness)
        return {
            "emb_params": self.embedding.head(emb),
            "seg_logits": seg,
            "gen_params": self.pixelcnn(x, cond),
        }


class EncoderGraph(nn.Module):
    """Exported encoder: lightness (N, 1, H, W) in [0, 1] -> ``cond``, ``seg_logits``.

    ``seg_logits`` (N, classes, H/4, W/4) is all zeros for the ``plain`` variant.
    """

    def __init__(self, model: SemanticModel):
        super().__init__()
        self.model = model

    def forward(self, lightness: torch.Tensor):
        cond, emb, seg = self.model.encode(lightness)
        if seg is None:
            seg = emb[:, :1].repeat(1, self.model.classes, 1, 1) * 0.0
        return cond, seg


class BackboneEncoderGraph(nn.Module):
    """Exported encoder over the backbone: levels f4 ... head -> ``cond``, ``seg_logits``
    (N, classes, h, w) on the f8 grid; zeros for the ``plain`` variant."""

    def __init__(self, model: SemanticModel):
        super().__init__()
        self.model = model

    def forward(self, f4, f8, f16, f32, head):
        levels = {"f4": f4, "f8": f8, "f16": f16, "f32": f32, "head": head}
        cond, emb, seg = self.model.encode(levels)
        if seg is None:
            seg = emb[:, :1].repeat(1, self.model.classes, 1, 1) * 0.0
        return cond, seg


class GeneratorGraph(nn.Module):
    """Exported g_ω: the whole PixelCNN once, sampling every pixel from given noise.

    Inputs ``x`` (N, 2, h, w) levels in [-1, 1] (zeros where not yet sampled),
    ``cond`` (N, C, h, w), ``gumbel`` (N, M, h, w), ``uniform`` (N, 2, h, w),
    ``temperature`` (1,). Outputs ``sample`` (N, 2, h, w) (only the next pixel's value is
    used by a sampler), ``loglik`` (N, h, w) of ``x`` itself, ``params`` (N, 6M, h, w).
    """

    def __init__(self, net: PixelCNN):
        super().__init__()
        self.net = net

    def forward(self, x, cond, gumbel, uniform, temperature):
        params = self.net(x, cond)
        sample = mixture_sample(params, gumbel, uniform, temperature, m=self.net.m)
        return sample, mixture_log_prob(params, x, m=self.net.m), params


class PixelStep(nn.Module):
    """Horizontal stack, head and sampling of g_ω for one pixel, from cached pixels.

    Inputs: ``cache_x`` (N, 2, p0) input pixels ``c-p0 .. c-1`` of the row; ``cache_h``
    (N, L*c, p) pixels ``c-p .. c-1`` of every gated block's horizontal input; ``above``
    (N, V) this column of the row step's output for the row above (zeros in row 0);
    ``cond`` (N, C); ``gumbel`` (N, M); ``uniform`` (N, 2); ``temperature`` (1,). Outputs
    the sampled ``value`` (N, 2) and the updated caches (the likelihood of a finished
    sample comes from one pass of :class:`GeneratorGraph`, which keeps this graph small).
    """

    def __init__(self, net: PixelCNN):
        super().__init__()
        self.net = net

    def forward(self, cache_x, cache_h, above, cond, gumbel, uniform, temperature):
        net = self.net
        feats, new_h = net.pixel_features(cache_x, cache_h, above, cond)
        params = pixel_conv(net.out, feats)[:, :, None, None]
        value = mixture_sample(
            params, gumbel[:, :, None, None], uniform[:, :, None, None], temperature, m=net.m
        )
        value = value[:, :, 0, 0]
        new_x = torch.cat([cache_x, value[:, :, None]], dim=2)[:, :, 1:]
        return value, new_x, new_h
