"""Backbone features of training photos for PixColor over the gray backbone (torch-free).

Issue #20: the conditioning network of Guadarrama et al. 2017 is a pretrained ResNet-101
(§3, Fig. 4); ours becomes the shared, frozen gray EfficientNet-Lite0 of
:mod:`core.backbones` at 224 px (:data:`colorize_pixcolor.BB_WORKING_SIZE`), the paper's
input size. Frozen, its levels are computed once per photo and cached; the adaptation
network and the PixelCNN train from the cache (:mod:`colorize_pixcolor.train_backbone`).

Each photo is scaled to a 224 px short side and its centre 224 x 224 square kept (a
mirrored copy too with ``--flip``). The backbone sees what inference gives it: the
photo's luma Y (BT.601, the method's colour space) read as a gray value, i.e. CIE L* of
the gray Y. Targets are the Cr and Cb bins (32 per channel) of the 28 x 28 grid (area
down-sampling of the crop's chroma, Fig. 3). The held-out half of ``imagenet_sample``
(:func:`colorize_eval.semantic.held_out`) is never cached.

Files (rows: photos, then their mirrored copies)::

    meta.json           photos, backbone name and sha256, level shapes
    level-<name>.npy    (N, C, h, w) float16 for each name in BB_LEVELS
    bins.npy            (N, 2, 28, 28) uint8: Cr, Cb bin indices

Run::

    python -m colorize_pixcolor.features --data $COLORIZE_DATA/bsds500/images/train \
        --data $COLORIZE_DATA/imagenet_sample/images ... --out runs/pixcolor-bb/train --flip
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from colorize_pixcolor import BACKBONE, BB_GRID_STRIDE, BB_LEVELS, BB_WORKING_SIZE, N_BINS

__all__ = ["build_cache", "crop_square", "load_cache", "photo_list"]


def photo_list(folders: list[Path]) -> list[Path]:
    """Photos under ``folders`` (recursive, sorted), without the semantic test's held-out
    ``imagenet_sample`` half."""
    from colorize_eval.semantic import held_out

    from training.data import find_images

    excluded: set[Path] = set()
    photos: list[Path] = []
    for folder in map(Path, folders):
        if folder.name == "images" and folder.parent.name == "imagenet_sample":
            excluded |= {p.resolve() for p in held_out(folder.parent)}
        photos += find_images(folder)
    return [p for p in photos if p.resolve() not in excluded]


def crop_square(rgb: np.ndarray, side: int = BB_WORKING_SIZE) -> np.ndarray:
    """``rgb`` scaled to a ``side`` short side (area when shrinking, cubic when growing)
    and its centre ``side`` x ``side`` square."""
    h, w = rgb.shape[:2]
    scale = side / min(h, w)
    nh, nw = max(side, round(h * scale)), max(side, round(w * scale))
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    out = cv2.resize(rgb, (nw, nh), interpolation=interp)
    top, left = (nh - side) // 2, (nw - side) // 2
    return np.clip(out[top : top + side, left : left + side], 0.0, 1.0)


def _targets(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Y (H, W) and the (Cr, Cb) bins (2, H/8, W/8) of an RGB crop in [0, 1]."""
    from core.colorspaces.ycbcr import rgb_to_ycbcr

    ycc = rgb_to_ycbcr(rgb.astype(np.float32))
    y, chroma = ycc[..., 0], np.ascontiguousarray(ycc[..., :0:-1])  # (Cr, Cb)
    h, w = y.shape
    low = cv2.resize(chroma, (w // BB_GRID_STRIDE, h // BB_GRID_STRIDE),
                     interpolation=cv2.INTER_AREA)
    bins = np.clip(np.floor((low + 0.5) * N_BINS), 0, N_BINS - 1).astype(np.uint8)
    return np.ascontiguousarray(y), bins.transpose(2, 0, 1)


def build_cache(photos: list[Path], out: Path, *, flip: bool = False,
                progress: bool = True) -> Path:
    """Compute and write the cache of ``photos`` into ``out`` (kept if complete)."""
    from core.backbones import get_backbone
    from core.colorspaces.lab import LabSpace

    out = Path(out)
    if (out / "meta.json").is_file():
        return out
    if not photos:
        raise ValueError("no photos to cache")
    backbone, lab = get_backbone(BACKBONE), LabSpace()
    side, grid = BB_WORKING_SIZE, BB_WORKING_SIZE // BB_GRID_STRIDE
    probe = backbone.features(np.zeros((side, side), np.float32))
    n = len(photos) * (2 if flip else 1)
    out.mkdir(parents=True, exist_ok=True)
    levels = {
        k: np.lib.format.open_memmap(out / f"level-{k}.npy", "w+", np.float16, (n, *probe[k].shape))
        for k in BB_LEVELS
    }
    bins = np.lib.format.open_memmap(out / "bins.npy", "w+", np.uint8, (n, 2, grid, grid))
    used = np.zeros(n, bool)
    iterator: Any = enumerate(photos)
    if progress:
        from tqdm import tqdm

        iterator = tqdm(iterator, total=len(photos), desc="backbone features")
    for i, path in iterator:
        bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if bgr is None:
            continue  # unreadable: the row stays unused
        crop = crop_square(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB).astype(np.float32) / 255.0)
        for k, mirrored in enumerate((False, True) if flip else (False,)):
            row = i + k * len(photos)
            y, target = _targets(np.ascontiguousarray(crop[:, ::-1] if mirrored else crop))
            feats = backbone.features(lab.gray_lightness(y).astype(np.float32))
            for name in BB_LEVELS:
                levels[name][row] = feats[name]
            bins[row] = target
            used[row] = True
    for array in (*levels.values(), bins):
        array.flush()
    np.save(out / "used.npy", used)
    meta = {
        "photos": [str(p) for p in photos],
        "flip": flip,
        "rows": n,
        "usable": int(used.sum()),
        "side": side,
        "grid_stride": BB_GRID_STRIDE,
        "backbone": BACKBONE,
        "backbone_sha256": backbone.model_files()[0].sha256,
        "levels": {k: list(probe[k].shape) for k in BB_LEVELS},
    }
    (out / "meta.json").write_text(json.dumps(meta, indent=2))
    return out


def load_cache(folder: Path) -> dict[str, Any]:
    """The usable rows of a cache: ``levels`` (dict of arrays), ``bins`` and ``meta``."""
    folder = Path(folder)
    if not (folder / "meta.json").is_file():
        raise FileNotFoundError(f"{folder}: no complete feature cache (meta.json missing)")
    meta = json.loads((folder / "meta.json").read_text())
    used = np.load(folder / "used.npy")
    return {
        "meta": meta,
        "levels": {k: np.load(folder / f"level-{k}.npy", mmap_mode="r")[used] for k in BB_LEVELS},
        "bins": np.load(folder / "bins.npy", mmap_mode="r")[used],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m colorize_pixcolor.features")
    parser.add_argument("--data", action="append", required=True, type=Path,
                        help="folder of training photos (repeatable)")
    parser.add_argument("--out", required=True, type=Path, help="cache folder")
    parser.add_argument("--limit", type=int, default=None, help="at most this many photos")
    parser.add_argument("--every", type=int, default=1,
                        help="keep every k-th photo only (k > 1: a validation split)")
    parser.add_argument("--offset", type=int, default=0, help="first photo of --every")
    parser.add_argument("--skip-every", type=int, default=0,
                        help="drop every k-th photo from offset (the validation split's)")
    parser.add_argument("--flip", action="store_true", help="also cache mirrored photos")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    photos = photo_list(args.data)
    if args.skip_every:
        photos = [p for i, p in enumerate(photos) if i % args.skip_every != args.offset]
    photos = photos[args.offset :: args.every] if args.every > 1 else photos
    if args.limit and len(photos) > args.limit:
        photos = [photos[i] for i in np.linspace(0, len(photos) - 1, args.limit).astype(int)]
    build_cache(photos, args.out, flip=args.flip, progress=not args.no_progress)
    print(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
