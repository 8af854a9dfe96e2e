"""Training recipes of the four Table 1 variants (torch; used by ``colorize train`` / ``export``).

Registered through the ``register_training_recipes`` hook (see :mod:`training.recipe`).
The trainer hands every recipe Lab batches (``lightness`` L*, ``chroma`` a, b, ``rgb``);
the network's input is L* for all variants, and the hue/chroma targets are computed
from ``rgb`` with the bicone of Sec. 3.1 at the sampled pixels.

References
----------
Larsson et al. 2016, Sec. 3.2 (Eqs. 1-3), Sec. 3.5 (128 sparse hypercolumns per image).
"""

from __future__ import annotations

import json
import math
from typing import Any

import torch
from torch.nn import functional as F

from colorize_larsson import __version__
from colorize_larsson.model import HypercolumnNet
from colorize_larsson.variants import LAMBDA_HUE, VARIANTS, Variant
from training.lab import rgb_to_lab
from training.recipe import ExportGraph, Recipe

__all__ = [
    "LarssonRecipe",
    "hue_chroma_loss",
    "huechroma",
    "lab_joint",
    "lab_l2",
    "lab_marginal",
    "rgb_to_hue_chroma",
]

#: Regression outputs are Lab a, b divided by this.
AB_SCALE = 100.0


# -- colour helpers (torch mirrors of core.colorspaces, tested against them) ------------


def rgb_to_hue_chroma(rgb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Bicone hue in [0, 1) and chroma ``max - min`` of (..., 3) sRGB (Sec. 3.1).

    Same definition as ``core.colorspaces.huechroma.rgb_to_huechroma`` (hue 0 for gray).
    """
    r, g, b = rgb.unbind(-1)
    high = torch.maximum(torch.maximum(r, g), b)
    low = torch.minimum(torch.minimum(r, g), b)
    chroma = high - low
    sixths = torch.where(
        high == r, g - b, torch.where(high == g, (b - r) + 2 * chroma, (r - g) + 4 * chroma)
    )
    hue = torch.where(chroma > 0, sixths / chroma.clamp_min(1e-12), torch.zeros_like(chroma)) / 6
    hue = hue + (hue < 0).to(hue.dtype)
    hue = torch.where(hue >= 1, torch.zeros_like(hue), hue)
    return hue, chroma


def hue_chroma_to_rgb(gray: torch.Tensor, hue: torch.Tensor, chroma: torch.Tensor) -> torch.Tensor:
    """Bicone (L, H, C) -> sRGB (..., 3), chroma clamped into the bicone at lightness L."""
    chroma = torch.minimum(chroma, 2 * torch.minimum(gray, 1 - gray).clamp_min(0))
    high = gray + chroma / 2
    out = []
    for n in (5.0, 3.0, 1.0):
        k = torch.remainder(n + 6 * hue, 6)
        out.append(high - chroma * torch.clamp(torch.minimum(k, 4 - k), 0, 1))
    return torch.stack(out, dim=-1)


def lightness_to_gray(lightness: torch.Tensor) -> torch.Tensor:
    """sRGB value of the gray with CIE L* ``lightness`` (0-100)."""
    fy = (lightness + 16) / 116
    y = torch.where(fy > 6 / 29, fy**3, 3 * (6 / 29) ** 2 * (fy - 4 / 29))
    y = y.clamp(0, 1)
    return torch.where(y > 0.0031308, 1.055 * y.clamp_min(1e-12) ** (1 / 2.4) - 0.055, 12.92 * y)


def encode(values: torch.Tensor, bins) -> torch.Tensor:
    """Hard bin index of ``values`` (same rule as ``core.binning.Bins.encode``)."""
    if bins.circular:
        width = bins.period / bins.k
        return torch.remainder(torch.floor((values - bins.low) / width), bins.k).long()
    inner = torch.tensor(bins.edges[1:-1].copy(), dtype=values.dtype, device=values.device)
    return torch.bucketize(values.contiguous(), inner, right=True)


# -- losses ------------------------------------------------------------------------------


def hue_chroma_loss(
    hue_logits: torch.Tensor,
    chroma_logits: torch.Tensor,
    hue_index: torch.Tensor,
    chroma_index: torch.Tensor,
    chroma_value: torch.Tensor,
    lambda_hue: float = LAMBDA_HUE,
) -> torch.Tensor:
    """Eq. 3: ``KL(y_C || f_C) + lambda_H y_C KL(y_H || f_H)``, averaged over pixels.

    With one-hot targets (R = 1, Sec. 3.2) each KL is the log loss. Logits are
    (M, K) with the bins last, indices and ``chroma_value`` (y_C in [0, 1]) are (M,).
    """
    chroma_term = F.cross_entropy(chroma_logits, chroma_index, reduction="none")
    hue_term = F.cross_entropy(hue_logits, hue_index, reduction="none")
    return (chroma_term + lambda_hue * chroma_value * hue_term).mean()


def _bins_last(logits: torch.Tensor) -> torch.Tensor:
    """(N, K, S) or (N, K, H, W) -> (M, K)."""
    return logits.flatten(2).transpose(1, 2).reshape(-1, logits.shape[1])


def _gather(image: torch.Tensor, positions: torch.Tensor | None) -> torch.Tensor:
    """(N, C, H, W) -> (N, C, S) at positions (N, S, 2), or (N, C, H*W) if dense."""
    if positions is None:
        return image.flatten(2)
    n, c, h, w = image.shape
    flat = positions[..., 0] * w + positions[..., 1]  # (N, S)
    return torch.gather(image.flatten(2), 2, flat[:, None, :].expand(n, c, flat.shape[1]))


class LarssonRecipe(Recipe):
    """One Table 1 variant (see :mod:`colorize_larsson.variants`).

    Options (config ``[options]``): ``widths`` (4 block widths), ``fc_width``,
    ``hidden`` (``h_fc1`` width) and ``samples`` (sparse hypercolumns per image).
    """

    colorspace = "lab"  # what the trainer feeds (L* in, Lab/rgb targets)
    working_size = 96
    size_multiple = 16
    option_names = ("widths", "fc_width", "hidden", "samples")
    defaults: dict[str, Any] = {
        "steps": 2000,
        "batch_size": 32,
        "lr": 1e-3,
        "optimizer": "adam",
        "schedule": "cosine",
        "warmup_steps": 50,
        "crop": 64,
        "scale": [0.5, 1.0],
        "cache_size": 96,
        "val_images": 50,
        "val_every": 250,
        "ckpt_every": 100,
        "log_every": 20,
    }

    def __init__(self, variant: Variant):
        self.variant = variant
        self.name = variant.name

    def build_model(self, options: dict[str, Any]) -> HypercolumnNet:
        kwargs: dict[str, Any] = {}
        if "widths" in options:
            kwargs["widths"] = tuple(int(w) for w in options["widths"])
        for key in ("fc_width", "hidden", "samples"):
            if key in options:
                kwargs[key] = int(options[key])
        return HypercolumnNet(self.variant.channels, **kwargs)

    # -- targets and loss -------------------------------------------------------

    def targets(self, batch: dict[str, torch.Tensor], positions: torch.Tensor | None):
        """Per-head targets (M,) at the sampled (or all) pixels."""
        v = self.variant
        if v.loss == "hue-chroma":
            rgb = _gather(batch["rgb"], positions).transpose(1, 2).reshape(-1, 3)
            hue, chroma = rgb_to_hue_chroma(rgb)
            hue_bins, chroma_bins = (h.bins for h in v.heads)
            return {
                "hue": encode(hue, hue_bins),
                "chroma": encode(chroma, chroma_bins),
                "chroma_value": chroma,
            }
        ab = _gather(batch["chroma"], positions).transpose(1, 2).reshape(-1, 2)
        if v.loss == "marginal":
            return {h.channel: encode(ab[:, i], h.bins) for i, h in enumerate(v.heads)}
        if v.loss == "joint":
            first, second = v.heads[0].bins
            return {"ab": encode(ab[:, 0], first) * second.k + encode(ab[:, 1], second)}
        return {"ab": ab / AB_SCALE}

    def loss(self, output: Any, batch: dict[str, torch.Tensor]):
        logits, positions = output if isinstance(output, tuple) else (output, None)
        v = self.variant
        y = self.targets(batch, positions)
        flat = _bins_last(logits)
        parts = {name: flat[:, s] for name, s in v.slices().items()}
        if v.loss == "hue-chroma":
            loss = hue_chroma_loss(
                parts["hue"], parts["chroma"], y["hue"], y["chroma"], y["chroma_value"]
            )
            acc = (parts["chroma"].argmax(1) == y["chroma"]).float().mean()
            return loss, {"chroma_accuracy": float(acc)}
        if v.loss == "l2":
            return (parts["ab"] - y["ab"]).pow(2).sum(1).mean(), {}
        loss = sum(F.cross_entropy(parts[name], y[name]) for name in parts)
        acc = sum((parts[n].argmax(1) == y[n]).float().mean() for n in parts) / len(parts)
        return loss, {"accuracy": float(acc)}

    # -- validation point estimate ------------------------------------------------

    def predict_chroma(self, output: torch.Tensor, statistics: dict | None = None) -> torch.Tensor:
        """Lab a, b (N, 2, H, W) from dense logits, for validation only.

        Lab histograms: expectation; hue/chroma: circular expectation (Eq. 4) with
        chromatic fading (Eq. 5) and the chroma expectation, converted to Lab at the
        input's L* (``output.lightness``, attached by ``HypercolumnNet.forward`` in eval mode).
        The shipped decoders are the core's (``core.decoders``).
        """
        v = self.variant
        if v.loss == "l2":
            return output * AB_SCALE
        s = v.slices()
        if v.loss == "marginal":
            outs = []
            for head in v.heads:
                p = output[:, s[head.channel]].softmax(1)
                centers = torch.as_tensor(head.bins.centers, dtype=p.dtype, device=p.device)
                outs.append((p * centers[None, :, None, None]).sum(1))
            return torch.stack(outs, 1)
        if v.loss == "joint":
            first, second = v.heads[0].bins
            p = output.softmax(1).reshape(output.shape[0], first.k, second.k, *output.shape[2:])
            ca = torch.as_tensor(first.centers, dtype=p.dtype, device=p.device)
            cb = torch.as_tensor(second.centers, dtype=p.dtype, device=p.device)
            a = (p.sum(2) * ca[None, :, None, None]).sum(1)
            b = (p.sum(1) * cb[None, :, None, None]).sum(1)
            return torch.stack([a, b], 1)
        raise ValueError(f"{v.loss}: point estimates of this head come from HueChromaRecipe")

    def export_graphs(self, model: torch.nn.Module, info: dict[str, Any]) -> list[ExportGraph]:
        v = self.variant
        heads = []
        for head in v.heads:
            entry: dict[str, Any] = {
                "channel": head.channel,
                "width": head.width,
                "slice": [v.slices()[head.channel].start, v.slices()[head.channel].stop],
            }
            if head.bins is not None:
                entry["bins"] = head.bins.to_dict()
            heads.append(entry)
        metadata = {
            "method": self.name,
            "plugin": "colorize-larsson",
            "version": __version__,
            "colorspace": "lab",
            "distribution_space": v.space,
            "working_size": self.working_size,
            "size_multiple": self.size_multiple,
            "input": {"lightness": "(N, 1, H, W) float32, CIE L* in [0, 100]"},
            "output": {
                "logits": f"(N, {v.channels}, H, W): "
                + ("Lab a, b / 100" if v.loss == "l2" else "logits of the heads' histograms")
            },
            "heads": heads,
            "loss": v.loss,
            "lambda_hue": LAMBDA_HUE if v.loss == "hue-chroma" else None,
            "dense_hypercolumns": "factorized",
            "training": info,
        }
        module = model.module if hasattr(model, "module") else model
        module.dense = "factorized"
        example = {"lightness": torch.rand(1, 1, 96, 128) * 100}
        return [
            ExportGraph(
                filename=f"{self.name}.onnx",
                module=_DenseOnly(module),
                inputs=example,
                output_names=["logits"],
                dynamic_axes={"lightness": {0: "batch", 2: "height", 3: "width"}},
                metadata={k: json.dumps(val) for k, val in metadata.items()},
            )
        ]


class _DenseOnly(torch.nn.Module):
    """The dense (factorized) inference path, whatever the wrapped module's mode."""

    def __init__(self, net: HypercolumnNet):
        super().__init__()
        self.net = net

    def forward(self, lightness: torch.Tensor) -> torch.Tensor:
        return self.net.predict_dense(lightness, "factorized")


class HueChromaRecipe(LarssonRecipe):
    """The hue/chroma variant; validation decodes at the batch's lightness."""

    def predict_chroma(self, output: torch.Tensor, statistics: dict | None = None) -> torch.Tensor:
        lightness = getattr(output, "lightness", None)
        s = self.variant.slices()
        hue_p = output[:, s["hue"]].softmax(1)
        chroma_p = output[:, s["chroma"]].softmax(1)
        k = hue_p.shape[1]
        theta = 2 * math.pi * (torch.arange(k, dtype=hue_p.dtype) + 0.5) / k
        zr = (hue_p * torch.cos(theta)[None, :, None, None]).mean(1)
        zi = (hue_p * torch.sin(theta)[None, :, None, None]).mean(1)
        hue = torch.remainder(torch.atan2(zi, zr) / (2 * math.pi), 1.0)
        centers = torch.as_tensor(self.variant.heads[1].bins.centers, dtype=hue_p.dtype)
        chroma = (chroma_p * centers[None, :, None, None]).sum(1)
        chroma = chroma * torch.clamp(torch.sqrt(zr**2 + zi**2) / 0.03, max=1.0)
        if lightness is None:
            raise ValueError("hue/chroma validation needs the input lightness")
        light = lightness[:, 0]
        rgb = hue_chroma_to_rgb(lightness_to_gray(light), hue, chroma)
        lab = rgb_to_lab(rgb.permute(0, 3, 1, 2))
        return lab[:, 1:]


huechroma = HueChromaRecipe(VARIANTS["larsson"])
lab_marginal = LarssonRecipe(VARIANTS["larsson-lab"])
lab_joint = LarssonRecipe(VARIANTS["larsson-lab-joint"])
lab_l2 = LarssonRecipe(VARIANTS["larsson-lab-l2"])
