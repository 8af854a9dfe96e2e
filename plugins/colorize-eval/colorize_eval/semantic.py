"""The semantic test: does a colorization help an ImageNet classifier? (Zhang et al. 2016,
§3.1 "semantic interpretability"; He et al. 2018, Table 3).

The colour ImageNet network (EfficientNet-Lite0, unadapted: it was trained on colour
photos) classifies each held-out ``imagenet_sample`` photo three times: in true colour,
as gray, and as colorized by a method. A colorization that puts the right colours on the
right objects moves its top-1 from the gray figure towards the colour one.

The held-out half (:func:`training.splits.held_out`) is excluded from every training run
(gray adaptation and heads, :mod:`training.backbone_adapt`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from training.splits import held_out, labels

__all__ = ["semantic_test"]


def _classify(session, images: list[np.ndarray], size: int) -> np.ndarray:
    """Top-1 class of each float RGB image in [0, 1] (resized to ``size``, bicubic)."""
    batch = np.stack(
        [
            cv2.resize(np.clip(im, 0, 1) * 255.0, (size, size), interpolation=cv2.INTER_CUBIC)
            for im in images
        ]
    ).astype(np.float32)
    (logits,) = session.run(None, {"rgb": np.ascontiguousarray(batch.transpose(0, 3, 1, 2))})
    return logits.argmax(1)


def semantic_test(
    methods: list[str],
    imagenet_sample: str | os.PathLike,
    *,
    backbone: str = "efficientnet-lite0-gray",
    limit: int | None = None,
    size: int = 224,
    progress: bool = True,
    options: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Top-1 of the colour ImageNet classifier on true colour, gray and each method's output.

    Parameters
    ----------
    methods : list of str
        Methods to colorize the held-out photos with (automatic ones).
    imagenet_sample : path
        The ``imagenet_sample`` folder (``images/``, ``labels.csv``).
    backbone : str
        The installed backbone whose colour classifier judges (``Backbone.classifier``).
    limit : int, optional
        Use the first N held-out photos.
    size : int
        Classifier input size (photos are resized to ``size`` x ``size``).
    options : dict, optional
        Method options for every method (``colorize eval -O``).

    Returns
    -------
    dict
        ``{"top1": {"colour": f, "gray": f, "mean-tint": f, "true-28px": f, method: f, ...},
        "photos": n, "size": size}`` (the three baselines of ``colorize_eval.evaluate.BASELINES``).

    Raises
    ------
    FileNotFoundError
        If the folder or its ``labels.csv`` is missing.
    core.errors.ModelFileError
        If the backbone ships no colour classifier.
    """
    from tqdm import tqdm

    from colorize_eval.evaluate import BASELINES, baseline_prediction
    from core import api
    from core.backbones import get_backbone
    from core.errors import ModelFileError
    from core.io import load_image
    from core.runtime import get_session

    folder = Path(imagenet_sample)
    classes = labels(folder)
    files = held_out(folder)[:limit] if limit else held_out(folder)
    classifier = getattr(get_backbone(backbone), "classifier", None)
    if classifier is None or not Path(classifier).is_file():
        raise ModelFileError(f"backbone {backbone!r} ships no colour classifier")
    session = get_session(classifier)
    rows = ["colour", *BASELINES, *methods]
    correct = dict.fromkeys(rows, 0)
    for start in tqdm(range(0, len(files), 16), desc="semantic", disable=not progress or None):
        chunk = files[start : start + 16]
        truth = np.array([classes[p.name] for p in chunk])
        photos = [load_image(p).rgb() for p in chunk]
        outputs = {"colour": photos}
        for name in BASELINES:
            outputs[name] = [baseline_prediction(name, p) for p in photos]
        for method in methods:
            outputs[method] = [
                api.colorize_result(p, method, seed=0, **(options or {})).rgb for p in photos
            ]
        for row in rows:
            correct[row] += int((_classify(session, outputs[row], size) == truth).sum())
    return {
        "top1": {row: correct[row] / len(files) for row in rows},
        "photos": len(files),
        "size": size,
    }
