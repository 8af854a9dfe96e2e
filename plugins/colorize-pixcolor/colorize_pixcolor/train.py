"""Training and export of PixColor (torch; never imported by inference).

Two recipes, trained separately as in the paper:

* ``pixcolor-pixelcnn`` -- conditioning network + conditional PixelCNN, jointly,
  with teacher forcing and per-pixel cross-entropy over 32 Cr and 32 Cb bins
  (Sec. 3.1);
* ``pixcolor-refine`` -- the refinement network, trained on the *ground-truth*
  28 px chroma (quantised to the bin centres the PixelCNN emits), never on
  samples (Sec. 3.2 explains why).

Both are published under the ``colorize.training`` entry-point group. The
generic ``training.trainer.Trainer`` calls ``model(batch["lightness"])`` with Lab
lightness, which cannot feed teacher forcing or YCbCr, so this module has its own
small loop built on ``training.data`` (same data handling, deterministic
batches, ``--max-minutes``, atomic checkpoints, ``--resume``)::

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
import math
import os
import sys
import time
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
from training.recipe import ExportGraph, Recipe
from training.trainer import CHECKPOINT_FORMAT

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
    for key in ("steps", "batch_size", "seed", "max_minutes"):
        if getattr(args, key, None) is not None:
            config[key] = getattr(args, key)
    for item in args.set or ():
        key, _, value = item.partition("=")
        target = config
        *parents, leaf = key.split(".")
        for parent in parents:
            target = target.setdefault(parent, {})
        target[leaf] = json.loads(value)
    return config


def _lr_factor(step: int, steps: int) -> float:
    warm = 50
    if step < warm:
        return (step + 1) / warm
    return 0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(step, steps) / steps))


def _save(path: Path, state: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


@torch.no_grad()
def _validate(recipe: Recipe, model: torch.nn.Module, batcher) -> dict[str, float]:
    model.eval()
    totals: dict[str, float] = {}
    for i in range(4):
        batch = _prepare(batcher.batch(i)[0])
        loss, extras = recipe.loss(recipe.forward(model, batch), batch)
        for key, value in {"loss": loss.item(), **extras}.items():
            totals[key] = totals.get(key, 0.0) + value / 4
    model.train()
    return totals


def train(recipe: Recipe, args: argparse.Namespace) -> dict[str, Any]:
    """Train ``recipe`` (see module doc); returns the final log record."""
    from tqdm import tqdm

    from training import data as datalib

    config = _config(recipe, args)
    out = Path(args.out or f"runs/{recipe.name}")
    if config["threads"]:
        torch.set_num_threads(int(config["threads"]))
    train_items, val_items, sources = datalib.resolve_sources(args.data, args.val)
    train_set = datalib.load_images(train_items, short_side=config["cache_size"],
                                    progress=not args.no_progress)
    val_set = datalib.load_images(val_items[: config["val_images"]],
                                  short_side=config["cache_size"], progress=False)
    batcher = datalib.Batcher(train_set, batch_size=config["batch_size"], crop=config["crop"],
                              scale=tuple(config["scale"]), seed=config["seed"])
    val_batcher = datalib.Batcher(val_set, batch_size=16, crop=config["crop"],
                                  scale=(1.0, 1.0), hflip=False, seed=12345)
    torch.manual_seed(config["seed"])
    model = recipe.build_model(recipe.check_options(config["options"]))
    optimizer = torch.optim.AdamW(model.parameters(), lr=config["lr"], weight_decay=1e-4)
    step, elapsed = 0, 0.0
    data_info = {"train": {**train_set.summary.to_dict(), "sources": sources["train"]},
                 "val": {**val_set.summary.to_dict(), "sources": sources["val"]}}
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
    log = open(out / "log.jsonl", "a", encoding="utf-8")
    val: dict[str, float] = {}

    def state() -> dict[str, Any]:
        return {"format": CHECKPOINT_FORMAT, "method": recipe.name, "step": step,
                "elapsed": elapsed, "model": model.state_dict(),
                "optimizer": optimizer.state_dict(), "config": config,
                "options": config["options"], "data": data_info, "val": val,
                "statistics": None, "world_size": 1, "torch": str(torch.__version__)}

    started = time.monotonic()
    base_elapsed = elapsed
    stopped = False
    window: dict[str, float] = {}
    model.train()
    bar = tqdm(total=config["steps"], initial=step, desc=f"train {recipe.name}",
               disable=args.no_progress)
    while step < config["steps"]:
        if config["max_minutes"] and time.monotonic() - started >= config["max_minutes"] * 60:
            stopped = True
            break
        for group in optimizer.param_groups:
            group["lr"] = config["lr"] * _lr_factor(step, config["steps"])
        batch = _prepare(batcher.batch(step)[0])
        loss, extras = recipe.loss(recipe.forward(model, batch), batch)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        step += 1
        elapsed = base_elapsed + time.monotonic() - started
        for key, value in {"loss": loss.item(), **extras}.items():
            window[key] = window.get(key, 0.0) + value
        bar.update(1)
        if step % config["log_every"] == 0:
            record = {k: v / config["log_every"] for k, v in window.items()}
            record.update(step=step, elapsed=round(elapsed, 1))
            log.write(json.dumps(record) + "\n")
            log.flush()
            window.clear()
        if step % config["ckpt_every"] == 0:
            val = _validate(recipe, model, val_batcher)
            log.write(json.dumps({"split": "val", "step": step, **val}) + "\n")
            log.flush()
            _save(out / "last.ckpt", state())
    bar.close()
    val = _validate(recipe, model, val_batcher)
    _save(out / "last.ckpt", state())
    record = {"event": "stop" if stopped else "done", "step": step, "elapsed": round(elapsed, 1),
              "val": val}
    log.write(json.dumps(record) + "\n")
    log.close()
    return record


# -- export -----------------------------------------------------------------------


def export_models(checkpoints: dict[str, str | os.PathLike], out: str | os.PathLike,
                  tolerance: float = 1e-3) -> list[Path]:
    """Export the graphs of each recipe's checkpoint into ``out`` and update its manifest.

    Uses ``onnx_export.export.export_graph`` (dynamo export, full checker, ORT parity on
    random inputs at two sizes, metadata) for every graph.
    """
    from onnx_export.export import export_graph, training_summary
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
        results = [export_graph(g, out, tolerance=tolerance)
                   for g in recipe.export_graphs(model, training_summary(ckpt))]
        for r in results:
            print(f"{r.path.name}: max |onnx - torch| {r.max_abs_diff:.2e} ({r.seconds:.1f} s)")
        paths += [r.path for r in results]
        methods[name] = {"files": [r.path.name for r in results], "step": ckpt.get("step"),
                         "train_seconds": round(float(ckpt.get("elapsed", 0.0)), 1),
                         "max_abs_diff": max(r.max_abs_diff for r in results)}
    update_manifest(out, paths, methods=methods)
    return paths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m colorize_pixcolor.train")
    sub = parser.add_subparsers(dest="command", required=True)
    for name in RECIPES:
        p = sub.add_parser(name)
        p.add_argument("--data", action="append", required=True)
        p.add_argument("--val", action="append")
        p.add_argument("--out")
        p.add_argument("--steps", type=int)
        p.add_argument("--batch-size", type=int)
        p.add_argument("--seed", type=int)
        p.add_argument("--max-minutes", type=float)
        p.add_argument("--set", action="append", metavar="KEY=JSON")
        p.add_argument("--resume", nargs="?", const="", default=None)
        p.add_argument("--no-progress", action="store_true")
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
