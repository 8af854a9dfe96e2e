"""Training and export of PixColor (torch; never imported by inference).

Two recipes, trained separately as in the paper:

* ``pixcolor-pixelcnn`` -- conditioning network + conditional PixelCNN, jointly,
  with teacher forcing and per-pixel cross-entropy over 32 Cr and 32 Cb bins
  (Sec. 3.1);
* ``pixcolor-refine`` -- the refinement network, trained on the *ground-truth*
  28 px chroma (quantised to the bin centres the PixelCNN emits), never on
  samples (Sec. 3.2 explains why).

Both are registered through the ``register_training_recipes`` hook. The
generic ``training.trainer.Trainer`` calls ``model(batch["lightness"])`` with Lab
lightness, which cannot feed teacher forcing or YCbCr, so this module has its own
small loop (``training.pixelcnn.run_loop``, shared with the semantic plugin) built
on ``training.data`` (same data handling, deterministic batches, ``--max-minutes``,
atomic checkpoints, ``--resume``)::

    python -m colorize_pixcolor.train pixcolor-pixelcnn --data DIR [--data DIR ...] \
        --out runs/pixcolor-pixelcnn --max-minutes 30 --set threads=1
    python -m colorize_pixcolor.train pixcolor-refine --data DIR --out runs/pixcolor-refine
    python -m colorize_pixcolor.train export --pixelcnn runs/pixcolor-pixelcnn/last.ckpt \
        --refine runs/pixcolor-refine/last.ckpt \
        --out plugins/colorize-pixcolor/colorize_pixcolor/models
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.nn import functional as F

from colorize_pixcolor import GRID_STRIDE, N_BINS, __version__
from colorize_pixcolor.model import (
    FullGraph,
    PixColorModel,
    PixelStep,
    RefinementNet,
    RowStep,
    bin_centers,
    to_bins,
)
from training.pixelcnn import (
    add_fit_arguments,
    apply_arguments,
    checkpoint,
    export_checkpoint_graphs,
    load_batchers,
    mean_parts,
    run_loop,
)
from training.recipe import ExportGraph, Recipe

__all__ = ["PixelCNNRecipe", "RefineRecipe", "export_models", "main", "pixelcnn", "refine", "ycbcr"]


def ycbcr(rgb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(N, 3, H, W) sRGB in [0, 1] -> Y (N, 1, H, W), chroma (N, 2, H, W) as (Cb, Cr).

    Full-range BT.601, the same definition as ``core.colorspaces.ycbcr``.
    """
    r, g, b = rgb[:, 0:1], rgb[:, 1:2], rgb[:, 2:3]
    y = 0.299 * r + 0.587 * g + 0.114 * b
    return y, torch.cat([(b - y) / 1.772, (r - y) / 1.402], dim=1)


def _prepare(images: np.ndarray) -> dict[str, torch.Tensor]:
    """uint8 (N, H, W, 3) crops -> Y, full-res chroma and the 28 px grid's chroma and bins."""
    rgb = torch.from_numpy(images).permute(0, 3, 1, 2).float().div_(255.0)
    y, chroma = ycbcr(rgb)
    low = F.avg_pool2d(chroma, GRID_STRIDE)  # area down-sampling to the low-res grid (Fig. 3)
    bins = to_bins(low)
    return {"y": y, "chroma": chroma, "low": low, "cb": bins[:, 0], "cr": bins[:, 1]}


class PixelCNNRecipe(Recipe):
    """Conditioning network + PixelCNN, teacher forcing, per-pixel cross-entropy (Sec. 3.1)."""

    name = "pixcolor-pixelcnn"
    colorspace = "ycbcr"
    working_size = 112
    size_multiple = GRID_STRIDE
    option_names = ("channels", "layers", "cond", "cond_blocks")
    defaults: dict[str, Any] = {
        "steps": 4000, "batch_size": 16, "lr": 2e-3, "crop": 112, "scale": [0.4, 1.0],
        "cache_size": 144, "ckpt_every": 100, "log_every": 20,
    }

    def build_model(self, options: dict[str, Any]) -> PixColorModel:
        return PixColorModel(**{k: int(v) for k, v in options.items()})

    def forward(self, model: PixColorModel, batch: dict[str, torch.Tensor]):
        return model(batch["y"], batch["cr"], batch["cb"])

    def loss(self, output, batch):
        cr_logits, cb_logits = output
        loss_cr = F.cross_entropy(cr_logits, batch["cr"])
        loss_cb = F.cross_entropy(cb_logits, batch["cb"])
        accuracy = (cr_logits.argmax(1) == batch["cr"]).float().mean()
        return loss_cr + loss_cb, {"nll_cr": loss_cr.item(), "nll_cb": loss_cb.item(),
                                   "acc_cr": accuracy.item()}

    def predict_chroma(self, output, statistics=None) -> torch.Tensor:
        """Teacher-forced mode of each pixel, (Cb, Cr) at the 28 px grid (diagnostics only)."""
        cr_logits, cb_logits = output
        return torch.stack([bin_centers(cb_logits.argmax(1)), bin_centers(cr_logits.argmax(1))], 1)

    def export_graphs(self, model: PixColorModel, info: dict[str, Any]) -> list[ExportGraph]:
        net = model.pixelcnn
        n, c, k, h, w = 1, net.cond, net.k, 28, 28
        lc = net.layers * net.channels
        meta = _metadata(self.name, info, {
            "channels": net.channels, "layers": net.layers, "first_kernel": net.first_kernel,
            "kernel": net.kernel, "cond": c, "bins": k, "grid_stride": GRID_STRIDE,
            "order": "raster; Cr then Cb per pixel", "vertical_width": net.vertical_width,
        })
        gen = torch.Generator().manual_seed(0)
        x = bin_centers(torch.randint(0, k, (n, 2, h, w), generator=gen)) * 2
        return [
            ExportGraph("pixcolor-cond.onnx", model.conditioning,
                        {"lightness": torch.rand(n, 1, 4 * h, 4 * w, generator=gen)},
                        ["cond"], {"lightness": {0: "batch", 2: "height", 3: "width"}}, meta),
            ExportGraph("pixcolor-full.onnx", FullGraph(net),
                        {"x": x, "cond": torch.randn(n, c, h, w, generator=gen),
                         "gumbel": torch.rand(n, 2 * k, h, w, generator=gen),
                         "inv_temperature": torch.ones(1)},
                        ["cr", "cb", "loglik", "cr_logits"],
                        {**{name: {0: "batch", 2: "height", 3: "width"}
                            for name in ("x", "cond", "gumbel")}, "inv_temperature": {}}, meta),
            ExportGraph("pixcolor-row.onnx", RowStep(net),
                        {"x_row": x[:, :, :1], "cond_row": torch.randn(n, c, 1, w, generator=gen),
                         "cache_in": torch.randn(n, 2, net.p0, w, generator=gen),
                         "cache_v": torch.randn(n, lc, net.p, w, generator=gen)},
                        ["above", "new_cache_in", "new_cache_v"],
                        {name: {0: "batch", 3: "width"}
                         for name in ("x_row", "cond_row", "cache_in", "cache_v")}, meta),
            ExportGraph("pixcolor-pixel.onnx", PixelStep(net),
                        {"cache_x": torch.randn(n, 2, net.p0, generator=gen),
                         "cache_h": torch.randn(n, lc, net.p, generator=gen),
                         "above": torch.randn(n, net.vertical_width, generator=gen),
                         "cond": torch.randn(n, c, generator=gen),
                         "gumbel": torch.rand(n, 2 * k, generator=gen),
                         "inv_temperature": torch.ones(1)},
                        ["cr", "cb", "loglik", "new_cache_x", "new_cache_h"],
                        {**{name: {0: "batch"}
                            for name in ("cache_x", "cache_h", "above", "cond", "gumbel")},
                         "inv_temperature": {}}, meta),
        ]


class RefineRecipe(Recipe):
    """Refinement network on ground-truth low-resolution chroma (Sec. 3.2)."""

    name = "pixcolor-refine"
    colorspace = "ycbcr"
    working_size = 112
    size_multiple = GRID_STRIDE
    option_names = ("width",)
    defaults: dict[str, Any] = {
        "steps": 4000, "batch_size": 16, "lr": 2e-3, "crop": 64, "scale": [0.3, 1.0],
        "cache_size": 144, "ckpt_every": 100, "log_every": 20,
    }

    def build_model(self, options: dict[str, Any]) -> RefinementNet:
        return RefinementNet(**{k: int(v) for k, v in options.items()})

    def forward(self, model: RefinementNet, batch: dict[str, torch.Tensor]):
        hint = torch.stack([bin_centers(batch["cb"]), bin_centers(batch["cr"])], dim=1)
        return model(batch["y"], hint)

    def loss(self, output, batch):
        target = batch["chroma"]
        bilinear = F.interpolate(batch["low"], size=target.shape[-2:], mode="bilinear",
                                 align_corners=False)
        loss = F.smooth_l1_loss(output, target, beta=0.02)
        return loss, {"rmse": (output - target).pow(2).mean().sqrt().item(),
                      "rmse_bilinear": (bilinear - target).pow(2).mean().sqrt().item()}

    def predict_chroma(self, output, statistics=None) -> torch.Tensor:
        return output

    def export_graphs(self, model: RefinementNet, info: dict[str, Any]) -> list[ExportGraph]:
        meta = _metadata(self.name, info, {"grid_stride": GRID_STRIDE})
        gen = torch.Generator().manual_seed(0)
        return [ExportGraph(
            "pixcolor-refine.onnx", model,
            {"lightness": torch.rand(1, 1, 112, 144, generator=gen),
             "chroma": torch.rand(1, 2, 28, 36, generator=gen) - 0.5},
            ["chroma_out"],
            {"lightness": {0: "batch", 2: "height", 3: "width"},
             "chroma": {0: "batch", 2: "height", 3: "width"}}, meta)]


def _metadata(name: str, info: dict[str, Any], arch: dict[str, Any]) -> dict[str, str]:
    values = {
        "method": "pixcolor", "graph_of": name, "plugin": "colorize-pixcolor",
        "version": __version__, "colorspace": "ycbcr", "working_size": 112,
        "size_multiple": GRID_STRIDE,
        "bins": {"low": -0.5, "high": 0.5, "count": N_BINS, "channels": ["cr", "cb"]},
        "architecture": arch, "training": info,
    }
    return {k: json.dumps(v) for k, v in values.items()}


pixelcnn = PixelCNNRecipe()
refine = RefineRecipe()
RECIPES = {r.name: r for r in (pixelcnn, refine)}


# -- the loop ---------------------------------------------------------------------


def _config(recipe: Recipe, args: argparse.Namespace) -> dict[str, Any]:
    config = {"seed": 0, "threads": 0, "max_minutes": None, "options": {}, "val_images": 64,
              **recipe.defaults}
    return apply_arguments(config, args, ("steps", "batch_size", "seed", "max_minutes"))


@torch.no_grad()
def _validate(recipe: Recipe, model: torch.nn.Module, batcher) -> dict[str, float]:
    model.eval()
    parts = []
    for i in range(4):
        batch = _prepare(batcher.batch(i)[0])
        loss, extras = recipe.loss(recipe.forward(model, batch), batch)
        parts.append({"loss": loss.item(), **extras})
    model.train()
    return mean_parts(parts)


def train(recipe: Recipe, args: argparse.Namespace) -> dict[str, Any]:
    """Train ``recipe`` (see module doc); returns the final log record."""
    config = _config(recipe, args)
    out = Path(args.out or f"runs/{recipe.name}")
    if config["threads"]:
        torch.set_num_threads(int(config["threads"]))
    batcher, val_batcher, data_info = load_batchers(args, config,
                                                    val_images=config["val_images"])
    torch.manual_seed(config["seed"])
    model = recipe.build_model(recipe.check_options(config["options"]))
    optimizer = torch.optim.AdamW(model.parameters(), lr=config["lr"], weight_decay=1e-4)
    step, elapsed = 0, 0.0
    resume = Path(args.resume) if args.resume else None
    if resume is None and args.resume_default and (out / "last.ckpt").is_file():
        resume = out / "last.ckpt"
    if resume is not None:
        ckpt = torch.load(resume, weights_only=True)
        model.load_state_dict(ckpt["model"])
        optimizer.load_state_dict(ckpt["optimizer"])
        step, elapsed = int(ckpt["step"]), float(ckpt["elapsed"])
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.json").write_text(json.dumps(config, indent=2))

    def batch_loss(step: int):
        batch = _prepare(batcher.batch(step)[0])
        loss, extras = recipe.loss(recipe.forward(model, batch), batch)
        return loss, {"loss": loss.item(), **extras}

    def state(step: int, elapsed: float, val: dict[str, float]) -> dict[str, Any]:
        return checkpoint(recipe.name, step, elapsed, model, optimizer, config=config,
                          options=config["options"], data=data_info, val=val)

    return run_loop(
        config, out, model=model, optimizer=optimizer, step=step, elapsed=elapsed,
        batch_loss=batch_loss, validate=lambda: _validate(recipe, model, val_batcher),
        state=state, clip=1.0, lr_floor=0.05, desc=f"train {recipe.name}",
        progress=not args.no_progress,
    )


# -- export -----------------------------------------------------------------------


def export_models(checkpoints: dict[str, str | os.PathLike], out: str | os.PathLike,
                  tolerance: float = 1e-3) -> list[Path]:
    """Export the graphs of each recipe's checkpoint into ``out`` and update its manifest.

    Uses ``onnx_export.export.export_graph`` (dynamo export, full checker, ORT parity on
    random inputs at two sizes, metadata) for every graph.
    """
    from onnx_export.export import training_summary
    from onnx_export.manifest import update_manifest
    from training.trainer import load_checkpoint

    paths: list[Path] = []
    methods: dict[str, Any] = {}
    for name, path in checkpoints.items():
        recipe = RECIPES[name]
        ckpt = load_checkpoint(path)
        model = recipe.build_model(dict(ckpt.get("options") or {}))
        model.load_state_dict(ckpt["model"])
        model.eval()
        graphs = recipe.export_graphs(model, training_summary(ckpt))
        written, methods[name] = export_checkpoint_graphs(graphs, out, ckpt, tolerance)
        paths += written
    update_manifest(out, paths, methods=methods)
    return paths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m colorize_pixcolor.train")
    sub = parser.add_subparsers(dest="command", required=True)
    for name in RECIPES:
        p = sub.add_parser(name)
        add_fit_arguments(p)
        p.add_argument("--resume", nargs="?", const="", default=None)
    e = sub.add_parser("export")
    e.add_argument("--pixelcnn")
    e.add_argument("--refine")
    e.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    if args.command == "export":
        ckpts = {k: v for k, v in (("pixcolor-pixelcnn", args.pixelcnn),
                                   ("pixcolor-refine", args.refine)) if v}
        export_models(ckpts, args.out)
        return 0
    args.resume_default = args.resume == ""
    if args.resume == "":
        args.resume = None
    print(json.dumps(train(RECIPES[args.command], args)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
