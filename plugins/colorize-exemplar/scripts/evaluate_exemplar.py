"""Measure the exemplar method on BSDS500 test photos (figures for MODEL_CARD.md).

For each of the first N test photos (sorted by name), compares RMSE-alphabeta
(Larsson Eq. 10, :func:`core.metrics.rmse_alphabeta`) and PSNR of:

* ``gt-reference``: the photo's own colour image as the reference;
* ``recommended-reference`` (with ``--index``): the top-1 recommendation of He et al.
  (2018, §4) from the index, i.e. ``reference="auto"`` (fully automatic mode);
* ``random-reference``: a random image of the index (seeded), or without ``--index``
  another test photo (photo i+N/2 mod N);
* ``gray``: the lightness with zero chroma (baseline).

``--colornet PATH`` swaps in another colorization sub-net graph (for example a candidate
exported with ``python -m colorize_exemplar.train export --graphs colornet --models-dir
runs/exemplar2/models``) while the feature graph, and so the index, stay the shipped ones.

Usage::

    colorize index build REFS_DIR -o runs/exemplar-index/bsds-trainval.index
    python plugins/colorize-exemplar/scripts/evaluate_exemplar.py --count 200 \\
        --index runs/exemplar-index/bsds-trainval.index --json runs/exemplar-index/eval.json
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

import core
from core.colorspaces.lab import lab_to_rgb, rgb_to_lab
from core.metrics import psnr, rmse_alphabeta


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", default=os.environ.get("COLORIZE_DATA", "/work/shared/datasets"))
    parser.add_argument("--count", type=int, default=20)
    parser.add_argument("--index", default=None, help="reference index (colorize index build)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random references")
    parser.add_argument("--json", default=None, help="write per-photo rows here")
    parser.add_argument(
        "--colornet",
        default=None,
        help="evaluate this exemplar-colornet.onnx (with its manifest.json beside it) "
        "instead of the shipped one",
    )
    args = parser.parse_args()
    if args.colornet:
        from core.plugins import get_registry
        from core.runtime import OnnxModel

        get_registry().get("method", "exemplar")._colornet = OnnxModel(args.colornet)
    paths = sorted((Path(args.data) / "bsds500" / "images" / "test").glob("*.jpg"))[: args.count]
    photos = [np.asarray(Image.open(p).convert("RGB"), np.float32) / 255.0 for p in paths]
    pool = []
    if args.index:
        from colorize_exemplar.index import load_index

        ref_index = load_index(args.index)
        pool = [ref_index.resolve(e["path"]) for e in ref_index.entries]
    rng = np.random.default_rng(args.seed)
    keys = ["gt-reference", "recommended-reference", "random-reference", "gray"]
    rows: dict[str, list] = {k: [] for k in keys if args.index or k != "recommended-reference"}
    per_photo = []
    for i, rgb in enumerate(tqdm(photos, unit="img")):
        lab = rgb_to_lab(rgb)
        lab[..., 1:] = 0
        other = (
            pool[int(rng.integers(len(pool)))]
            if pool
            else photos[(i + len(photos) // 2) % len(photos)]
        )
        outputs = {
            "gt-reference": core.colorize(rgb, "exemplar", reference=rgb),
            "random-reference": core.colorize(rgb, "exemplar", reference=other),
            "gray": np.clip(lab_to_rgb(lab), 0, 1),
        }
        record = {"photo": paths[i].name, "random": str(other) if pool else None}
        if args.index:
            result = core.colorize_result(rgb, "exemplar", reference="auto", index=args.index)
            outputs["recommended-reference"] = result.rgb
            record["recommended"] = result.metadata["reference"]
        for key, out in outputs.items():
            score = (float(rmse_alphabeta(out, rgb)), float(psnr(out, rgb)))
            rows[key].append(score)
            record[key] = {"rmse_ab": score[0], "psnr": score[1]}
        per_photo.append(record)
    summary = {
        key: {
            "rmse_ab": float(np.mean([r[0] for r in v])),
            "psnr": float(np.mean([r[1] for r in v])),
        }
        for key, v in rows.items()
    }
    print(json.dumps({"photos": len(photos), **summary}, indent=2))
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps({"summary": summary, "photos": per_photo}, indent=1))


if __name__ == "__main__":
    main()
