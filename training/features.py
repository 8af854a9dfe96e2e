"""A disk cache of frozen-backbone features, so heads train in minutes on a CPU.

Larsson et al. (2016, §3.5) train on sparse hypercolumns; with a frozen backbone the
expensive part, the backbone pass, is the same at every epoch, so it is done once here.
Every image is resized to a ``size`` short side and centre-cropped to ``size`` x ``size``
(a multiple of 32); the cache stores, as float16 ``.npy`` arrays opened with memmap:

* one array per pyramid level (``f4``, ``f8``, ``f16``, ``f32``, ``head`` by default),
  (N, C, size / s, size / s);
* ``lightness4`` (N, 1, size / 4, size / 4): CIE L* average-pooled 4 x 4 (the head's
  own lightness input, the paper's "data" hypercolumn layer);
* ``rgb4`` (N, size / 4, size / 4, 3) uint8: the photo area-averaged to the head's
  output grid, the targets of every Table 1 variant.

Building is resumable: ``meta.json`` records how many images are complete (written
after each chunk, atomically); a second call with the same images, size, levels and
backbone digest continues from there, a call with other ones is refused. The expected
size is computed first and refused above ``max_gb``.

Usage::

    python -m training.features --backbone runs/backbone/last.pt --out runs/features
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F

__all__ = ["DEFAULT_LEVELS", "FeatureCache", "build_cache", "main"]

DEFAULT_LEVELS = ("f4", "f8", "f16", "f32", "head")
META = "meta.json"


def _crop(rgb: np.ndarray, size: int) -> np.ndarray:
    h, w = rgb.shape[:2]
    scale = size / min(h, w)
    nh, nw = max(size, round(h * scale)), max(size, round(w * scale))
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    rgb = cv2.resize(rgb, (nw, nh), interpolation=interp)
    top, left = (nh - size) // 2, (nw - size) // 2
    return rgb[top : top + size, left : left + size]


def _write_meta(folder: Path, meta: dict) -> None:
    tmp = folder / (META + ".tmp")
    tmp.write_text(json.dumps(meta, indent=1), encoding="utf-8")
    os.replace(tmp, folder / META)


class FeatureCache:
    """A built (or partly built) cache, opened read-only with memmap.

    Attributes
    ----------
    meta : dict
        ``images`` (paths), ``size``, ``levels``, ``shapes``, ``done``, ``backbone``.
    """

    def __init__(self, folder: str | os.PathLike):
        self.folder = Path(folder)
        meta_path = self.folder / META
        if not meta_path.is_file():
            raise FileNotFoundError(f"{self.folder}: not a feature cache (no {META})")
        self.meta = json.loads(meta_path.read_text(encoding="utf-8"))

    def __len__(self) -> int:
        return int(self.meta["done"])

    def array(self, name: str, load: bool = False) -> np.ndarray:
        """Array ``name`` (a level, ``lightness4`` or ``rgb4``), first ``len(self)`` rows."""
        array = np.load(self.folder / f"{name}.npy", mmap_mode="r")[: len(self)]
        return np.ascontiguousarray(array) if load else array


def _shapes(size: int, levels, channels, strides) -> dict[str, tuple]:
    shapes = {lvl: (channels[lvl], size // strides[lvl], size // strides[lvl]) for lvl in levels}
    shapes["lightness4"] = (1, size // 4, size // 4)
    shapes["rgb4"] = (size // 4, size // 4, 3)
    return shapes


def build_cache(
    backbone: torch.nn.Module,
    paths: list[Path],
    out: str | os.PathLike,
    *,
    size: int = 160,
    levels=DEFAULT_LEVELS,
    chunk: int = 32,
    max_gb: float = 8.0,
    threads: int = 2,
    progress: bool = True,
    stop_after: int | None = None,
) -> FeatureCache:
    """Build (or resume) the cache of ``backbone`` features of ``paths`` in ``out``.

    Parameters
    ----------
    backbone : GrayBackbone
        Its ``pyramid(lightness)`` gives the levels.
    stop_after : int, optional
        Stop after this many chunks (tests use it to simulate an interruption).

    Raises
    ------
    ValueError
        If the cache would exceed ``max_gb``, or ``out`` holds a cache of other images,
        size, levels or backbone weights.
    """
    from tqdm import tqdm

    from training.backbone import LEVEL_CHANNELS, LEVEL_STRIDES
    from training.data import load_images
    from training.lab import rgb_to_lab
    from training.trainer import state_digest

    if size % 32:
        raise ValueError(f"size must be a multiple of 32, got {size}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    shapes = _shapes(size, levels, LEVEL_CHANNELS, LEVEL_STRIDES)
    n = len(paths)
    total = sum(n * int(np.prod(s)) * (1 if k == "rgb4" else 2) for k, s in shapes.items())
    if total > max_gb * 1e9:
        raise ValueError(
            f"{out}: the cache would take {total / 1e9:.1f} GB (> max_gb={max_gb}); use fewer "
            "images, a smaller size or fewer levels"
        )
    identity = {
        "images": [str(p) for p in paths],
        "size": size,
        "levels": list(levels),
        "shapes": {k: list(v) for k, v in shapes.items()},
        "backbone": state_digest(backbone),
    }
    digest = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()
    meta_path = out / META
    if meta_path.is_file():
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        if meta.get("digest") != digest:
            raise ValueError(
                f"{out}: holds a feature cache of other images, size, levels or backbone "
                "weights; choose another folder or delete it"
            )
        mode = "r+"
    else:
        meta = {**identity, "digest": digest, "done": 0, "skipped": []}
        mode = "w+"
    arrays = {}
    for name, shape in shapes.items():
        dtype = np.uint8 if name == "rgb4" else np.float16
        file = out / f"{name}.npy"
        if mode == "w+" or not file.is_file():
            arrays[name] = np.lib.format.open_memmap(file, "w+", dtype, (n, *shape))
        else:
            arrays[name] = np.load(file, mmap_mode="r+")
    _write_meta(out, meta)
    backbone = backbone.eval()
    done = int(meta["done"])
    bar = tqdm(total=n, initial=done, desc="caching features", disable=not progress)
    chunks = 0
    with torch.no_grad():
        while done < n:
            if stop_after is not None and chunks >= stop_after:
                break
            batch_paths = paths[done : done + chunk]
            loaded = load_images(
                [(p, None) for p in batch_paths], short_side=size, threads=threads,
                progress=False,
            ) if batch_paths else None
            rgbs = {p: img for p, img in zip(loaded.paths, loaded.images, strict=True)}
            crops = []
            for p in batch_paths:
                img = rgbs.get(Path(p))
                if img is None:  # gray or corrupt: keep the row, mark it
                    meta["skipped"].append(str(p))
                    img = np.zeros((size, size, 3), np.uint8)
                crops.append(_crop(img, size))
            rgb = torch.from_numpy(np.stack(crops)).permute(0, 3, 1, 2).float() / 255.0
            lightness = rgb_to_lab(rgb)[:, :1]
            pyramid = backbone.pyramid(lightness)
            stop = done + len(batch_paths)
            for lvl in levels:
                arrays[lvl][done:stop] = pyramid[lvl].numpy().astype(np.float16)
            arrays["lightness4"][done:stop] = F.avg_pool2d(lightness, 4).numpy()
            small = [cv2.resize(c, (size // 4, size // 4), interpolation=cv2.INTER_AREA)
                     for c in crops]
            arrays["rgb4"][done:stop] = np.stack(small)
            for array in arrays.values():
                array.flush()
            done = stop
            meta["done"] = done
            _write_meta(out, meta)
            bar.update(len(batch_paths))
            chunks += 1
    bar.close()
    return FeatureCache(out)


def main(argv: list[str] | None = None) -> int:
    from training.backbone_adapt import HEAD_SOURCES, load_adapted, training_items

    parser = argparse.ArgumentParser(
        prog="python -m training.features", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--backbone", type=Path, required=True, help="gray-adaptation checkpoint")
    parser.add_argument("--data", default=os.environ.get("COLORIZE_DATA", "../shared/datasets"))
    parser.add_argument("--source", action="append", help="folders of --data (default: all)")
    parser.add_argument("--out", type=Path, default=Path("runs/features"))
    parser.add_argument("--size", type=int, default=160)
    parser.add_argument("--max-gb", type=float, default=8.0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--limit", type=int, help="first N images only (smoke runs)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    paths = training_items(args.data, tuple(args.source) if args.source else HEAD_SOURCES)
    if args.limit:
        paths = paths[: args.limit]
    cache = build_cache(load_adapted(args.backbone), paths, args.out, size=args.size,
                        max_gb=args.max_gb, threads=args.threads)
    print(f"{args.out}: {len(cache)} images cached ({len(cache.meta['skipped'])} skipped)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
