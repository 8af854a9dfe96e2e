"""Measure the exemplar method on BSDS500 test photos (figures for MODEL_CARD.md).

For each of the first N test photos (sorted by name), compares RMSE-alphabeta
(Larsson Eq. 10, :func:`core.metrics.rmse_alphabeta`) and PSNR of:

* ``gt-reference``: the photo's own colour image as the reference;
* ``random-reference``: another test photo as the reference (photo i+N/2 mod N);
* ``gray``: the lightness with zero chroma (baseline).

Usage: ``python plugins/colorize-exemplar/scripts/evaluate_exemplar.py --count 20``
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import numpy as np
from PIL import Image

import core
from core.colorspaces.lab import lab_to_rgb, rgb_to_lab
from core.metrics import psnr, rmse_alphabeta


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", default=os.environ.get("COLORIZE_DATA", "/work/shared/datasets"))
    parser.add_argument("--count", type=int, default=20)
    args = parser.parse_args()
    paths = sorted((Path(args.data) / "bsds500" / "images" / "test").glob("*.jpg"))[: args.count]
    photos = [np.asarray(Image.open(p).convert("RGB"), np.float32) / 255.0 for p in paths]
    rows = {"gt-reference": [], "random-reference": [], "gray": []}
    for i, rgb in enumerate(photos):
        lab = rgb_to_lab(rgb)
        lab[..., 1:] = 0
        other = photos[(i + len(photos) // 2) % len(photos)]
        outputs = {
            "gt-reference": core.colorize(rgb, "exemplar", reference=rgb),
            "random-reference": core.colorize(rgb, "exemplar", reference=other),
            "gray": np.clip(lab_to_rgb(lab), 0, 1),
        }
        for key, out in outputs.items():
            rows[key].append((rmse_alphabeta(out, rgb), psnr(out, rgb)))
    summary = {
        key: {
            "rmse_ab": float(np.mean([r[0] for r in v])),
            "psnr": float(np.mean([r[1] for r in v])),
        }
        for key, v in rows.items()
    }
    print(json.dumps({"photos": len(photos), **summary}, indent=2))


if __name__ == "__main__":
    main()
