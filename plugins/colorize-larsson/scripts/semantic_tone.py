"""Semantic test taken apart: is a gap to gray the overall tone or the local colours?

The colour ImageNet classifier of ``colorize_eval.semantic`` (top-1 on the held-out half of
``imagenet_sample``) judges six versions of each photo: gray (a* = b* = 0), the method's
output, the output with its own mean a*, b* removed (no cast), the output shifted to the
photo's true mean a*, b* (the right overall tone, the method's local colours), the output's
chroma halved, and gray carrying only the true mean tint (the right tone, no local colour).
Lab is OpenCV's (float sRGB in [0, 1]); L* is untouched in every row.

Usage::

    python plugins/colorize-larsson/scripts/semantic_tone.py $COLORIZE_DATA/imagenet_sample \\
        --method larsson --out tone.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import cv2
import numpy as np

ROWS = (
    "gray",
    "method",
    "method-no-cast",
    "method-true-tone",
    "method-half-chroma",
    "true-tone-only",
)


def _lab(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(np.clip(rgb, 0, 1).astype(np.float32), cv2.COLOR_RGB2Lab)


def _rgb(lab: np.ndarray) -> np.ndarray:
    return np.clip(cv2.cvtColor(lab.astype(np.float32), cv2.COLOR_Lab2RGB), 0, 1)


def versions(true_rgb: np.ndarray, output_rgb: np.ndarray) -> dict[str, np.ndarray]:
    """The six versions of one photo (see the module doc), float RGB in [0, 1]."""
    true, out = _lab(true_rgb), _lab(output_rgb)
    gray = true.copy()
    gray[..., 1:] = 0
    own, right = out[..., 1:].mean((0, 1)), true[..., 1:].mean((0, 1))
    no_cast, true_tone, half, tint = out.copy(), out.copy(), out.copy(), gray.copy()
    no_cast[..., 1:] -= own
    true_tone[..., 1:] += right - own
    half[..., 1:] *= 0.5
    tint[..., 1:] = right
    return dict(zip(ROWS, map(_rgb, (gray, out, no_cast, true_tone, half, tint)), strict=True))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("imagenet_sample")
    parser.add_argument("--method", default="larsson")
    parser.add_argument("--limit", type=int)
    parser.add_argument("--out")
    args = parser.parse_args(argv)
    from colorize_eval.semantic import _classify

    from core import api
    from core.backbones import get_backbone
    from core.io import load_image
    from core.runtime import get_session
    from training.splits import held_out, labels

    folder = Path(args.imagenet_sample)
    classes, files = labels(folder), held_out(folder)[: args.limit]
    session = get_session(get_backbone("efficientnet-lite0-gray").classifier)
    correct = dict.fromkeys(ROWS, 0)
    for start in range(0, len(files), 16):
        chunk = files[start : start + 16]
        truth = np.array([classes[p.name] for p in chunk])
        batch: dict[str, list] = {row: [] for row in ROWS}
        for path in chunk:
            true = load_image(path).rgb()
            out = api.colorize_result(true, args.method, seed=0).rgb
            for row, image in versions(true, out).items():
                batch[row].append(image)
        for row in ROWS:
            correct[row] += int((_classify(session, batch[row], 224) == truth).sum())
    top1 = {row: correct[row] / len(files) for row in ROWS}
    for row in ROWS:
        print(f"| {row} | {100 * top1[row]:.1f} % |")
    if args.out:
        Path(args.out).write_text(
            json.dumps({"method": args.method, "photos": len(files), "top1": top1}, indent=2),
            encoding="utf-8",
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
