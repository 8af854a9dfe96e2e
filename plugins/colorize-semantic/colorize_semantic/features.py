"""Backbone features of CamVid photos, cached once for training over the gray backbone.

Issue #20 puts the ``semantic`` method on the shared gray ImageNet backbone
(:mod:`core.backbones`, ``efficientnet-lite0-gray``): Zhao et al. 2019 evaluate with a
pretrained DeepLab-ResNet-101 and note that starting from a pretrained network helps
(§4); here the backbone replaces the small shared bottom trained from scratch (the gray
rows of Tables 1-2). The backbone is frozen, so its pyramid is computed once per photo
(and once per mirrored photo, the only augmentation) and the heads train from the cache.

The photos are prepared exactly as inference prepares them: CIE L* at full resolution,
area-resized to the working shape (:data:`colorize_semantic.BB_WORKING_SIZE` px short side,
sides multiples of 32), the backbone's levels of that lightness. Targets: Lab (a, b) of
the full-resolution photo area-resized to the chroma grid (a 1/8 of the working shape),
and the label map (nearest) at half the working shape.

Files in the cache folder (one row per photo, mirrored rows after the originals)::

    meta.json            paths, shapes, backbone name and sha256, level names
    level-<name>.npy     (N, C, h, w) float16, one per level in BB_LEVELS
    ab.npy               (N, 2, H/8, W/8) float32, Lab a*, b*
    labels.npy           (N, H/2, W/2) uint8 (void = 11), when the split has labels

Run::

    python -m colorize_semantic.features --split $COLORIZE_DATA/camvid/train.txt \
        --out runs/semantic-bb/train --flip
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from colorize_semantic import BACKBONE, BB_GRID_STRIDE, BB_LEVELS, BB_WORKING_SIZE

__all__ = ["build_cache", "load_cache", "working_shape"]


def working_shape(height: int, width: int) -> tuple[int, int]:
    """The colorizer's working shape for a ``height`` x ``width`` photo over the backbone
    (:meth:`core.colorizer.Colorizer.working_shape` with a short side of
    :data:`BB_WORKING_SIZE` and sides multiples of 32, within the core's bounds)."""
    from core.colorizer import Colorizer

    class _Shape(Colorizer):
        working_size, size_multiple = BB_WORKING_SIZE, 32

        def predict(self, lightness, **options):  # pragma: no cover - never called
            raise NotImplementedError

    return _Shape().working_shape(height, width)


def build_cache(split: Path, out: Path, *, flip: bool = False, progress: bool = True) -> Path:
    """Compute and write the cache of ``split`` (a CamVid-style split file) into ``out``.

    An existing complete cache of the same split is kept (``meta.json`` is written last).
    """
    from core.backbones import get_backbone
    from core.colorspaces.lab import rgb_to_lab

    out = Path(out)
    if (out / "meta.json").is_file():
        return out
    from training.data import read_split_file

    rows = read_split_file(split)
    if not rows:
        raise ValueError(f"{split}: no photos listed")
    backbone = get_backbone(BACKBONE)
    first = cv2.imread(str(rows[0][0]), cv2.IMREAD_COLOR)
    if first is None:
        raise ValueError(f"{rows[0][0]}: cannot read the photo")
    shape = working_shape(*first.shape[:2])
    h, w = shape
    gh, gw = h // BB_GRID_STRIDE, w // BB_GRID_STRIDE
    n = len(rows) * (2 if flip else 1)
    has_labels = all(label is not None for _, label in rows)
    out.mkdir(parents=True, exist_ok=True)
    probe = backbone.features(np.zeros(shape, np.float32))
    levels = {
        name: np.lib.format.open_memmap(
            out / f"level-{name}.npy", "w+", np.float16, (n, *probe[name].shape)
        )
        for name in BB_LEVELS
    }
    ab = np.lib.format.open_memmap(out / "ab.npy", "w+", np.float32, (n, 2, gh, gw))
    labels = (
        np.lib.format.open_memmap(out / "labels.npy", "w+", np.uint8, (n, h // 2, w // 2))
        if has_labels
        else None
    )
    iterator: Any = enumerate(rows)
    if progress:
        from tqdm import tqdm

        iterator = tqdm(iterator, total=len(rows), desc=f"backbone features {Path(split).name}")
    for i, (image_path, label_path) in iterator:
        bgr = cv2.imread(str(image_path), cv2.IMREAD_COLOR)
        if bgr is None:
            raise ValueError(f"{image_path}: cannot read the photo")
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB).astype(np.float32) / 255.0
        label = None
        if labels is not None:
            label = cv2.imread(str(label_path), cv2.IMREAD_UNCHANGED)
            if label is None:
                raise ValueError(f"{label_path}: cannot read the label map")
        for k, mirrored in enumerate((False, True) if flip else (False,)):
            row = i + k * len(rows)
            photo = rgb[:, ::-1] if mirrored else rgb
            lab = rgb_to_lab(np.ascontiguousarray(photo)).astype(np.float32)
            light = cv2.resize(lab[..., 0], (w, h), interpolation=cv2.INTER_AREA)
            feats = backbone.features(light)
            for name in BB_LEVELS:
                levels[name][row] = feats[name]
            chroma = cv2.resize(lab[..., 1:], (gw, gh), interpolation=cv2.INTER_AREA)
            ab[row] = chroma.transpose(2, 0, 1)
            if labels is not None:
                lab_map = label[:, ::-1] if mirrored else label
                labels[row] = cv2.resize(
                    np.ascontiguousarray(lab_map), (w // 2, h // 2),
                    interpolation=cv2.INTER_NEAREST,
                )
    for array in (*levels.values(), ab, *([labels] if labels is not None else [])):
        array.flush()
    meta = {
        "split": str(split),
        "photos": [str(p) for p, _ in rows],
        "flip": flip,
        "rows": n,
        "working_shape": list(shape),
        "grid_stride": BB_GRID_STRIDE,
        "backbone": BACKBONE,
        "backbone_sha256": backbone.model_files()[0].sha256,
        "levels": {name: list(probe[name].shape) for name in BB_LEVELS},
        "labels": has_labels,
    }
    (out / "meta.json").write_text(json.dumps(meta, indent=2))
    return out


def load_cache(folder: Path) -> dict[str, Any]:
    """The arrays of a cache (memory-mapped) and its ``meta``."""
    folder = Path(folder)
    meta_path = folder / "meta.json"
    if not meta_path.is_file():
        raise FileNotFoundError(f"{folder}: no complete feature cache (meta.json missing)")
    meta = json.loads(meta_path.read_text())
    out: dict[str, Any] = {"meta": meta, "ab": np.load(folder / "ab.npy", mmap_mode="r")}
    out["levels"] = {
        name: np.load(folder / f"level-{name}.npy", mmap_mode="r") for name in BB_LEVELS
    }
    if meta.get("labels"):
        out["labels"] = np.load(folder / "labels.npy", mmap_mode="r")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m colorize_semantic.features")
    parser.add_argument("--split", required=True, type=Path, help="CamVid-style split file")
    parser.add_argument("--out", required=True, type=Path, help="cache folder")
    parser.add_argument("--flip", action="store_true", help="also cache mirrored photos")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    build_cache(args.split, args.out, flip=args.flip, progress=not args.no_progress)
    print(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
