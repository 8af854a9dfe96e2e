"""Training data: image folders, split files, CamVid-style pairs and augmentation.

Sources
-------
* a folder of images, searched recursively;
* a folder with split sub-folders (``train/``, ``val/``, ``test/``): the
  config's ``train_splits`` are trained on, ``val_split`` validates;
* a split file: a text file with one image per line, relative to the file's
  folder, optionally followed by a label image (CamVid's ``train.txt``:
  ``train/0001TP_006690.jpg trainannot/0001TP_006690.png``).

Images are decoded once into memory at a reduced size (``cache_size`` short
side; JPEG draft mode makes this fast) and every batch is cut from them with
random square crops of random scale, random horizontal flips and a resize to
``crop`` pixels. Corrupt and grayscale files are skipped with one warning each
and counted in the data summary. Batches are a pure function of
``(seed, step)``, so a resumed run sees exactly the batches the uninterrupted
run would have seen, in any process layout.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, UnidentifiedImageError

__all__ = [
    "IMAGE_EXTENSIONS",
    "Batcher",
    "DataSummary",
    "ImageSet",
    "decode_photo",
    "find_images",
    "load_images",
    "read_split_file",
    "resolve_sources",
    "working_images",
]

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")

#: An RGB image whose channels never differ by more than this (of 255) is gray.
GRAY_TOLERANCE = 3

Item = tuple[Path, "Path | None"]


def find_images(folder: str | os.PathLike) -> list[Path]:
    """Image files under ``folder`` (recursive), sorted; hidden files are ignored."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: not a folder of images")
    return sorted(
        p
        for p in folder.rglob("*")
        if p.suffix.lower() in IMAGE_EXTENSIONS and not p.name.startswith(".") and p.is_file()
    )


def read_split_file(path: str | os.PathLike) -> list[Item]:
    """Read a split file: ``image [label]`` per line, paths relative to the file's folder.

    Blank lines and lines starting with ``#`` are ignored.

    Raises
    ------
    ValueError
        If a line has more than two fields.
    """
    path = Path(path)
    items: list[Item] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        fields = line.split()
        if len(fields) > 2:
            raise ValueError(f"{path}:{number}: expected 'image [label]', got {line!r}")
        image = path.parent / fields[0]
        label = path.parent / fields[1] if len(fields) == 2 else None
        items.append((image, label))
    return items


def _items(source: Path) -> list[Item]:
    if source.is_file():
        return read_split_file(source)
    return [(p, None) for p in find_images(source)]


def resolve_sources(
    data: Sequence[str | os.PathLike],
    val: Sequence[str | os.PathLike] | None = None,
    *,
    train_splits: Sequence[str] = ("train",),
    val_split: str = "val",
    val_fraction: float = 0.05,
) -> tuple[list[Item], list[Item], dict]:
    """Turn ``--data`` / ``--val`` arguments into training and validation items.

    A ``--data`` folder that has any of ``train_splits`` as sub-folders (or
    ``<split>.txt`` split files) contributes those splits, and its ``val_split``
    validates unless ``val`` is given. Other folders are trained on whole. When
    no validation data results, every ``1/val_fraction``-th image is held out.

    Returns
    -------
    train, val : list of (image path, label path or None)
    sources : dict
        Which folders or files went where (for the data summary).
    """
    train_items: list[Item] = []
    val_items: list[Item] = []
    used: dict[str, list[str]] = {"train": [], "val": []}
    for entry in data:
        root = Path(entry)
        if not root.exists():
            raise FileNotFoundError(f"{root}: no such folder or split file (--data)")
        splits = [s for s in train_splits if (root / s).is_dir() or (root / f"{s}.txt").is_file()]
        if root.is_dir() and splits:
            for split in splits:
                source = root / split if (root / split).is_dir() else root / f"{split}.txt"
                train_items += _items(source)
                used["train"].append(str(source))
            if val is None:
                for candidate in (root / val_split, root / f"{val_split}.txt"):
                    if candidate.exists():
                        val_items += _items(candidate)
                        used["val"].append(str(candidate))
                        break
        else:
            train_items += _items(root)
            used["train"].append(str(root))
    for entry in val or ():
        root = Path(entry)
        if not root.exists():
            raise FileNotFoundError(f"{root}: no such folder or split file (--val)")
        val_items += _items(root)
        used["val"].append(str(root))
    if not train_items:
        raise ValueError(f"no training images found in {', '.join(map(str, data))}")
    if not val_items and val_fraction > 0:
        every = max(2, round(1 / val_fraction))
        val_items = train_items[::every]
        held = set(id(i) for i in val_items)
        train_items = [i for i in train_items if id(i) not in held]
        used["val"].append(f"every {every}th training image (held out)")
    return train_items, val_items, used


@dataclass
class DataSummary:
    """What was loaded: counts, skipped files and their reasons, sources."""

    images: int = 0
    skipped_corrupt: int = 0
    skipped_gray: int = 0
    skipped: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "images": self.images,
            "skipped_corrupt": self.skipped_corrupt,
            "skipped_gray": self.skipped_gray,
            "skipped": self.skipped[:50],
            "sources": self.sources,
        }


@dataclass
class ImageSet:
    """Decoded images (uint8 RGB, short side ~``cache_size``) and optional label maps."""

    images: list[np.ndarray]
    labels: list[np.ndarray | None]
    paths: list[Path]
    summary: DataSummary

    def __len__(self) -> int:
        return len(self.images)


def decode_photo(path: Path, short_side: int | None) -> tuple[np.ndarray | None, str]:
    """Decode one image to uint8 RGB at about ``short_side`` (None: full size).

    Returns ``(rgb, "")``, or ``(None, problem)`` for a gray (``"gray"``) or unreadable
    (``"corrupt (...)"``) file: what :func:`load_images` skips with a warning."""
    try:
        with Image.open(path) as image:
            if short_side and image.format == "JPEG":
                w, h = image.size
                scale = short_side / min(w, h)
                image.draft("RGB", (max(1, int(w * scale)), max(1, int(h * scale))))
            mode = image.mode
            if mode in ("1", "L", "LA", "I", "I;16", "F"):
                return None, "gray"
            rgb = np.asarray(image.convert("RGB"))
    except (OSError, UnidentifiedImageError, ValueError, SyntaxError) as exc:
        return None, f"corrupt ({type(exc).__name__}: {exc})"
    if rgb.size == 0:
        return None, "corrupt (empty image)"
    spread = rgb.max(axis=2).astype(np.int16) - rgb.min(axis=2)
    if int(spread.max()) <= GRAY_TOLERANCE:
        return None, "gray"
    if short_side:
        h, w = rgb.shape[:2]
        scale = short_side / min(h, w)
        if scale < 1:
            size = (max(1, round(w * scale)), max(1, round(h * scale)))
            rgb = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(rgb), ""


def _decode_label(path: Path, shape: tuple[int, int]) -> np.ndarray:
    with Image.open(path) as label:
        array = np.asarray(label)
    if array.ndim != 2:
        raise ValueError(f"{path}: expected a single-channel label image, got shape {array.shape}")
    return cv2.resize(array, (shape[1], shape[0]), interpolation=cv2.INTER_NEAREST)


def load_images(
    items: Sequence[Item],
    *,
    short_side: int | None = 96,
    threads: int = 2,
    progress: bool = True,
    desc: str = "loading images",
) -> ImageSet:
    """Decode ``items`` into memory, skipping corrupt and grayscale files with a warning.

    Parameters
    ----------
    items : sequence of (image path, label path or None)
    short_side : int or None
        Images larger than this are downscaled to this short side (None: keep).
    threads : int
        Decoder threads.
    """
    from tqdm import tqdm

    summary = DataSummary(sources=sorted({str(Path(i[0]).parent) for i in items})[:20])
    images: list[np.ndarray] = []
    labels: list[np.ndarray | None] = []
    paths: list[Path] = []
    with ThreadPoolExecutor(max(1, threads)) as pool:
        decoded = pool.map(lambda item: decode_photo(Path(item[0]), short_side), items)
        for (path, label_path), (rgb, problem) in tqdm(
            zip(items, decoded, strict=True),
            total=len(items),
            desc=desc,
            disable=not progress,
            leave=False,
        ):
            if rgb is None:
                if problem == "gray":
                    summary.skipped_gray += 1
                else:
                    summary.skipped_corrupt += 1
                summary.skipped.append(f"{path}: {problem}")
                warnings.warn(f"{path}: skipped, {problem} image", RuntimeWarning, stacklevel=2)
                continue
            images.append(rgb)
            labels.append(
                None if label_path is None else _decode_label(Path(label_path), rgb.shape[:2])
            )
            paths.append(Path(path))
    summary.images = len(images)
    if not images:
        raise ValueError("no usable colour images (all files were corrupt or grayscale)")
    return ImageSet(images, labels, paths, summary)


def _rng(seed: int, *keys: int) -> np.random.Generator:
    return np.random.default_rng([int(seed) & 0xFFFFFFFF, *[int(k) for k in keys]])


def random_crop(
    image: np.ndarray,
    label: np.ndarray | None,
    rng: np.random.Generator,
    *,
    crop: int,
    scale: tuple[float, float],
    hflip: bool,
) -> tuple[np.ndarray, np.ndarray | None]:
    """One augmented ``crop`` x ``crop`` sample: random square of random scale, flip, resize."""
    h, w = image.shape[:2]
    side = min(h, w)
    size = max(1, round(side * rng.uniform(*scale)))
    top = int(rng.integers(0, h - size + 1))
    left = int(rng.integers(0, w - size + 1))
    patch = image[top : top + size, left : left + size]
    interp = cv2.INTER_AREA if size > crop else cv2.INTER_LINEAR
    patch = cv2.resize(patch, (crop, crop), interpolation=interp)
    out_label = None
    if label is not None:
        out_label = cv2.resize(
            label[top : top + size, left : left + size],
            (crop, crop),
            interpolation=cv2.INTER_NEAREST,
        )
    if hflip and rng.random() < 0.5:
        patch = patch[:, ::-1]
        out_label = None if out_label is None else out_label[:, ::-1]
    return np.ascontiguousarray(patch), (
        None if out_label is None else np.ascontiguousarray(out_label)
    )


class Batcher:
    """Deterministic augmented batches: ``batch(step)`` depends only on (seed, step, rank).

    Every epoch is a seeded permutation of the images; step ``s`` takes the
    ``s``-th block of ``batch_size * world_size`` indices and this rank its
    ``batch_size`` slice, so data-parallel ranks see disjoint samples.
    """

    def __init__(
        self,
        data: ImageSet,
        *,
        batch_size: int,
        crop: int = 64,
        scale: tuple[float, float] = (0.5, 1.0),
        hflip: bool = True,
        seed: int = 0,
        rank: int = 0,
        world_size: int = 1,
    ):
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.data = data
        self.batch_size = batch_size
        self.crop = crop
        self.scale = (float(scale[0]), float(scale[1]))
        self.hflip = hflip
        self.seed = seed
        self.rank = rank
        self.world_size = world_size
        self.global_batch = batch_size * world_size
        self.steps_per_epoch = max(1, len(data) // self.global_batch)

    def indices(self, step: int) -> np.ndarray:
        epoch, position = divmod(step, self.steps_per_epoch)
        n = len(self.data)
        order = _rng(self.seed, 1, epoch).permutation(n)
        if n < self.global_batch:  # tiny sets: repeat the permutation
            order = np.resize(order, self.global_batch)
        block = order[position * self.global_batch : (position + 1) * self.global_batch]
        return block[self.rank * self.batch_size : (self.rank + 1) * self.batch_size]

    def batch(self, step: int) -> tuple[np.ndarray, np.ndarray | None]:
        """(images uint8 (N, crop, crop, 3), labels (N, crop, crop) or None) for ``step``."""
        images, labels = [], []
        for slot, index in enumerate(self.indices(step)):
            rng = _rng(self.seed, 2, step, self.rank * self.batch_size + slot)
            image, label = random_crop(
                self.data.images[index],
                self.data.labels[index],
                rng,
                crop=self.crop,
                scale=self.scale,
                hflip=self.hflip,
            )
            images.append(image)
            labels.append(label)
        stacked_labels = None if any(lbl is None for lbl in labels) else np.stack(labels)
        return np.stack(images), stacked_labels


def working_images(data: ImageSet, working_size: int, multiple: int = 1) -> list[np.ndarray]:
    """Whole images resized so the short side is ``working_size`` (rounded up to ``multiple``).

    This is what a method sees at inference time (the core resizes to the
    method's working shape), so validation uses it instead of crops.
    """
    out = []
    for image in data.images:
        h, w = image.shape[:2]
        scale = working_size / min(h, w)
        th = int(np.ceil(max(1, round(h * scale)) / multiple) * multiple)
        tw = int(np.ceil(max(1, round(w * scale)) / multiple) * multiple)
        interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
        out.append(cv2.resize(image, (tw, th), interpolation=interp))
    return out
