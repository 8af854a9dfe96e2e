"""Write the split file of unlabelled general photos for ``train_backbone fit --extra-cache``.

The semantic flows learn their colours from CamVid's street scenes; ``--extra-cache`` adds
the colour losses (L_emb + L_gen, no L_seg) of general photos at every step (see the
plugin's MODEL_CARD.md). This script lists them: the landscape-shaped (width >= height)
photos of BSDS500 train and val, ``houses``, the half of ``imagenet_sample`` that the
semantic test does not hold out (:func:`colorize_eval.semantic.held_out`) and, with
``--intel-per-class N``, the first N photos of each ``intel_scenes`` class. The feature
cache resizes every photo to the first one's working shape, so portrait photos are left
out rather than squashed. BSDS500 test, CamVid val/test and the held-out ImageNet photos
are never listed.

Run::

    python plugins/colorize-semantic/scripts/general_split.py --data $COLORIZE_DATA \
        --out runs/semantic-bb/general.txt --intel-per-class 150
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
from colorize_eval.evaluate import list_images
from colorize_eval.semantic import held_out


def _landscape(path: Path) -> bool:
    image = cv2.imread(str(path), cv2.IMREAD_REDUCED_GRAYSCALE_2)
    if image is None:
        raise SystemExit(f"{path}: cannot read the photo")
    return image.shape[1] >= image.shape[0]


def general_photos(data: Path, intel_per_class: int = 0) -> list[Path]:
    """The general photos under ``data`` (the shared datasets folder), in a fixed order."""
    candidates = [
        *list_images(data / "bsds500" / "images" / "train"),
        *list_images(data / "bsds500" / "images" / "val"),
        *list_images(data / "houses" / "images"),
    ]
    excluded = set(held_out(data / "imagenet_sample"))
    candidates += [p for p in list_images(data / "imagenet_sample" / "images") if p not in excluded]
    if intel_per_class:
        for scene in sorted((data / "intel_scenes").iterdir()):
            if scene.is_dir():
                candidates += list_images(scene)[:intel_per_class]
    return [p for p in candidates if _landscape(p)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, required=True, help="the shared datasets folder")
    parser.add_argument("--out", type=Path, required=True, help="split file to write")
    parser.add_argument("--intel-per-class", type=int, default=0, metavar="N")
    args = parser.parse_args(argv)
    photos = general_photos(args.data.resolve(), args.intel_per_class)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("".join(f"{p}\n" for p in photos), encoding="utf-8")
    print(f"{args.out}: {len(photos)} photos")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
