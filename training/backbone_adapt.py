"""Gray adaptation of the ImageNet backbone by distillation (Larsson et al. 2016, §3.5).

Larsson et al. fine-tune VGG-16 on grayscale ImageNet classification before they train
the colorization heads. No ImageNet training set is here, but a classifier of colour
photos is: the pretrained colour network itself. So the gray copy (the stem summed over
R, G, B, :func:`training.backbone.to_gray`) is trained to give, from the lightness alone,
the class distribution that the colour network gives from the colour photo (Hinton et
al. 2015 distillation, KL divergence at temperature T, scaled by T²). It needs no labels,
so every shared colour photo can be used, except the held-out ImageNet photos of the
semantic test (:func:`training.splits.held_out`) and BSDS500 test.

Usage::

    python -m training.backbone_adapt --out runs/backbone --max-minutes 20
    python -m training.backbone_adapt --out runs/backbone --resume   # continues
    python -m training.backbone_adapt --evaluate runs/backbone/last.pt

The checkpoint holds the student's state_dict, the optimiser, the step and the config;
``--resume`` reproduces the batches of the uninterrupted run (batches are a function of
(seed, step)). Top-1 on the held-out ``imagenet_sample`` photos (224 px, colour teacher,
gray before, gray after) is written to ``<out>/top1.json``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from training.backbone import GrayBackbone, load_pretrained, to_gray
from training.lab import rgb_to_lab
from training.splits import held_out
from training.splits import labels as class_labels

__all__ = [
    "DEFAULT_SOURCES",
    "CLASSIFIER_PREFIX",
    "HEAD_SOURCES",
    "resume_into",
    "distill",
    "evaluate_top1",
    "load_adapted",
    "load_pyramid_state",
    "main",
    "pyramid_state",
    "training_items",
]

#: Folders of ``COLORIZE_DATA`` used for adaptation and for head training (never the
#: BSDS500 test split, never the held-out half of imagenet_sample).
DEFAULT_SOURCES = (
    "bsds500/images/train",
    "bsds500/images/val",
    "intel_scenes",
    "houses",
    "coco_train2014_sample",
    "tiny_imagenet",
    "sr_photos",
    "camvid/train",
    "imagenet_sample/images",
)


#: The sources of head training: as above without BSDS500 val, which is kept for choosing
#: decoder settings (so that no choice is made on the test photos).
HEAD_SOURCES = tuple(s for s in DEFAULT_SOURCES if s != "bsds500/images/val")


def training_items(data_root: str | os.PathLike, sources=DEFAULT_SOURCES) -> list[Path]:
    """Image paths of ``sources`` under ``data_root``, held-out test photos removed."""
    from training.data import find_images

    root = Path(data_root)
    excluded = {p.resolve() for p in held_out(root / "imagenet_sample")}
    paths: list[Path] = []
    for source in sources:
        paths += [p for p in find_images(root / source) if p.resolve() not in excluded]
    return paths


def _batch(images, rng, batch: int, crop: int):
    from training.data import random_crop

    out = []
    for i in rng.integers(0, len(images), batch):
        patch, _ = random_crop(images[i], None, rng, crop=crop, scale=(0.6, 1.0), hflip=True)
        out.append(patch)
    rgb = torch.from_numpy(np.stack(out)).permute(0, 3, 1, 2).float()
    return rgb


def evaluate_top1(
    gray: GrayBackbone | None, data_root: str | os.PathLike, size: int = 224
) -> dict[str, float]:
    """Top-1 on the held-out ``imagenet_sample`` photos: colour network, gray input."""
    from PIL import Image

    root = Path(data_root) / "imagenet_sample"
    labels = class_labels(root)
    files = held_out(root)
    colour = load_pretrained()
    before = GrayBackbone(to_gray(colour)).eval()
    counts = {"colour": 0, "gray_before": 0}
    if gray is not None:
        counts["gray_after"] = 0
        gray = gray.eval()
    with torch.no_grad():
        for start in range(0, len(files), 32):
            chunk = files[start : start + 32]
            rgb = np.stack(
                [
                    np.asarray(Image.open(p).convert("RGB").resize((size, size), Image.BICUBIC))
                    for p in chunk
                ]
            )
            x = torch.from_numpy(rgb).permute(0, 3, 1, 2).float()
            y = torch.tensor([labels[p.name] for p in chunk])
            lightness = rgb_to_lab(x / 255.0)[:, :1]
            counts["colour"] += int((colour(colour.normalise(x)).argmax(1) == y).sum())
            counts["gray_before"] += int((before.logits(lightness).argmax(1) == y).sum())
            if gray is not None:
                counts["gray_after"] += int((gray.logits(lightness).argmax(1) == y).sum())
    out = {k: v / len(files) for k, v in counts.items()}
    out["photos"] = len(files)
    out["size"] = size
    return out


def distill(
    out: Path,
    data_root: Path,
    *,
    steps: int = 2000,
    batch: int = 32,
    crop: int = 160,
    lr: float = 1e-4,
    temperature: float = 2.0,
    seed: int = 0,
    max_minutes: float | None = None,
    resume: bool = False,
    threads: int = 2,
    freeze_bn: bool = False,
) -> Path:
    """Distil the colour network into the gray copy; returns the last checkpoint's path.

    ``freeze_bn`` keeps the pretrained batch-norm statistics (the modules stay in eval
    mode; their affine parameters still train).
    """
    from tqdm import tqdm

    from training.data import load_images
    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    out.mkdir(parents=True, exist_ok=True)
    config = dict(steps=steps, batch=batch, crop=crop, lr=lr, temperature=temperature, seed=seed)
    if freeze_bn:
        config["freeze_bn"] = True
    teacher = load_pretrained()
    for p in teacher.parameters():
        p.requires_grad_(False)
    student = GrayBackbone(to_gray(teacher))
    optimiser = torch.optim.Adam(student.parameters(), lr=lr)
    step = 0
    last = out / "last.pt"
    if resume and last.is_file():
        step = resume_into(last, config, student, optimiser)
    items = [(p, None) for p in training_items(data_root)]
    images = load_images(items, short_side=crop + crop // 8, threads=threads).images
    start = time.monotonic()
    log = open(out / "log.jsonl", "a", encoding="utf-8")
    student.train()
    if freeze_bn:
        for module in student.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.eval()
    progress = tqdm(total=steps, initial=step, desc="distilling")
    while step < steps:
        if max_minutes is not None and time.monotonic() - start > 60 * max_minutes:
            break
        rng = np.random.default_rng([seed, step])
        rgb = _batch(images, rng, batch, crop)
        for group in optimiser.param_groups:
            group["lr"] = lr * 0.5 * (1 + math.cos(math.pi * step / steps))
        with torch.no_grad():
            target = F.log_softmax(teacher(teacher.normalise(rgb)) / temperature, dim=1)
            lightness = rgb_to_lab(rgb / 255.0)[:, :1]
        pred = F.log_softmax(student.logits(lightness) / temperature, dim=1)
        loss = F.kl_div(pred, target, log_target=True, reduction="batchmean") * temperature**2
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        step += 1
        progress.update()
        if step % 10 == 0:
            log.write(json.dumps({"step": step, "loss": float(loss)}) + "\n")
            log.flush()
        if step % 50 == 0 or step == steps:
            _save(last, student, optimiser, step, config)
    _save(last, student, optimiser, step, config)
    progress.close()
    return last


def resume_into(path: Path, config: dict, model, optimiser) -> int:
    """Load a ``last.pt`` of these loops into ``model`` and ``optimiser``; returns its step.

    Raises
    ------
    ValueError
        If the checkpoint was written with another configuration (naming the file).
    """
    state = torch.load(path, map_location="cpu", weights_only=True)
    if state["config"] != config:
        raise ValueError(f"{path}: written with config {state['config']}, not {config}")
    model.load_state_dict(state["model"])
    optimiser.load_state_dict(state["optimiser"])
    return int(state["step"])


def _save(path: Path, student, optimiser, step: int, config: dict) -> None:
    from training.trainer import save_atomic

    state = {"model": student.state_dict(), "optimiser": optimiser.state_dict()}
    save_atomic(path, {**state, "step": step, "config": config})


#: Parameters of the gray backbone that no feature level uses (the ImageNet classifier).
CLASSIFIER_PREFIX = "net._fc."


def pyramid_state(model: nn.Module) -> dict[str, torch.Tensor]:
    """``model``'s state without the classifier: what the feature levels depend on
    (13.6 MB instead of 18.8 MB for EfficientNet-Lite0, so a GPU round's result fits the
    device machine's 16 MiB a file)."""
    return {k: v for k, v in model.state_dict().items() if not k.startswith(CLASSIFIER_PREFIX)}


def load_pyramid_state(model: nn.Module, state: dict, path: str | os.PathLike) -> None:
    """Load ``state`` into ``model``; only the classifier may be missing (naming ``path``)."""
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [k for k in missing if not k.startswith(CLASSIFIER_PREFIX)]
    if missing or unexpected:
        raise ValueError(f"{path}: not a gray-backbone state (missing {missing[:3]}, "
                         f"unexpected {unexpected[:3]})")


def load_adapted(path: str | os.PathLike) -> GrayBackbone:
    """The gray backbone from a distillation or fine-tuning checkpoint (or a bare
    state_dict; the unused classifier may be left out), eval mode."""
    state = torch.load(path, map_location="cpu", weights_only=True)
    model = GrayBackbone()
    load_pyramid_state(model, state.get("model", state), path)
    return model.eval()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m training.backbone_adapt", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--data", default=os.environ.get("COLORIZE_DATA", "../shared/datasets"))
    parser.add_argument("--out", type=Path, default=Path("runs/backbone"))
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--crop", type=int, default=160)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--temperature", type=float, default=2.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--max-minutes", type=float)
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--freeze-bn", action="store_true",
                        help="keep the pretrained batch-norm statistics")
    parser.add_argument("--evaluate", type=Path, help="only measure top-1 of this checkpoint")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.evaluate is None:
        last = distill(
            args.out, Path(args.data), steps=args.steps, batch=args.batch, crop=args.crop,
            lr=args.lr, temperature=args.temperature, seed=args.seed,
            max_minutes=args.max_minutes, resume=args.resume, threads=args.threads,
            freeze_bn=args.freeze_bn,
        )
    else:
        last = args.evaluate
    top1 = evaluate_top1(load_adapted(last), args.data)
    (Path(last).parent / "top1.json").write_text(json.dumps(top1, indent=2) + "\n")
    print(json.dumps(top1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
