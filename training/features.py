"""A disk cache of frozen-backbone features, so heads train in minutes on a CPU.

Larsson et al. (2016, §3.5) train on sparse hypercolumns; with a frozen backbone the
expensive part, the backbone pass, is the same at every epoch, so it is done once here.
Every image is resized to a ``size`` short side and centre-cropped to ``size`` x ``size``
(a multiple of 32); with ``crops=K > 1`` each photo gives K rows: the centre crop and
K - 1 zoomed crops (0.6-0.9 of the short side) at seeded positions, so the heads see
more than the centre of the extra photos. The cache stores, as float16 ``.npy`` arrays
opened with memmap:

* one array per pyramid level (``f4``, ``f8``, ``f16``, ``f32``, ``head`` by default),
  (N, C, size / s, size / s);
* ``lightness4`` (N, 1, size / 4, size / 4): CIE L* average-pooled 4 x 4 (the head's
  own lightness input, the paper's "data" hypercolumn layer);
* ``rgb4`` (N, size / 4, size / 4, 3) uint8: the photo area-averaged to the head's
  output grid, the targets of every Table 1 variant.

Building is resumable: ``meta.json`` records how many rows are complete (written
after each chunk, atomically); a second call with the same images, crops, size, levels
and backbone digest continues from there, a call with other ones is refused. The
expected size is computed first and refused above ``max_gb``. ``meta["sources"]`` names
each row's source (the folder under ``--data`` or the extra-photo source), which the
head trainer uses to weight sources.

The backbone is a gray-adaptation checkpoint (``.pt``) or, by default, the shipped
ONNX graph of ``colorize-backbone`` run by ONNX Runtime (:class:`OnnxPyramid`), so a
cache can be built on a new machine from what is committed.

Usage::

    python -m training.features --out runs/features                 # shared datasets
    python -m training.features --extra /work/extra --per-source 2000 --crops 2 \
        --out runs/features-extra                                    # extra_photos.py DEST
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import warnings
import zlib
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F

__all__ = [
    "DEFAULT_LEVELS", "FeatureCache", "OnnxPyramid", "build_cache", "decode_side",
    "extra_items", "main", "row_photos", "source_of",
]

DEFAULT_LEVELS = ("f4", "f8", "f16", "f32", "head")
META = "meta.json"
#: Short side at which photos are decoded, relative to ``size``, when zoomed crops are cut.
_ZOOM_DECODE = 1 / 0.6


def _crop(rgb: np.ndarray, size: int, index: int = 0, key: str = "") -> np.ndarray:
    """Crop ``index`` of a photo as ``size`` x ``size``: 0 is the centre of the full short
    side, others a seeded square of 0.6-0.9 of the short side (seeded by ``key``, index)."""
    h, w = rgb.shape[:2]
    side = min(h, w)
    if index == 0:
        top, left = (h - side) // 2, (w - side) // 2
    else:
        rng = np.random.default_rng([zlib.crc32(key.encode()), index])
        side = max(1, round(side * rng.uniform(0.6, 0.9)))
        top = int(rng.integers(0, h - side + 1))
        left = int(rng.integers(0, w - side + 1))
    square = rgb[top : top + side, left : left + side]
    interp = cv2.INTER_AREA if side > size else cv2.INTER_LINEAR
    return cv2.resize(square, (size, size), interpolation=interp)


def decode_side(size: int, crops: int) -> int:
    """Short side at which :func:`build_cache` decodes photos cut into ``crops`` rows."""
    return size if crops == 1 else round(size * _ZOOM_DECODE)


def row_photos(meta: dict) -> list[tuple[Path, int]]:
    """(photo, crop index) of every row named in a cache's ``meta["images"]``.

    Rows of a cache built with ``crops > 1`` are named ``<path>#<index>``.
    """
    if int(meta.get("crops", 1)) == 1:
        return [(Path(name), 0) for name in meta["images"]]
    out = []
    for name in meta["images"]:
        path, _, index = name.rpartition("#")
        out.append((Path(path), int(index)))
    return out


def source_of(path: str | os.PathLike, roots: dict[str, Path]) -> str:
    """The source name of ``path``: the first of ``roots`` (name -> folder) holding it."""
    path = Path(path)
    for name, root in roots.items():
        if path.is_relative_to(root):
            return name
    return path.parent.name


def extra_items(dest: str | os.PathLike, *, per_source: int | None = None,
                sources: list[str] | None = None, seed: int = 0) -> list[Path]:
    """Photos written by ``shared/tools/extra_photos.py DEST`` (its ``<source>.txt`` lists).

    At most ``per_source`` photos of each source, a seeded random choice kept in list
    order, so the same arguments always give the same list.
    """
    dest = Path(dest)
    lists = sorted(dest.glob("*.txt"))
    if not lists:
        raise FileNotFoundError(f"{dest}: no <source>.txt lists (run extra_photos.py first)")
    out: list[Path] = []
    for listing in lists:
        if sources and listing.stem not in sources:
            continue
        names = [n for n in listing.read_text(encoding="utf-8").split("\n") if n.strip()]
        if per_source is not None and len(names) > per_source:
            rng = np.random.default_rng([seed, zlib.crc32(listing.stem.encode())])
            names = [names[i] for i in sorted(rng.choice(len(names), per_source, replace=False))]
        out += [dest / n for n in names]
    return out


class OnnxPyramid:
    """The shipped gray backbone graph as a ``pyramid(lightness)`` for :func:`build_cache`.

    Runs ``efficientnet-lite0-gray.onnx`` (or ``path``) with ONNX Runtime on batches of
    L* (N, 1, H, W) tensors and returns the levels as float32 tensors; ``digest`` is the
    graph file's sha256 (the cache's backbone identity).
    """

    def __init__(self, path: str | os.PathLike | None = None, threads: int = 2):
        import onnxruntime as ort

        if path is None:
            from core.backbones import get_backbone

            path = get_backbone("efficientnet-lite0-gray").path
        self.path = Path(path)
        self.digest = hashlib.sha256(self.path.read_bytes()).hexdigest()
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        self.session = ort.InferenceSession(str(self.path), options,
                                            providers=["CPUExecutionProvider"])
        self.levels = [o.name for o in self.session.get_outputs()]

    def eval(self) -> OnnxPyramid:
        return self

    def pyramid(self, lightness: torch.Tensor) -> dict[str, torch.Tensor]:
        outs = self.session.run(None, {"lightness": lightness.numpy().astype(np.float32)})
        return {k: torch.from_numpy(v) for k, v in zip(self.levels, outs, strict=True)}


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
    backbone: torch.nn.Module | OnnxPyramid,
    paths: list[Path],
    out: str | os.PathLike,
    *,
    size: int = 160,
    crops: int = 1,
    sources: list[str] | None = None,
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
    backbone : GrayBackbone or OnnxPyramid
        Its ``pyramid(lightness)`` gives the levels.
    crops : int
        Rows per photo (the centre crop, then zoomed crops; see the module doc).
    sources : list of str, optional
        The source name of each photo (``meta["sources"]``, one per row).
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
    if crops < 1:
        raise ValueError(f"crops must be at least 1, got {crops}")
    shapes = _shapes(size, levels, LEVEL_CHANNELS, LEVEL_STRIDES)
    rows = [(Path(p), k) for p in paths for k in range(crops)]
    names = [str(p) if crops == 1 else f"{p}#{k}" for p, k in rows]
    n = len(rows)
    total = sum(n * int(np.prod(s)) * (1 if k == "rgb4" else 2) for k, s in shapes.items())
    if total > max_gb * 1e9:
        raise ValueError(
            f"{out}: the cache would take {total / 1e9:.1f} GB (> max_gb={max_gb}); use fewer "
            "images, a smaller size or fewer levels"
        )
    digest_of = getattr(backbone, "digest", None)
    identity = {
        "images": names,
        "size": size,
        "levels": list(levels),
        "shapes": {k: list(v) for k, v in shapes.items()},
        "backbone": digest_of if isinstance(digest_of, str) else state_digest(backbone),
    }
    if crops > 1:
        identity["crops"] = crops
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
        if sources is not None:
            if len(sources) != len(paths):
                raise ValueError(f"{len(sources)} sources for {len(paths)} photos")
            meta["sources"] = [s for s in sources for _ in range(crops)]
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
            batch_rows = rows[done : done + chunk]
            photos = list(dict.fromkeys(p for p, _ in batch_rows))
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # skipped rows are in meta
                loaded = load_images(
                    [(p, None) for p in photos],
                    short_side=decode_side(size, crops),
                    threads=threads, progress=False,
                )
            rgbs = {p: img for p, img in zip(loaded.paths, loaded.images, strict=True)}
            cut = []
            for (p, k), name in zip(batch_rows, names[done : done + chunk], strict=True):
                img = rgbs.get(p)
                if img is None:  # gray or corrupt: keep the row, mark it
                    meta["skipped"].append(name)
                    cut.append(np.zeros((size, size, 3), np.uint8))
                else:
                    cut.append(_crop(img, size, k, str(p)))
            rgb = torch.from_numpy(np.stack(cut)).permute(0, 3, 1, 2).float() / 255.0
            lightness = rgb_to_lab(rgb)[:, :1]
            pyramid = backbone.pyramid(lightness)
            stop = done + len(batch_rows)
            for lvl in levels:
                arrays[lvl][done:stop] = pyramid[lvl].numpy().astype(np.float16)
            arrays["lightness4"][done:stop] = F.avg_pool2d(lightness, 4).numpy()
            small = [cv2.resize(c, (size // 4, size // 4), interpolation=cv2.INTER_AREA)
                     for c in cut]
            arrays["rgb4"][done:stop] = np.stack(small)
            for array in arrays.values():
                array.flush()
            done = stop
            meta["done"] = done
            _write_meta(out, meta)
            bar.update(len(batch_rows))
            chunks += 1
    bar.close()
    return FeatureCache(out)


def main(argv: list[str] | None = None) -> int:
    from training.backbone_adapt import HEAD_SOURCES, load_adapted, training_items

    parser = argparse.ArgumentParser(
        prog="python -m training.features", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--backbone", type=Path,
                        help="gray-adaptation checkpoint (.pt) or gray backbone graph (.onnx); "
                        "default: the shipped efficientnet-lite0-gray.onnx")
    parser.add_argument("--data", default=os.environ.get("COLORIZE_DATA", "../shared/datasets"))
    parser.add_argument("--source", action="append", help="folders of --data (default: all), "
                        "or with --extra the extra-photo sources (default: all)")
    parser.add_argument("--extra", type=Path, metavar="DEST",
                        help="cache the photos of extra_photos.py DEST instead of --data")
    parser.add_argument("--per-source", type=int, help="with --extra: at most N photos a source")
    parser.add_argument("--crops", type=int, default=1, help="rows per photo (centre + zoomed)")
    parser.add_argument("--out", type=Path, default=Path("runs/features"))
    parser.add_argument("--size", type=int, default=160)
    parser.add_argument("--max-gb", type=float, default=8.0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--limit", type=int, help="first N images only (smoke runs)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.extra is not None:
        paths = extra_items(args.extra, per_source=args.per_source, sources=args.source)
        roots = {d.name: d.resolve() for d in sorted(args.extra.iterdir()) if d.is_dir()}
    else:
        chosen = tuple(args.source) if args.source else HEAD_SOURCES
        paths = training_items(args.data, chosen)
        roots = {s: (Path(args.data) / s).resolve() for s in chosen}
    if args.limit:
        paths = paths[: args.limit]
    sources = [source_of(Path(p).resolve(), roots) for p in paths]
    if args.backbone is None or args.backbone.suffix == ".onnx":
        backbone = OnnxPyramid(args.backbone, threads=args.threads)
    else:
        backbone = load_adapted(args.backbone)
    cache = build_cache(backbone, paths, args.out, size=args.size, crops=args.crops,
                        sources=sources, max_gb=args.max_gb, threads=args.threads)
    print(f"{args.out}: {len(cache)} rows cached ({len(cache.meta['skipped'])} skipped)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
