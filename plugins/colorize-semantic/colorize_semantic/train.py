"""Training and export of Pixelated Semantic Colorization (torch; never imported by inference).

Joint training of f_θ, h_φ and g_ω (Zhao et al. 2019, §3.3, Eqs. 5-6)::

    L_sum = λ1 L_emb + λ2 L_seg + λ3 L_gen,   λ1 : λ2 : λ3 = 1 : 100 : 1

``L_emb`` and ``L_gen`` are discretized-logistic-mixture negative log-likelihoods (nats
per chroma value) of the true low-resolution (a, b): ``L_emb`` from a 1x1 head on the
embedding alone, ``L_gen`` from the PixelCNN with teacher forcing. ``L_seg`` is the
softmax cross-entropy of the segmentation head (up-sampled to the crop) against CamVid's
labels, void (11) ignored. Adam (lr 1e-3, β = (0.95, 0.9995), §4.1) with Polyak
averaging of the weights (an exponential moving average; the averaged weights are
validated and exported). The ``plain`` variant has no segmentation head (λ2 unused).

Data come from ``training.data`` (split files with labels, deterministic batches); the
loop is ``training.pixelcnn.run_loop``, shared with the pixcolor plugin::

    python -m colorize_semantic.train fit --data $COLORIZE_DATA/camvid/train.txt \
        --val $COLORIZE_DATA/camvid/val.txt --variant full --out runs/semantic-full \
        --max-minutes 40
    python -m colorize_semantic.train export runs/semantic-full/last.ckpt \
        --out plugins/colorize-semantic/colorize_semantic/models
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.nn import functional as F

from colorize_semantic import (
    AB_SCALE,
    CLASS_NAMES,
    GRID_STRIDE,
    LEVELS,
    VOID_LABEL,
    WORKING_SIZE,
    __version__,
)
from colorize_semantic.model import (
    EncoderGraph,
    GeneratorGraph,
    PixelStep,
    RowStep,
    SemanticModel,
    mixture_log_prob,
    quantize,
)
from training.lab import rgb_to_lab
from training.pixelcnn import (
    add_fit_arguments,
    apply_arguments,
    checkpoint,
    export_checkpoint_graphs,
    load_batchers,
    mean_parts,
    run_loop,
)
from training.recipe import ExportGraph

__all__ = [
    "DEFAULTS",
    "export",
    "fit_averaged",
    "losses",
    "main",
    "output_losses",
    "prepare",
    "train",
]

DEFAULTS: dict[str, Any] = {
    "variant": "full",
    "steps": 3000,
    "batch_size": 8,
    "lr": 1e-3,
    "betas": [0.95, 0.9995],
    "lambdas": [1.0, 100.0, 1.0],
    "polyak": 0.998,
    "crop": 64,
    "scale": [0.45, 0.6],
    "cache_size": WORKING_SIZE,
    "ckpt_every": 100,
    "keep_every": 250,
    "log_every": 20,
    "seed": 0,
    "threads": 1,
    "max_minutes": None,
    "val_batches": 4,
    "model": {"widths": [16, 32, 48], "width": 48, "embedding": 32, "channels": 32, "layers": 4},
}


def prepare(images: np.ndarray, labels: np.ndarray | None) -> dict[str, torch.Tensor]:
    """uint8 (N, H, W, 3) crops (+ labels) -> lightness, low-resolution (a, b) levels, labels.

    ``lightness`` is L*/100 (N, 1, H, W); ``x`` the (a, b) of the 4x area-down-sampled
    crop divided by :data:`AB_SCALE` and rounded to the mixture's levels (N, 2, H/4, W/4).
    """
    rgb = torch.from_numpy(images).permute(0, 3, 1, 2).float().div_(255.0)
    lab = rgb_to_lab(rgb)
    low = F.avg_pool2d(lab[:, 1:], GRID_STRIDE) / AB_SCALE
    out = {"lightness": lab[:, :1] / 100.0, "x": quantize(low, LEVELS)}
    if labels is not None:
        out["labels"] = torch.from_numpy(labels.astype(np.int64))
    return out


def losses(
    model: SemanticModel, batch: dict[str, torch.Tensor], lambdas=(1.0, 100.0, 1.0)
) -> tuple[torch.Tensor, dict[str, float]]:
    """Eq. 6: ``λ1 L_emb + λ2 L_seg + λ3 L_gen`` and its parts (floats, for the log)."""
    return output_losses(model(batch["lightness"], batch["x"]), batch, lambdas)


def output_losses(
    out: dict[str, torch.Tensor], batch: dict[str, torch.Tensor], lambdas=(1.0, 100.0, 1.0)
) -> tuple[torch.Tensor, dict[str, float]]:
    """:func:`losses` of the model's teacher-forced outputs ``out`` (any bottom)."""
    l_emb = -mixture_log_prob(out["emb_params"], batch["x"]).mean() / 2
    l_gen = -mixture_log_prob(out["gen_params"], batch["x"]).mean() / 2
    total = lambdas[0] * l_emb + lambdas[2] * l_gen
    parts = {"l_emb": l_emb.item(), "l_gen": l_gen.item()}
    if out["seg_logits"] is not None and "labels" in batch:
        labels = batch["labels"]
        logits = F.interpolate(
            out["seg_logits"], size=labels.shape[-2:], mode="bilinear", align_corners=False
        )
        l_seg = segmentation_loss(logits, labels)
        total = total + lambdas[1] * l_seg
        keep = labels != VOID_LABEL
        accuracy = (logits.argmax(1) == labels)[keep].float().mean()
        parts.update(l_seg=l_seg.item(), seg_acc=accuracy.item())
    parts["loss"] = total.item()
    return total, parts


def segmentation_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """L_seg: softmax cross-entropy, CamVid's void label (11) ignored (§3.3)."""
    return F.cross_entropy(logits, labels, ignore_index=VOID_LABEL)


def _config(args: argparse.Namespace) -> dict[str, Any]:
    keys = ("variant", "steps", "batch_size", "seed", "max_minutes")
    return apply_arguments(copy.deepcopy(DEFAULTS), args, keys)


def build(config: dict[str, Any]) -> SemanticModel:
    """The model of a config (variant and sizes)."""
    return SemanticModel(config["variant"], **config["model"])


@torch.no_grad()
def _validate(model, batcher, n: int, lambdas) -> dict[str, float]:
    model.eval()
    return mean_parts(losses(model, prepare(*batcher.batch(i)), lambdas)[1] for i in range(n))


def train(args: argparse.Namespace) -> dict[str, Any]:
    """Train one variant (module doc); returns the final log record."""
    config = _config(args)
    out = Path(args.out or f"runs/semantic-{config['variant']}")
    torch.set_num_threads(int(config["threads"]))
    batcher, val_batcher, data_info = load_batchers(args, config, val_scale=tuple(config["scale"]))
    torch.manual_seed(config["seed"])
    model = build(config)
    lambdas = tuple(config["lambdas"])
    return fit_averaged(
        config,
        out,
        model,
        resume=bool(args.resume),
        batch_loss=lambda step: losses(model, prepare(*batcher.batch(step)), lambdas),
        validate=lambda average: _validate(average, val_batcher, config["val_batches"], lambdas),
        data=data_info,
        desc=f"train semantic-{config['variant']}",
        progress=not args.no_progress,
    )


def fit_averaged(
    config: dict[str, Any],
    out: Path,
    model: SemanticModel,
    *,
    resume: bool,
    batch_loss,
    validate,
    data: dict[str, Any],
    desc: str,
    progress: bool = True,
    **fields: Any,
) -> dict[str, Any]:
    """The training loop of every variant and bottom: Adam (§4.1), Polyak averaging of the
    weights (validated, saved and exported), ``training.pixelcnn.run_loop``.

    ``batch_loss(step)`` is the loss of the raw ``model``; ``validate(average)`` the
    validation parts of the averaged model; ``fields`` go into every checkpoint.
    """
    average = copy.deepcopy(model)  # Polyak averaging (§4.1)
    for p in average.parameters():
        p.requires_grad_(False)
    optimizer = torch.optim.Adam(model.parameters(), lr=config["lr"], betas=tuple(config["betas"]))
    step, elapsed = 0, 0.0
    if resume and (out / "last.ckpt").is_file():
        ckpt = torch.load(out / "last.ckpt", weights_only=True)
        model.load_state_dict(ckpt["raw_model"])
        average.load_state_dict(ckpt["model"])
        optimizer.load_state_dict(ckpt["optimizer"])
        step, elapsed = int(ckpt["step"]), float(ckpt["elapsed"])
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.json").write_text(json.dumps(config, indent=2))
    decay = float(config["polyak"])

    @torch.no_grad()
    def polyak(step: int) -> None:
        d = min(decay, (1 + step) / (10 + step))
        for p_avg, p in zip(average.parameters(), model.parameters(), strict=True):
            p_avg.mul_(d).add_(p, alpha=1 - d)

    def state(step: int, elapsed: float, val: dict[str, float]) -> dict[str, Any]:
        return checkpoint(
            "semantic",
            step,
            elapsed,
            average,
            optimizer,
            raw_model=model.state_dict(),
            config=config,
            options=config["model"],
            variant=config["variant"],
            data=data,
            val=val,
            **fields,
        )

    return run_loop(
        config,
        out,
        model=model,
        optimizer=optimizer,
        step=step,
        elapsed=elapsed,
        batch_loss=batch_loss,
        validate=lambda: validate(average),
        state=state,
        clip=100.0,
        lr_floor=0.1,
        desc=desc,
        progress=progress,
        after_step=polyak,
        log_digits=4,
    )


# -- export ---------------------------------------------------------------------------


def load(path: str | os.PathLike) -> tuple[SemanticModel, dict[str, Any]]:
    """The Polyak-averaged model of a checkpoint (eval mode) and the checkpoint."""
    from training.trainer import load_checkpoint

    ckpt = load_checkpoint(path)
    model = build(ckpt["config"])
    model.load_state_dict(ckpt["model"])
    return model.eval(), ckpt


def export_graphs(model: SemanticModel, info: dict[str, Any]) -> list[ExportGraph]:
    """The encoder and generator graphs of one variant, with their metadata."""
    net = model.pixelcnn
    variant = model.variant
    rows, side = net.reach
    arch = {
        "variant": variant,
        "cond": net.cond,
        "channels": net.channels,
        "layers": net.layers,
        "first_kernel": net.first_kernel,
        "kernel": net.kernel,
        "vertical_width": net.vertical_width,
        "reach_rows": rows,
        "reach_cols": side,
        "mixtures": net.m,
        "levels": LEVELS,
        "ab_scale": AB_SCALE,
        "grid_stride": GRID_STRIDE,
        "classes": list(CLASS_NAMES),
    }
    values = {
        "method": "semantic",
        "plugin": "colorize-semantic",
        "version": __version__,
        "colorspace": "lab",
        "working_size": WORKING_SIZE,
        "size_multiple": GRID_STRIDE,
        "variant": variant,
        "architecture": arch,
        "training": info,
    }
    meta = {k: json.dumps(v) for k, v in values.items()}
    gen = torch.Generator().manual_seed(0)
    h, w, m = 12, 16, net.m
    lc = net.layers * net.channels
    x = quantize(torch.rand(1, 2, h, w, generator=gen) * 2 - 1)
    return [
        ExportGraph(
            f"semantic-{variant}-encoder.onnx",
            EncoderGraph(model),
            {"lightness": torch.rand(1, 1, 4 * h, 4 * w, generator=gen)},
            ["cond", "seg_logits"],
            {"lightness": {0: "batch", 2: "height", 3: "width"}},
            {**meta, "graph_of": json.dumps("encoder")},
        ),
        ExportGraph(
            f"semantic-{variant}-pixelcnn.onnx",
            GeneratorGraph(net),
            {
                "x": x,
                "cond": torch.randn(1, net.cond, h, w, generator=gen),
                "gumbel": torch.rand(1, m, h, w, generator=gen),
                "uniform": torch.rand(1, 2, h, w, generator=gen),
                "temperature": torch.ones(1),
            },
            ["sample", "loglik", "params"],
            {
                **{
                    name: {0: "batch", 2: "height", 3: "width"}
                    for name in ("x", "cond", "gumbel", "uniform")
                },
                "temperature": {},
            },
            {**meta, "graph_of": json.dumps("pixelcnn")},
        ),
        ExportGraph(
            f"semantic-{variant}-row.onnx",
            RowStep(net),
            {
                "x_row": x[:, :, :1].contiguous(),
                "cond_row": torch.randn(1, net.cond, 1, w, generator=gen),
                "cache_in": torch.randn(1, 2, net.p0, w, generator=gen),
                "cache_v": torch.randn(1, lc, net.p, w, generator=gen),
            },
            ["above", "new_cache_in", "new_cache_v"],
            {
                name: {0: "batch", 3: "width"}
                for name in ("x_row", "cond_row", "cache_in", "cache_v")
            },
            {**meta, "graph_of": json.dumps("row")},
        ),
        ExportGraph(
            f"semantic-{variant}-pixel.onnx",
            PixelStep(net),
            {
                "cache_x": x[:, :, 0, : net.p0].contiguous(),
                "cache_h": torch.randn(1, lc, net.p, generator=gen),
                "above": torch.randn(1, net.vertical_width, generator=gen),
                "cond": torch.randn(1, net.cond, generator=gen),
                "gumbel": torch.rand(1, m, generator=gen),
                "uniform": torch.rand(1, 2, generator=gen),
                "temperature": torch.ones(1),
            },
            ["value", "new_cache_x", "new_cache_h"],
            {
                **{
                    name: {0: "batch"}
                    for name in ("cache_x", "cache_h", "above", "cond", "gumbel", "uniform")
                },
                "temperature": {},
            },
            {**meta, "graph_of": json.dumps("pixel")},
        ),
    ]


def export(
    checkpoint: str | os.PathLike, out: str | os.PathLike, tolerance: float = 1e-3
) -> list[Path]:
    """Export a checkpoint's two graphs into ``out`` and record them in its manifest.

    ``onnx_export.export.export_graph`` runs the full ONNX checker, the parity check
    against torch on random inputs at two sizes, and writes ``metadata_props``.
    """
    from onnx_export.export import training_summary
    from onnx_export.manifest import update_manifest

    model, ckpt = load(checkpoint)
    graphs = export_graphs(model, training_summary(ckpt))
    paths, entry = export_checkpoint_graphs(graphs, out, ckpt, tolerance)
    update_manifest(out, paths, methods={f"semantic-{model.variant}": entry})
    return paths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m colorize_semantic.train")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("fit", help="train one variant")
    add_fit_arguments(p)
    p.add_argument("--variant", choices=("plain", "embedding", "full"))
    p.add_argument("--resume", action="store_true", help="continue from OUT/last.ckpt")
    e = sub.add_parser("export", help="export a checkpoint's graphs")
    e.add_argument("checkpoint")
    e.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    if args.command == "export":
        export(args.checkpoint, args.out)
        return 0
    print(json.dumps(train(args)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
