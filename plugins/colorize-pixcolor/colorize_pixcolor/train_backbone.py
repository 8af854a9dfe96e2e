"""Training and export of PixColor over the shared gray backbone (torch; issue #20).

The conditioning network becomes :class:`colorize_pixcolor.model.BackboneConditioning`:
the frozen gray EfficientNet-Lite0's hypercolumn on the 28 px grid plus the adaptation
convolutions (Guadarrama et al. 2017, §3, Fig. 4: a pretrained ResNet-101 and an
adaptation network). It trains jointly with the PixelCNN as in
:mod:`colorize_pixcolor.train` (teacher forcing, per-pixel cross-entropy over 32 Cr and 32
Cb bins, §3.1; AdamW, warm-up and cosine decay, clipping at 1), but from the cached levels
of 224 x 224 photo crops (:mod:`colorize_pixcolor.features`). The refinement network
(§3.2) does not see the conditioning and is kept as trained::

    python -m colorize_pixcolor.features --data ... --every 20 --out runs/pixcolor-bb/val
    python -m colorize_pixcolor.features --data ... --skip-every 20 --flip \
        --out runs/pixcolor-bb/train
    python -m colorize_pixcolor.train_backbone fit --cache runs/pixcolor-bb/train \
        --val runs/pixcolor-bb/val --out runs/pixcolor-bb-pixelcnn --steps 2500
    python -m colorize_pixcolor.train_backbone export runs/pixcolor-bb-pixelcnn/last.ckpt \
        --out plugins/colorize-pixcolor/colorize_pixcolor/models
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch

from colorize_pixcolor import BACKBONE, BB_GRID_STRIDE, BB_LEVELS, BB_WORKING_SIZE
from colorize_pixcolor.features import load_cache
from colorize_pixcolor.model import BackboneCondGraph, PixColorModel
from colorize_pixcolor.train import pixelcnn as RECIPE
from training.hypercolumn import CachedLevels
from training.pixelcnn import (
    apply_arguments,
    cache_cli,
    checkpoint,
    mean_parts,
    run_loop,
)

__all__ = ["DEFAULTS", "CachedCrops", "export", "main", "model_from_onnx", "train"]

DEFAULTS: dict[str, Any] = {
    "steps": 2500,
    "batch_size": 16,
    "lr": 2e-3,
    "ckpt_every": 100,
    "keep_every": 500,
    "log_every": 20,
    "seed": 0,
    "threads": 1,
    "max_minutes": None,
    "options": {"channels": 32, "layers": 5, "cond": 48, "conditioning": "backbone",
                "proj": 32, "adapt": 64},
}


class CachedCrops(CachedLevels):
    """Rows of a feature cache (:func:`colorize_pixcolor.features.load_cache`) as batches:
    levels and the Cr, Cb bins."""

    def __init__(self, folder: Path, seed: int = 0):
        cache = load_cache(folder)
        super().__init__(folder, cache["meta"], cache["levels"], BACKBONE, seed)
        self.bins = np.ascontiguousarray(cache["bins"])

    def take(self, index: np.ndarray) -> dict[str, Any]:
        bins = torch.from_numpy(self.bins[index].astype(np.int64))
        return {"y": self.level_tensors(index), "cr": bins[:, 0], "cb": bins[:, 1]}


def _loss(model: PixColorModel, batch: dict[str, Any]):
    loss, extras = RECIPE.loss(RECIPE.forward(model, batch), batch)
    return loss, {"loss": loss.item(), **extras}


@torch.no_grad()
def validate(model: PixColorModel, data: CachedCrops, chunk: int = 32) -> dict[str, float]:
    """Mean teacher-forced NLL (Cr, Cb) and Cr bin accuracy over every row of ``data``."""
    model.eval()
    parts = [_loss(model, data.take(np.arange(s, min(data.rows, s + chunk))))[1]
             for s in range(0, data.rows, chunk)]
    model.train()
    return mean_parts(parts)


def train(args: argparse.Namespace) -> dict[str, Any]:
    """Train the conditioning + PixelCNN from the caches; returns the final log record."""
    config = apply_arguments(json.loads(json.dumps(DEFAULTS)), args,
                             ("steps", "batch_size", "seed", "max_minutes", "lr"))
    out = Path(args.out or "runs/pixcolor-bb-pixelcnn")
    torch.set_num_threads(int(config["threads"]))
    data = CachedCrops(args.cache, config["seed"])
    val = CachedCrops(args.val, config["seed"]) if args.val else None
    torch.manual_seed(config["seed"])
    model = PixColorModel(**config["options"])
    if args.init and not (args.resume and (out / "last.ckpt").is_file()):
        model = model_from_onnx(args.init, config["options"])
    optimizer = torch.optim.AdamW(model.parameters(), lr=config["lr"], weight_decay=1e-4)
    step, elapsed = 0, 0.0
    if args.resume and (out / "last.ckpt").is_file():
        ckpt = torch.load(out / "last.ckpt", weights_only=True)
        model.load_state_dict(ckpt["model"])
        optimizer.load_state_dict(ckpt["optimizer"])
        step, elapsed = int(ckpt["step"]), float(ckpt["elapsed"])
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.json").write_text(json.dumps(config, indent=2))
    info = {"train": {"images": data.rows, "sources": sorted({str(Path(p).parent) for p in
                                                              data.meta["photos"]})},
            "val": {"images": val.rows} if val else None}

    def state(step: int, elapsed: float, val_parts: dict[str, float]) -> dict[str, Any]:
        return checkpoint(RECIPE.name, step, elapsed, model, optimizer, config=config,
                          options=config["options"], data=info, val=val_parts,
                          backbone=BACKBONE)

    return run_loop(
        config, out, model=model, optimizer=optimizer, step=step, elapsed=elapsed,
        batch_loss=lambda s: _loss(model, data.batch(s, config["batch_size"])),
        validate=lambda: validate(model, val) if val else {},
        state=state, clip=1.0, lr_floor=0.05, desc="train pixcolor-bb",
        progress=not args.no_progress,
    )


def model_from_onnx(folder: str | Path, options: dict[str, Any] | None = None) -> PixColorModel:
    """A trainable :class:`PixColorModel` that computes what the shipped graphs compute.

    ``folder`` holds ``pixcolor-cond.onnx`` (the conditioning over the backbone, §3) and the
    PixelCNN graphs ``pixcolor-full/row/pixel.onnx`` (§3.1), as :func:`export` writes them;
    their parameters are loaded by name (:func:`training.onnx_init.load_graph_parameters`).
    Only the conditioning of the last vertical-stack layer, which no output depends on,
    stays as initialised. ``fit --init DIR`` continues training from them.
    """
    from training.onnx_init import load_graph_parameters

    model = PixColorModel(**(options or DEFAULTS["options"]))
    folder = Path(folder)
    graphs = [folder / f"pixcolor-{part}.onnx" for part in ("cond", "full", "row", "pixel")]
    last = f"pixelcnn.v_cond.{model.pixelcnn.layers - 1}."
    return load_graph_parameters(model, graphs, {"conditioning": "conditioning.",
                                                 "net": "pixelcnn."}, unused=(last,))


def export(checkpoint_path: str | Path, out: str | Path, tolerance: float = 1e-3) -> list[Path]:
    """Export the conditioning (over the backbone's levels) and the three PixelCNN graphs
    into ``out`` with the backbone geometry in their metadata; the refinement graph
    already there is kept."""
    from onnx_export.export import training_summary
    from onnx_export.manifest import update_manifest
    from training.hypercolumn import over_backbone
    from training.pixelcnn import export_checkpoint_graphs
    from training.trainer import load_checkpoint

    ckpt = load_checkpoint(checkpoint_path)
    model = PixColorModel(**dict(ckpt.get("options") or {}))
    model.load_state_dict(ckpt["model"])
    model.eval()
    if model.conditioning_kind != "backbone":
        raise ValueError(f"{checkpoint_path}: not a checkpoint over the backbone")
    graphs = over_backbone(
        RECIPE.export_graphs(model, training_summary(ckpt)),
        BackboneCondGraph(model.conditioning), backbone=BACKBONE, levels=BB_LEVELS,
        working_size=BB_WORKING_SIZE, grid_stride=BB_GRID_STRIDE, example=(224, 224),
        resized=(160, 288),
    )
    paths, entry = export_checkpoint_graphs(graphs, Path(out), ckpt, tolerance)
    entry["backbone"] = BACKBONE
    update_manifest(Path(out), paths, methods={RECIPE.name: entry})
    return paths


def main(argv: list[str] | None = None) -> int:
    return cache_cli("python -m colorize_pixcolor.train_backbone", argv, train=train,
                     export=export, fit_help="train the conditioning + PixelCNN from the caches",
                     fit_arguments=_fit_arguments)


def _fit_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--init", type=Path, help="start from the shipped graphs (a models "
                        "folder with pixcolor-cond/full/row/pixel.onnx) instead of at random")


if __name__ == "__main__":
    sys.exit(main())
