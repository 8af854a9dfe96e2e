"""The held-out photos of the shared ``imagenet_sample`` folder and their class labels.

Every second photo (in file-name order) is held out: the semantic test
(:mod:`colorize_eval.semantic`) classifies those, and every training run (gray adaptation
of the backbone, :mod:`training.backbone_adapt`, the methods' heads and caches) leaves
them out. Numpy- and torch-free, so both sides can import it.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

__all__ = ["held_out", "labels"]


def held_out(imagenet_sample: str | os.PathLike) -> list[Path]:
    """The held-out photos of ``imagenet_sample``: every second file in name order.

    Parameters
    ----------
    imagenet_sample : path
        The ``imagenet_sample`` folder (with ``images/`` and ``labels.csv``).

    Returns
    -------
    list of Path
        487 of the 974 photos (those at odd positions of the sorted file names).
    """
    folder = Path(imagenet_sample) / "images"
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: not an imagenet_sample folder (no images/)")
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    return files[1::2]


def labels(imagenet_sample: str | os.PathLike) -> dict[str, int]:
    """ImageNet-1k class index of each photo of ``imagenet_sample``, by file name.

    Raises
    ------
    FileNotFoundError
        If the folder has no ``labels.csv``.
    """
    labels_file = Path(imagenet_sample) / "labels.csv"
    if not labels_file.is_file():
        raise FileNotFoundError(f"{labels_file}: not found (an imagenet_sample folder has one)")
    with open(labels_file, newline="", encoding="utf-8") as handle:
        return {row["file"]: int(row["class_index"]) for row in csv.DictReader(handle)}
