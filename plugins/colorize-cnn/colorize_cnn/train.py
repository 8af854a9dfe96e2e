"""Training recipes of the CNN loss study (torch; used by ``colorize train`` / ``export``).

Registered through the ``register_training_recipes`` hook (``colorize_cnn.plugin``); see
:mod:`training.recipe` for the interface.
"""

from __future__ import annotations

import json
from typing import Any

import torch
from torch.nn import functional as F

from colorize_cnn import __version__
from colorize_cnn.model import ColorCNN
from training.recipe import ExportGraph, Recipe

__all__ = ["AB_BINS", "CNNRecipe", "classification", "regression", "smoothl1"]

#: The report's bins: 10 uniform bins of width 20 over [-100, 100] per channel
#: (the same as ``core.binning.CNN_AB_BINS``); values outside go to the end bins.
AB_BINS = {"low": -100.0, "high": 100.0, "count": 10}

CITATION = (
    "CNN colorization loss study (L2, smooth L1, dropout, cross-entropy over 10 uniform "
    "ab bins; 9-layer CNN on 64x64 Lab lightness). See MODEL_CARD.md."
)


def ab_bins(low: float = AB_BINS["low"]) -> dict[str, float]:
    """The bin layout with its lowest edge at ``low``: 10 bins of width 20 from there."""
    count = AB_BINS["count"]
    width = (AB_BINS["high"] - AB_BINS["low"]) / count
    return {"low": float(low), "high": float(low) + width * count, "count": count}


def ab_to_bins(chroma: torch.Tensor, spec: dict = AB_BINS) -> torch.Tensor:
    """Bin index per channel (report's ``bin()``): (N, 2, H, W) Lab a, b -> int64."""
    width = (spec["high"] - spec["low"]) / spec["count"]
    index = torch.floor((chroma - spec["low"]) / width)
    return index.clamp(0, spec["count"] - 1).long()


def bin_centers(device: torch.device | None = None, spec: dict = AB_BINS) -> torch.Tensor:
    width = (spec["high"] - spec["low"]) / spec["count"]
    return spec["low"] + width * (torch.arange(spec["count"], device=device) + 0.5)


class CNNRecipe(Recipe):
    """One loss of the study: ``"l2"``, ``"smoothl1"`` or ``"cross-entropy"``.

    Options (config ``[options]``): ``dropout`` (report 4.2.7: 0.4 after every
    batch norm; default 0), ``widths`` (the nine layer widths) and ``bins_low``
    (classification: the lowest bin edge; the report's -100 puts an edge at 0, so
    no bin can decode a neutral pixel to a = b = 0; -110 keeps 10 bins of width 20
    but centres one bin, [-10, 10), on the neutral axis; see MODEL_CARD.md).
    """

    colorspace = "lab"
    working_size = 64
    size_multiple = 4
    option_names = ("dropout", "widths", "bins_low")
    defaults: dict[str, Any] = {
        "steps": 2000,
        "batch_size": 64,
        "lr": 1e-3,
        "optimizer": "adam",
        "schedule": "step",
        "milestones": [0.75],
        "gamma": 0.1,
        "crop": 64,
        "scale": [0.5, 1.0],
        "cache_size": 96,
        "val_every": 500,
        "ckpt_every": 500,
    }

    def __init__(self, name: str, loss: str):
        if loss not in ("l2", "smoothl1", "cross-entropy"):
            raise ValueError(f"unknown loss {loss!r}")
        self.name = name
        self.loss_kind = loss
        self.head = "classification" if loss == "cross-entropy" else "regression"
        self.ab_bins = dict(AB_BINS)  # set from the options by build_model

    def build_model(self, options: dict[str, Any]) -> ColorCNN:
        self.ab_bins = ab_bins(float(options.get("bins_low", AB_BINS["low"])))
        kwargs: dict[str, Any] = {"head": self.head, "n_bins": AB_BINS["count"]}
        if "widths" in options:
            kwargs["widths"] = tuple(int(w) for w in options["widths"])
        return ColorCNN(dropout=float(options.get("dropout", 0.0)), **kwargs)

    def loss(self, output: torch.Tensor, batch: dict[str, torch.Tensor]):
        target = batch["chroma"]
        if self.loss_kind == "l2":
            return F.mse_loss(output, target), {}
        if self.loss_kind == "smoothl1":
            return F.smooth_l1_loss(output, target, beta=1.0), {}
        # logits (N, 2, K, H, W) -> class dimension second, as cross_entropy expects
        bins = ab_to_bins(target, self.ab_bins)
        loss = F.cross_entropy(output.transpose(1, 2), bins)
        accuracy = (output.argmax(dim=2) == bins).float().mean()
        return loss, {"accuracy": float(accuracy)}

    def predict_chroma(self, output: torch.Tensor, statistics: dict | None = None) -> torch.Tensor:
        if self.head == "regression":
            return output
        index = output.argmax(dim=2)  # (N, 2, H, W): the report's mode decoding
        if statistics and statistics.get("bin_means"):
            means = torch.tensor(
                [statistics["bin_means"]["a"], statistics["bin_means"]["b"]], device=output.device
            )
            return torch.stack([means[c][index[:, c]] for c in range(2)], dim=1)
        return bin_centers(output.device, self.ab_bins)[index]

    def data_statistics(self, batches) -> dict[str, Any]:
        """Mean a, b of the training crops, and the mean value inside each bin.

        The report's ``unbin()`` returns "the mean value of the pixels contained in
        that bin" (section 4.2.2); the shipped graph records these means as the bin
        centres, so the core's mode decoder reproduces it.
        """
        k = self.ab_bins["count"]
        sums = torch.zeros(2, k, dtype=torch.float64)
        counts = torch.zeros(2, k, dtype=torch.float64)
        total = torch.zeros(2, dtype=torch.float64)
        pixels = 0
        for batch in batches:
            chroma = batch["chroma"].detach().cpu().double()
            bins = ab_to_bins(chroma, self.ab_bins)
            for c in range(2):
                sums[c].index_add_(0, bins[:, c].reshape(-1), chroma[:, c].reshape(-1))
                counts[c].index_add_(
                    0, bins[:, c].reshape(-1), torch.ones(bins[:, c].numel(), dtype=torch.float64)
                )
            total += chroma.sum(dim=(0, 2, 3))
            pixels += chroma.shape[0] * chroma.shape[2] * chroma.shape[3]
        width = (self.ab_bins["high"] - self.ab_bins["low"]) / k
        lows = self.ab_bins["low"] + width * torch.arange(k, dtype=torch.float64)
        mids = lows + width / 2
        means = torch.where(counts > 0, sums / counts.clamp_min(1), mids)
        means = torch.minimum(torch.maximum(means, lows), lows + width)  # stay inside the bin
        return {
            "mean_ab": [round(float(v), 3) for v in total / max(pixels, 1)],
            "bin_means": {ch: [round(float(v), 3) for v in means[c]] for c, ch in enumerate("ab")},
            "bin_fractions": {
                ch: [round(float(v), 5) for v in counts[c] / counts[c].sum()]
                for c, ch in enumerate("ab")
            },
            "pixels": pixels,
        }

    def _bins_metadata(self, statistics: dict | None) -> dict | None:
        if self.head != "classification":
            return None
        spec: dict[str, Any] = dict(self.ab_bins)
        if statistics and statistics.get("bin_means"):
            spec["centers"] = statistics["bin_means"]
            spec["centers_are"] = "training-set mean of the values in each bin (report's unbin)"
        return spec

    def export_graphs(self, model: torch.nn.Module, info: dict[str, Any]) -> list[ExportGraph]:
        output = "chroma" if self.head == "regression" else "logits"
        metadata = {
            "method": self.name,
            "plugin": "colorize-cnn",
            "version": __version__,
            "colorspace": self.colorspace,
            "working_size": self.working_size,
            "size_multiple": self.size_multiple,
            "input": {"lightness": "(N, 1, H, W) float32, Lab L in [0, 100]"},
            "output": {
                output: "(N, 2, H, W) Lab a, b"
                if output == "chroma"
                else f"(N, 2, {AB_BINS['count']}, H, W) logits over a, b bins"
            },
            "loss": self.loss_kind,
            "bins": self._bins_metadata(info.get("statistics")),
            "training": info,
        }
        example = {"lightness": torch.rand(1, 1, 64, 96) * 100}
        return [
            ExportGraph(
                filename=f"{self.name}.onnx",
                module=model,
                inputs=example,
                output_names=[output],
                dynamic_axes={"lightness": {0: "batch", 2: "height", 3: "width"}},
                metadata={k: json.dumps(v) for k, v in metadata.items()},
            )
        ]


classification = CNNRecipe("cnn-classification", "cross-entropy")
regression = CNNRecipe("cnn-regression", "l2")
smoothl1 = CNNRecipe("cnn-smoothl1", "smoothl1")
