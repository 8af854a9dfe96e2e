"""The four output variants of Larsson et al. Table 1 (no torch: shared by training and inference).

Each variant names its output channels and their bins. The network emits one
tensor ``logits`` of shape (N, C, H, W); a variant's heads are consecutive
channel slices of it:

=====================  =========  ======================  ==========================
method                 space      heads (channels)        loss
=====================  =========  ======================  ==========================
``larsson``            huechroma  hue 32, chroma 32       Eq. 3 (lambda_H = 5)
``larsson-lab``        lab        a 32, b 32              Eq. 2 per channel, summed
``larsson-lab-joint``  lab        ab 16 x 16 = 256        Eq. 2 over the joint grid
``larsson-lab-l2``     lab        a, b values (2)         Eq. 1 (L2 regression)
=====================  =========  ======================  ==========================

References
----------
G. Larsson, M. Maire, G. Shakhnarovich. Learning Representations for Automatic
Colorization. ECCV 2016, Sec. 3.2 (Eqs. 1-3), Table 1.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.binning import CHROMA_BINS, HUE_BINS, LAB_AB_BINS, LAB_JOINT_BINS, Bins, JointBins

__all__ = ["Head", "Variant", "VARIANTS", "LAMBDA_HUE"]

#: Weight of the chroma-weighted hue term of Eq. 3 ("roughly the inverse expectation of y_C").
LAMBDA_HUE = 5.0


@dataclass(frozen=True)
class Head:
    """One output head: ``channel`` name, its bins (None for regression) and its width."""

    channel: str
    bins: Bins | JointBins | None
    width: int


@dataclass(frozen=True)
class Variant:
    """One row of Table 1: method name, the colour space of its targets, its heads and loss."""

    name: str
    space: str  # "huechroma" or "lab": the space the histograms live in
    heads: tuple[Head, ...]
    loss: str  # "hue-chroma", "marginal", "joint", "l2"
    default_decoder: str | None
    description: str

    @property
    def channels(self) -> int:
        """Total output channels of the network."""
        return sum(h.width for h in self.heads)

    @property
    def histogram(self) -> bool:
        return self.loss != "l2"

    def slices(self) -> dict[str, slice]:
        """Channel slice of each head inside ``logits``."""
        out, start = {}, 0
        for head in self.heads:
            out[head.channel] = slice(start, start + head.width)
            start += head.width
        return out


VARIANTS: dict[str, Variant] = {
    v.name: v
    for v in (
        Variant(
            "larsson",
            "huechroma",
            (Head("hue", HUE_BINS, HUE_BINS.k), Head("chroma", CHROMA_BINS, CHROMA_BINS.k)),
            "hue-chroma",
            "hue=expectation+fading,chroma=median",
            "Hypercolumn CNN predicting hue and chroma histograms (Larsson et al. 2016, "
            "their best variant); returns distributions and an uncertainty map",
        ),
        Variant(
            "larsson-lab",
            "lab",
            (Head("a", LAB_AB_BINS, LAB_AB_BINS.k), Head("b", LAB_AB_BINS, LAB_AB_BINS.k)),
            "marginal",
            "expectation",
            "Hypercolumn CNN predicting Lab a and b marginal histograms (32 Gaussian-quantile "
            "bins each; Larsson et al. 2016)",
        ),
        Variant(
            "larsson-lab-joint",
            "lab",
            (Head("ab", LAB_JOINT_BINS, LAB_JOINT_BINS.k),),
            "joint",
            "expectation",
            "Hypercolumn CNN predicting a joint 16x16 Lab (a, b) histogram (Larsson et al. 2016)",
        ),
        Variant(
            "larsson-lab-l2",
            "lab",
            (Head("ab", None, 2),),
            "l2",
            None,
            "Hypercolumn CNN regressing Lab a, b with an L2 loss (Larsson et al. 2016, Eq. 1)",
        ),
    )
}
