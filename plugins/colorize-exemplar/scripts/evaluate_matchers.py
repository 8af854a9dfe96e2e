"""Compare the registered matchers of the exemplar method (figures for MODEL_CARD.md).

Two measurements on the first N BSDS500 test photos (sorted by name), for every matcher
named on the command line (default: the two built-in ones):

1. **Synthetic warps.** Each photo, resized to the method's working shape (short side
   128 since the backbone; 64 before), is warped by a random similarity transform
   (rotation up to ±10°, scale 0.9-1.1, shift up to ±``--shift`` px, default 6; seeded)
   to make the reference, so the true correspondence is known. The matcher runs on the
   two feature pyramids (1/4 grid); a target grid point counts as matched when its
   reference grid point (centre, in working-image pixels) lies within ``--px`` (default
   4) px of the true position. Points whose true position falls outside the reference
   are left out. Chance level: the same fraction for a uniformly random mapping.
   ``--skip-colorization`` measures only this.
2. **Colorization.** RMSE-alphabeta (Larsson Eq. 10) and PSNR (sRGB) of
   ``core.colorize(photo, "exemplar", reference=R, matcher=M)`` with R the photo's own
   colour image (GT as reference) and R another test photo (photo i + N/2 mod N).

Also the median matching time per pair at the working shape and at 2× the working
shape (one thread; rough on a shared CPU; ``--runs 0`` skips it). Before the backbone
(64 px working size) the second shape was 4×.

Usage::

    OPENBLAS_NUM_THREADS=1 COLORIZE_THREADS=1 \\
        python plugins/colorize-exemplar/scripts/evaluate_matchers.py --count 20
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import cv2
import numpy as np
from colorize_exemplar.matching import get_matcher, matcher_names
from PIL import Image
from tqdm import tqdm

import core
from core.colorspaces.lab import rgb_to_lab
from core.metrics import psnr, rmse_alphabeta
from core.plugins import get_registry

GRID = 4


def _warp_pair(
    rgb: np.ndarray, shape: tuple[int, int], rng: np.random.Generator, shift: float = 6.0
):
    """Target and warped reference at ``shape`` and the 2 × 3 map target px -> reference px."""
    h, w = shape
    target = cv2.resize(rgb, (w, h), interpolation=cv2.INTER_AREA)
    angle = rng.uniform(-10, 10)
    scale = rng.uniform(0.9, 1.1)
    matrix = cv2.getRotationMatrix2D((w / 2, h / 2), angle, scale)
    matrix[:, 2] += rng.uniform(-shift, shift, size=2)
    reference = cv2.warpAffine(target, matrix, (w, h), borderMode=cv2.BORDER_REFLECT)
    return target, reference, matrix


def _fraction_within(t2r: np.ndarray, matrix: np.ndarray, shape: tuple[int, int], px: float):
    h, w = shape
    gh, gw = h // GRID, w // GRID
    gy, gx = np.mgrid[0:gh, 0:gw]
    centre = lambda i: GRID * i + (GRID - 1) / 2  # noqa: E731 - pixel centre of a grid point
    points = np.stack([centre(gx).ravel(), centre(gy).ravel(), np.ones(gh * gw)])
    true = matrix @ points  # (2, n) true reference positions (x, y)
    inside = (true[0] >= 0) & (true[0] <= w - 1) & (true[1] >= 0) & (true[1] <= h - 1)
    qy, qx = np.divmod(t2r, gw)
    err = np.hypot(centre(qx) - true[0], centre(qy) - true[1])
    return float(np.mean(err[inside] <= px)), int(inside.sum())


def _median_ms(fn, runs: int) -> float:
    fn()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1000 * float(np.median(times))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", default=os.environ.get("COLORIZE_DATA", "/work/shared/datasets"))
    parser.add_argument("--count", type=int, default=20)
    parser.add_argument("--matchers", nargs="*", default=None, help="default: all installed")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--runs", type=int, default=11, help="timing runs per matcher")
    parser.add_argument("--json", default=None)
    parser.add_argument("--shift", type=float, default=6.0, help="largest warp shift (px)")
    parser.add_argument("--px", type=float, default=4.0, help="tolerance of a match (px)")
    parser.add_argument("--split", default="test", help="BSDS500 split (test, val)")
    parser.add_argument(
        "--skip-colorization", action="store_true", help="only the synthetic-warp rates"
    )
    args = parser.parse_args()
    names = args.matchers or matcher_names()
    colorizer = get_registry().get("method", "exemplar")
    folder = Path(args.data) / "bsds500" / "images" / args.split
    paths = sorted(folder.glob("*.jpg"))[: args.count]
    photos = [np.asarray(Image.open(p).convert("RGB"), np.float32) / 255.0 for p in paths]
    rng = np.random.default_rng(args.seed)

    within: dict[str, list[float]] = {n: [] for n in names + ["chance"]}
    scores: dict[str, dict[str, list]] = {
        n: {k: [] for k in ("gt_rmse", "gt_psnr", "other_rmse", "other_psnr")} for n in names
    }
    timing_inputs = []
    for i, rgb in enumerate(tqdm(photos, unit="img")):
        shape = colorizer.working_shape(*rgb.shape[:2])
        target, reference, matrix = _warp_pair(rgb, shape, rng, args.shift)
        pyr_t = colorizer.pyramid(rgb_to_lab(target)[..., 0])
        pyr_r = colorizer.pyramid(rgb_to_lab(reference)[..., 0])
        if i == 0:
            big = (2 * shape[0], 2 * shape[1])
            t_big, r_big, _ = _warp_pair(rgb, big, np.random.default_rng(0))
            timing_inputs = [
                ((pyr_t, pyr_r), shape),
                (
                    (
                        colorizer.pyramid(rgb_to_lab(t_big)[..., 0]),
                        colorizer.pyramid(rgb_to_lab(r_big)[..., 0]),
                    ),
                    big,
                ),
            ]
        n_points = pyr_t[0].shape[1] * pyr_t[0].shape[2]
        random_map = rng.integers(0, n_points, size=n_points)
        within["chance"].append(_fraction_within(random_map, matrix, shape, args.px)[0])
        other = photos[(i + len(photos) // 2) % len(photos)]
        for name in names:
            t2r, _ = get_matcher(name)(pyr_t, pyr_r)
            within[name].append(_fraction_within(t2r, matrix, shape, args.px)[0])
            if args.skip_colorization:
                continue
            for key, ref in (("gt", rgb), ("other", other)):
                out = core.colorize(rgb, "exemplar", reference=ref, matcher=name)
                scores[name][f"{key}_rmse"].append(rmse_alphabeta(out, rgb))
                scores[name][f"{key}_psnr"].append(psnr(out, rgb))

    timings = {}
    for (pt, pr), shape in timing_inputs if args.runs > 0 else []:
        for name in names:
            fn = get_matcher(name)
            key = f"{name} @ {shape[0]}x{shape[1]}"
            timings[key] = _median_ms(lambda fn=fn, pt=pt, pr=pr: fn(pt, pr), args.runs)

    summary = {
        "photos": len(photos),
        "working_size": colorizer.working_size,
        "shift_px": args.shift,
        "within_px": args.px,
        "within_4px": {n: float(np.mean(v)) for n, v in within.items()},
        "colorization": {
            n: {k: float(np.mean(v)) if v else None for k, v in s.items()}
            for n, s in scores.items()
        },
        "matching_ms": timings,
    }
    print(json.dumps(summary, indent=2))
    columns = ["within 4 px (warps)", "GT ref RMSE-ab", "GT ref PSNR"]
    columns += ["other ref RMSE-ab", "other ref PSNR"]
    print("\n| matcher | " + " | ".join(columns) + " |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for name in names:
        c = summary["colorization"][name]
        if args.skip_colorization:
            print(f"| `{name}` | {summary['within_4px'][name]:.1%} | | | | |")
            continue
        print(
            f"| `{name}` | {summary['within_4px'][name]:.1%} | {c['gt_rmse']:.3f} | "
            f"{c['gt_psnr']:.2f} | {c['other_rmse']:.3f} | {c['other_psnr']:.2f} |"
        )
    print(f"| random mapping (chance) | {summary['within_4px']['chance']:.1%} | | | | |")
    for key, ms in timings.items():
        print(f"{key}: {ms:.2f} ms")
    if args.json:
        Path(args.json).write_text(json.dumps({"summary": summary, "within": within}, indent=2))


if __name__ == "__main__":
    main()
