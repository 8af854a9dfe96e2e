"""Pixelated Semantic Colorization networks in torch (training and export only).

Scaled down from Zhao et al. 2019, §3.3, Tables 1-2 (inference never imports this):

* :class:`Bottom` -- the layers shared by the colour embedding and the segmentation
  branch (the gray rows of Tables 1-2): convolutions and gated residual blocks from the
  128 px lightness down to the 32 px grid (two stride-2 convolutions).
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

The gated stacks follow the same construction as the pixcolor plugin's PixelCNN
(duplicated and adapted here, so each plugin installs on its own).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from colorize_semantic import LEVELS, MIXTURES, N_CLASSES, VARIANTS

__all__ = [
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

LOG_SCALE_MIN = -7.0


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


def _interior(u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """log(sigmoid(u) - sigmoid(v)) for u > v, stable (the gap clamped away from 0)."""
    lu = _log_sigmoid(u)
    gap = (_log_sigmoid(v) - lu).clamp(max=-1e-12)
    return lu + torch.log(-torch.expm1(gap))


def _channel_log_prob(x, mean, log_scale, k):
    half_bin = 1.0 / (k - 1)
    inv = torch.exp(-log_scale)
    plus = inv * (x - mean + half_bin)
    minus = inv * (x - mean - half_bin)
    # interior bins, evaluated on the side of the mean where the tail is not saturated
    mid = torch.where(plus + minus > 0, _interior(-minus, -plus), _interior(plus, minus))
    return torch.where(
        x < -1.0 + half_bin,
        _log_sigmoid(plus),
        torch.where(x > 1.0 - half_bin, _log_sigmoid(-minus), mid),
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
    log_pa = _channel_log_prob(a, mean_a, ls_a, k)
    log_pb = _channel_log_prob(b, mean_b + coeff * a, ls_b, k)
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


def _gate(x: torch.Tensor) -> torch.Tensor:
    """Gated activation ``tanh(a) * sigmoid(b)`` (van den Oord et al. 2016, Eq. 2)."""
    a, b = x.chunk(2, dim=1)
    return torch.tanh(a) * torch.sigmoid(b)


def _conv(i: int, o: int, stride: int = 1, dilation: int = 1) -> nn.Conv2d:
    return nn.Conv2d(i, o, 3, stride=stride, padding=dilation, dilation=dilation)


class GatedResBlock(nn.Module):
    """Gated residual block (§3.3): two 3x3 convolutions, a gate and a skip connection."""

    def __init__(self, channels: int, dilation: int = 1):
        super().__init__()
        self.conv1 = _conv(channels, channels, dilation=dilation)
        self.conv2 = _conv(channels, 2 * channels, dilation=dilation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + _gate(self.conv2(F.elu(self.conv1(F.elu(x)))))


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


def _shift_down(x: torch.Tensor) -> torch.Tensor:
    """Move every row one down, zeros in the top row (vertical -> horizontal link)."""
    return F.pad(x, (0, 0, 1, 0))[:, :, :-1, :]


class PixelCNN(nn.Module):
    """g_ω: conditional gated PixelCNN over (a, b) with a logistic-mixture output.

    The vertical stack at row ``r`` sees input rows ``<= r`` and reaches the horizontal
    stack only shifted one row down; the horizontal stack sees pixels left of the
    current one in its first layer and up to it later. So the mixture parameters of pixel
    ``i`` depend on pixels ``< i`` (raster order) only; b's dependence on the pixel's own
    a is in the mixture (Salimans et al. 2017), not in the network. Upward reach:
    ``1 + p0 + layers * p`` rows; sideways: ``p0 + layers * p`` columns
    (:attr:`reach`), used by the windowed sampler.
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
        super().__init__()
        c = channels
        self.channels, self.layers, self.cond, self.m = c, layers, cond, m
        self.first_kernel, self.kernel = first_kernel, kernel
        self.p0, self.p = first_kernel // 2, kernel // 2
        self.v_in = nn.Conv2d(2, c, (self.p0 + 1, first_kernel))
        self.h_in = nn.Conv2d(2, c, (1, self.p0))
        self.v2h_in = nn.Conv2d(c, c, 1)
        self.v_conv = nn.ModuleList(
            nn.Conv2d(c, 2 * c, (self.p + 1, kernel)) for _ in range(layers)
        )
        self.v_cond = nn.ModuleList(nn.Conv2d(cond, 2 * c, 1) for _ in range(layers))
        self.h_conv = nn.ModuleList(nn.Conv2d(c, 2 * c, (1, self.p + 1)) for _ in range(layers))
        self.v2h = nn.ModuleList(nn.Conv2d(2 * c, 2 * c, 1, bias=False) for _ in range(layers))
        self.h_cond = nn.ModuleList(nn.Conv2d(cond, 2 * c, 1) for _ in range(layers))
        self.h_out = nn.ModuleList(nn.Conv2d(c, c, 1) for _ in range(layers))
        self.head_cond = nn.Conv2d(cond, c, 1)
        self.head = nn.Conv2d(c, c, 1)
        self.out = nn.Conv2d(c, 6 * m, 1)

    @property
    def vertical_width(self) -> int:
        """Channels per column that the row step hands to the pixel step."""
        return self.channels + 2 * self.channels * self.layers

    @property
    def reach(self) -> tuple[int, int]:
        """(rows above, columns either side) that can influence a pixel's output."""
        side = self.p0 + self.layers * self.p
        return 1 + side, side

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        """Mixture parameters (N, 6M, H, W) for teacher-forced levels ``x`` (N, 2, H, W)."""
        p0, p = self.p0, self.p
        v = self.v_in(F.pad(x, (p0, p0, p0, 0)))
        h = self.h_in(F.pad(x, (p0, 0, 0, 0)))[:, :, :, : x.shape[3]]
        h = h + _shift_down(self.v2h_in(v))
        for i in range(self.layers):
            vf = self.v_conv[i](F.pad(v, (p, p, p, 0)))
            hf = (
                self.h_conv[i](F.pad(h, (p, 0, 0, 0)))
                + _shift_down(self.v2h[i](vf))
                + self.h_cond[i](cond)
            )
            v = _gate(vf + self.v_cond[i](cond))
            h = h + self.h_out[i](_gate(hf))
        return self.out(F.elu(self.head(F.elu(h)) + self.head_cond(cond)))


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
    ):
        super().__init__()
        if variant not in VARIANTS:
            raise ValueError(f"variant must be one of {VARIANTS}, got {variant!r}")
        self.variant = variant
        self.classes = classes
        self.bottom = Bottom(tuple(widths))
        self.embedding = EmbeddingBranch(self.bottom.out_channels, width, embedding)
        self.segmentation = (
            SegmentationHead(self.bottom.out_channels, width, classes)
            if variant != "plain"
            else None
        )
        cond = embedding + (classes if variant == "full" else 0)
        self.pixelcnn = PixelCNN(channels=channels, layers=layers, cond=cond)

    def encode(self, lightness: torch.Tensor):
        """(cond for g_ω, embedding, segmentation logits or None) at the low resolution."""
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


class RowStep(nn.Module):
    """Vertical stack of g_ω for one finished row ``r``, from cached rows above it.

    The cached incremental scheme of Ramachandran et al. 2017 ("Fast Generation for
    Convolutional Autoregressive Models"), as in the pixcolor plugin. Inputs: ``x_row``
    (N, 2, 1, W) the sampled row; ``cond_row`` (N, C, 1, W); ``cache_in`` (N, 2, p0, W)
    input rows ``r-p0 .. r-1``; ``cache_v`` (N, L*c, p, W) rows ``r-p .. r-1`` of every
    gated block's vertical input. Outputs ``above`` (N, V, W), what row ``r + 1``
    receives from the vertical stack, and the updated caches.
    """

    def __init__(self, net: PixelCNN):
        super().__init__()
        self.net = net

    def forward(self, x_row, cond_row, cache_in, cache_v):
        net = self.net
        p0, p, c = net.p0, net.p, net.channels
        window = torch.cat([cache_in, x_row], dim=2)
        v = net.v_in(F.pad(window, (p0, p0, 0, 0)))
        above = [net.v2h_in(v)]
        new_v = []
        for i in range(net.layers):
            window = torch.cat([cache_v[:, i * c : (i + 1) * c], v], dim=2)
            new_v.append(window[:, :, 1:])
            vf = net.v_conv[i](F.pad(window, (p, p, 0, 0)))
            above.append(net.v2h[i](vf))
            v = _gate(vf + net.v_cond[i](cond_row))
        new_in = torch.cat([cache_in, x_row], dim=2)[:, :, 1:]
        return torch.cat(above, dim=1)[:, :, 0], new_in, torch.cat(new_v, dim=1)


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

    @staticmethod
    def _pixel(conv: nn.Conv2d, x: torch.Tensor) -> torch.Tensor:
        """1x1 convolution of (N, C) pixels as a matrix product."""
        return F.linear(x, conv.weight[:, :, 0, 0], conv.bias)

    def forward(self, cache_x, cache_h, above, cond, gumbel, uniform, temperature):
        net = self.net
        c = net.channels
        pix = self._pixel
        h = F.conv1d(cache_x, net.h_in.weight[:, :, 0], net.h_in.bias)[:, :, 0] + above[:, :c]
        new_h = []
        for i in range(net.layers):
            window = torch.cat([cache_h[:, i * c : (i + 1) * c], h[:, :, None]], dim=2)
            new_h.append(window[:, :, 1:])
            conv = net.h_conv[i]
            hf = F.conv1d(window, conv.weight[:, :, 0], conv.bias)[:, :, 0]
            start = c + 2 * c * i
            hf = hf + above[:, start : start + 2 * c] + pix(net.h_cond[i], cond)
            h = h + pix(net.h_out[i], _gate(hf))
        feats = F.elu(pix(net.head, F.elu(h)) + pix(net.head_cond, cond))
        params = pix(net.out, feats)[:, :, None, None]
        value = mixture_sample(
            params, gumbel[:, :, None, None], uniform[:, :, None, None], temperature, m=net.m
        )
        value = value[:, :, 0, 0]
        new_x = torch.cat([cache_x, value[:, :, None]], dim=2)[:, :, 1:]
        return value, new_x, torch.cat(new_h, dim=1)
