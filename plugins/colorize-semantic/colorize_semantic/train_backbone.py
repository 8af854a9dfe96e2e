"""Training and export of the ``semantic`` flows over the shared gray backbone (torch).

Issue #20: the shared bottom of Zhao et al. 2019 (gray rows of Tables 1-2) becomes
:class:`colorize_semantic.model.BackboneBottom` over the frozen, gray-adapted
EfficientNet-Lite0 of :mod:`core.backbones` (the paper's §4: a pretrained network is the
better start). f_θ, h_φ and g_ω are as in :mod:`colorize_semantic.train`, trained with the
same joint loss (Eq. 6, λ = 1 : 100 : 1), Adam (lr 1e-3, β = (0.95, 0.9995), §4.1), Polyak
averaging, warm-up and cosine decay, gradient clipping -- but from the backbone's cached
features (:mod:`colorize_semantic.features`) of whole CamVid photos at the working shape
(256 x 352, chroma grid 32 x 44; mirrored copies are the augmentation), not from crops::

    python -m colorize_semantic.features --split $COLORIZE_DATA/camvid/train.txt \
        --out runs/semantic-bb/train --flip
    python -m colorize_semantic.features --split $COLORIZE_DATA/camvid/val.txt \
        --out runs/semantic-bb/val
    python -m colorize_semantic.train_backbone fit --cache runs/semantic-bb/train \
        --val runs/semantic-bb/val --variant full --out runs/semantic-bb-full --steps 3000
    python -m colorize_semantic.train_backbone export runs/semantic-bb-full/last.ckpt \
        --out plugins/colorize-semantic/colorize_semantic/models
"""

from __future__ import annotations

import argparse
import copy
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.nn import functional as F

from colorize_semantic import (
    AB_SCALE,
    BACKBONE,
    BB_GRID_STRIDE,
    BB_LEVELS,
    BB_WORKING_SIZE,
    LEVELS,
    N_CLASSES,
    VOID_LABEL,
)
from colorize_semantic.features import load_cache
from colorize_semantic.model import BackboneEncoderGraph, SemanticModel, quantize
from colorize_semantic.train import export_graphs, fit_averaged, output_losses
from training.hypercolumn import CachedLevels
from training.pixelcnn import apply_arguments, cache_cli

__all__ = ["DEFAULTS", "CachedBatches", "export", "main", "mean_iou", "model_from_onnx", "train"]

DEFAULTS: dict[str, Any] = {
    "variant": "full",
    "steps": 3000,
    "batch_size": 6,
    "lr": 1e-3,
    "betas": [0.95, 0.9995],
    "lambdas": [1.0, 100.0, 1.0],
    "polyak": 0.998,
    "ckpt_every": 100,
    "keep_every": 500,
    "log_every": 20,
    "seed": 0,
    "threads": 1,
    "max_minutes": None,
    "model": {
        "widths": [16, 32, 48],
        "width": 48,
        "embedding": 32,
        "channels": 32,
        "layers": 4,
        "bottom": "backbone",
        "proj": 32,
    },
}


class CachedBatches(CachedLevels):
    """Batches of a feature cache (:func:`colorize_semantic.features.load_cache`) in RAM:
    levels, chroma levels ``x`` and, where the cache has them, labels."""

    def __init__(self, folder: Path, seed: int = 0):
        cache = load_cache(folder)
        super().__init__(folder, cache["meta"], cache["levels"], BACKBONE, seed)
        self.ab = np.ascontiguousarray(cache["ab"])
        self.labels = np.ascontiguousarray(cache["labels"]) if "labels" in cache else None

    def take(self, index: np.ndarray) -> dict[str, Any]:
        """Rows ``index`` as training tensors: levels (float32), levels ``x``, labels."""
        out: dict[str, Any] = {
            "inputs": self.level_tensors(index),
            "x": quantize(torch.from_numpy(self.ab[index]) / AB_SCALE, LEVELS),
        }
        if self.labels is not None:
            out["labels"] = torch.from_numpy(self.labels[index].astype(np.int64))
        return out


def mean_iou(confusion: np.ndarray) -> float:
    """Mean over classes of TP / (TP + FP + FN) from a (classes, classes) confusion matrix
    (rows: truth); classes absent from both truth and prediction are left out."""
    tp = np.diag(confusion).astype(np.float64)
    union = confusion.sum(0) + confusion.sum(1) - tp
    keep = union > 0
    return float(np.mean(tp[keep] / union[keep])) if keep.any() else 0.0


def _losses(model: SemanticModel, batch: dict[str, Any], lambdas):
    return output_losses(model(batch["inputs"], batch["x"]), batch, lambdas)


@torch.no_grad()
def validate(model: SemanticModel, data: CachedBatches, lambdas, chunk: int = 8) -> dict:
    """Mean loss parts over every row of ``data`` and, with labels, mean IoU at the label
    resolution (half the working shape)."""
    model.eval()
    parts, confusion = [], np.zeros((N_CLASSES, N_CLASSES), np.int64)
    for start in range(0, data.rows, chunk):
        batch = data.take(np.arange(start, min(data.rows, start + chunk)))
        out = model(batch["inputs"], batch["x"])
        _, p = output_losses(out, batch, lambdas)
        parts.append((p, len(batch["x"])))
        if out["seg_logits"] is not None and "labels" in batch:
            labels = batch["labels"]
            up = F.interpolate(out["seg_logits"], size=labels.shape[-2:], mode="bilinear",
                               align_corners=False)
            pred, keep = up.argmax(1), labels != VOID_LABEL
            index = labels[keep] * N_CLASSES + pred[keep]
            confusion += np.bincount(index.numpy(), minlength=N_CLASSES**2).reshape(
                N_CLASSES, N_CLASSES
            )
    total = sum(n for _, n in parts)
    mean = {k: sum(p[k] * n for p, n in parts) / total for k in parts[0][0]}
    if confusion.any():
        mean["miou"] = mean_iou(confusion)
    model.train()
    return mean


def train(args: argparse.Namespace) -> dict[str, Any]:
    """Train one variant from the caches (module doc); returns the final log record."""
    config = apply_arguments(copy.deepcopy(DEFAULTS), args,
                             ("variant", "steps", "batch_size", "seed", "max_minutes", "lr"))
    out = Path(args.out or f"runs/semantic-bb-{config['variant']}")
    torch.set_num_threads(int(config["threads"]))
    data = CachedBatches(args.cache, config["seed"])
    val = CachedBatches(args.val, config["seed"]) if args.val else None
    extra = CachedBatches(args.extra_cache, config["seed"] + 1) if args.extra_cache else None
    torch.manual_seed(config["seed"])
    model = SemanticModel(config["variant"], **config["model"])
    if args.init and (args.init.suffix == ".onnx" or args.init.is_dir()):
        model = model_from_onnx(args.init, config["variant"], config["model"])
    elif args.init:
        model.load_state_dict(torch.load(args.init, weights_only=True)["model"])
    lambdas = tuple(config["lambdas"])
    sources = [data.meta["split"]] + ([extra.meta["split"]] if extra else [])
    info = {"train": {"images": data.rows + (extra.rows if extra else 0), "sources": sources},
            "val": {"images": val.rows, "sources": [val.meta["split"]]} if val else None}

    def batch_loss(step: int):
        loss, parts = _losses(model, data.batch(step, config["batch_size"]), lambdas)
        if extra is not None:  # unlabelled photos: L_emb and L_gen only (no labels, no L_seg)
            more, more_parts = _losses(model, extra.batch(step, config["batch_size"]), lambdas)
            loss = loss + more
            parts = {**parts, **{f"extra_{k}": v for k, v in more_parts.items()}}
            parts["loss"] = loss.item()
        return loss, parts

    return fit_averaged(
        config,
        out,
        model,
        resume=bool(args.resume),
        batch_loss=batch_loss,
        validate=lambda average: validate(average, val, lambdas) if val else {},
        data=info,
        desc=f"train semantic-bb-{config['variant']}",
        progress=not args.no_progress,
        backbone=BACKBONE,
    )


def model_from_onnx(
    where: str | Path, variant: str = "full", model_config: dict[str, Any] | None = None
) -> SemanticModel:
    """A trainable :class:`SemanticModel` that computes what a variant's shipped graphs compute.

    ``where`` is a models folder, or one of the variant's graphs in it
    (``semantic-<variant>-encoder.onnx``). The export keeps the encoder's parameters under
    ``model.*`` and the PixelCNN's under ``net.*``; they are loaded by name. Only the
    parameters that no shipped output depends on stay as initialised: the embedding head of
    the L_emb loss (training only) and the conditioning of the last vertical-stack layer
    (its output feeds nothing). So a later session continues training from the shipped
    graphs without the checkpoint (``fit --init DIR``).
    """
    from training.onnx_init import load_graph_parameters

    folder = Path(where)
    if folder.suffix == ".onnx":
        folder, variant = folder.parent, folder.name.split("-")[1]
    model = SemanticModel(variant, **(model_config or DEFAULTS["model"]))
    graphs = [folder / f"semantic-{variant}-{part}.onnx"
              for part in ("encoder", "pixelcnn", "row", "pixel")]
    last = f"pixelcnn.v_cond.{model.pixelcnn.layers - 1}."
    return load_graph_parameters(model, graphs, {"model": "", "net": "pixelcnn."},
                                 unused=("embedding.head.", last))


# -- export ---------------------------------------------------------------------------


def export(checkpoint_path: str | Path, out: str | Path, tolerance: float = 1e-3) -> list[Path]:
    """Export a backbone checkpoint's four graphs into ``out`` and record them in the
    manifest: the encoder over the backbone's levels (ONNX Runtime against torch at two
    sizes of tied levels) and the PixelCNN graphs of :func:`colorize_semantic.train.export`,
    each with the backbone geometry in its metadata."""
    from colorize_semantic.train import load
    from onnx_export.export import training_summary
    from onnx_export.manifest import update_manifest
    from training.hypercolumn import over_backbone
    from training.pixelcnn import export_checkpoint_graphs

    model, ckpt = load(checkpoint_path)
    if model.bottom_kind != "backbone":
        raise ValueError(f"{checkpoint_path}: not a checkpoint over the backbone")
    graphs = over_backbone(
        export_graphs(model, training_summary(ckpt)), BackboneEncoderGraph(model),
        backbone=BACKBONE, levels=BB_LEVELS, working_size=BB_WORKING_SIZE,
        grid_stride=BB_GRID_STRIDE,
    )
    paths, entry = export_checkpoint_graphs(graphs, Path(out), ckpt, tolerance)
    entry["backbone"] = BACKBONE
    update_manifest(Path(out), paths, methods={f"semantic-{model.variant}": entry})
    return paths


def _fit_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--variant", choices=("plain", "embedding", "full"))
    parser.add_argument("--extra-cache", type=Path,
                        help="cache of unlabelled photos: each step adds their L_emb + L_gen")
    parser.add_argument("--init", type=Path,
                        help="start from this checkpoint's averaged weights, or from the "
                        "shipped graphs (a models folder or one of its .onnx files)")


def main(argv: list[str] | None = None) -> int:
    return cache_cli("python -m colorize_semantic.train_backbone", argv, train=train,
                     export=export, fit_help="train one variant from the feature caches",
                     fit_arguments=_fit_arguments)


if __name__ == "__main__":
    sys.exit(main())
