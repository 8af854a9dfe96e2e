"""Evaluate the shipped pixcolor graphs the way MODEL_CARD.md reports them.

Rows (all scored with ``colorize_eval.evaluate.score`` against the original photo, next to the
core's baselines gray / mean-tint / true-28px measured the same way):

* ``pixcolor (1 sample)`` -- sample 0 of seed 0, refined (what ``core.colorize(seed=0)`` gives);
* ``pixcolor (best of 3 by likelihood)`` -- the most likely of samples 0..2 (``rank="likelihood"``);
* ``pixcolor unrefined`` -- sample 0 bilinearly up-sampled, no refinement (Sec. 3.2, Fig. 5);
* ``GT 28px unrefined`` / ``GT 28px refined`` -- the true 28 px YCbCr chroma, quantised to the
  32 bins, bilinearly up-sampled or fed to the refinement network (Fig. 5 "GT-Refined");

plus the dataset-level histogram intersection of the Lab a and b marginals (Fig. 7) and
the histogram of MS-SSIM between pairs of samples (Fig. 8).

    python plugins/colorize-pixcolor/scripts/evaluate_pixcolor.py \
        --data $COLORIZE_DATA/bsds500/images/test --limit 30 --json runs/pixcolor-eval.json
"""

from __future__ import annotations

import argparse
import itertools
import json
import time
from pathlib import Path

import cv2
import numpy as np
from colorize_eval import metrics
from colorize_eval.evaluate import BASELINES, baseline_prediction, list_images, score
from colorize_pixcolor.colorizer import PixColor
from colorize_pixcolor.sampling import bin_centers
from tqdm import tqdm

from core.colorspaces.ycbcr import rgb_to_ycbcr
from core.io import load_image

ROWS = ("pixcolor (1 sample)", "pixcolor (best of 3 by likelihood)", "pixcolor unrefined",
        "GT 28px unrefined", "GT 28px refined") + BASELINES


def _to_rgb(y_full: np.ndarray, chroma: np.ndarray) -> np.ndarray:
    """Working-resolution chroma + full-resolution Y -> sRGB, exactly as ``core.colorize``
    (the pipeline stage ``core.api.recombine``)."""
    from core.api import recombine
    from core.plugins import get_registry

    rgb, _ = recombine(get_registry().get("colorspace", "ycbcr"), y_full, chroma)
    return rgb


def _pairwise_ms_ssim(images: list[np.ndarray]) -> list[float]:
    short = min(images[0].shape[:2])
    scales = max(1, min(len(metrics.MS_SSIM_WEIGHTS), int(np.log2(max(short, 11) / 11)) + 1))
    weights = np.asarray(metrics.MS_SSIM_WEIGHTS[:scales])
    weights = tuple(float(v) for v in weights / weights.sum())
    return [float(metrics.ms_ssim(a, b, weights=weights))
            for a, b in itertools.combinations(images, 2)]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", required=True)
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--samples", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()

    colorizer = PixColor()
    files = list_images(args.data, args.limit)
    per: dict[str, list[dict]] = {row: [] for row in ROWS}
    hists = {row: np.zeros((2, 100)) for row in ROWS + ("ground truth",)}
    diversity: list[float] = []
    seconds = []
    for path in tqdm(files, desc="pixcolor eval", unit="img"):
        true = load_image(path).rgb().astype(np.float32)
        h, w = true.shape[:2]
        ycc = rgb_to_ycbcr(true)
        y_full = ycc[..., 0]
        wh, ww = colorizer.working_shape(h, w)
        y_work = cv2.resize(y_full, (ww, wh), interpolation=cv2.INTER_AREA)
        t0 = time.perf_counter()
        samples = colorizer.low_resolution(y_work, args.samples, seed=args.seed)
        low = samples.chroma()
        refined = colorizer.refine(y_work, low)
        seconds.append(time.perf_counter() - t0)
        best = int(np.argmax(samples.loglik))
        s = colorizer.grid_stride
        gt_low = cv2.resize(ycc[..., 1:], (ww // s, wh // s), interpolation=cv2.INTER_AREA)
        gt_low = bin_centers(np.clip(np.floor((gt_low + 0.5) * 32), 0, 31))
        gt_refined = colorizer.refine(y_work, gt_low[None])[0]
        outputs = {
            "pixcolor (1 sample)": _to_rgb(y_full, refined[0]),
            "pixcolor (best of 3 by likelihood)": _to_rgb(y_full, refined[best]),
            "pixcolor unrefined": _to_rgb(y_full, low[0]),
            "GT 28px unrefined": _to_rgb(y_full, gt_low),
            "GT 28px refined": _to_rgb(y_full, gt_refined),
        }
        for name in BASELINES:
            outputs[name] = baseline_prediction(name, true)
        for row, rgb in outputs.items():
            per[row].append({"image": path.name, **score(rgb, true)})
            hists[row] += metrics.ab_histograms(rgb)
        hists["ground truth"] += metrics.ab_histograms(true)
        diversity += _pairwise_ms_ssim([_to_rgb(y_full, c) for c in refined])

    keys = ("psnr", "rmse_ab", "ssim", "colourfulness_ratio", "hist_intersection")
    table = {row: {k: float(np.mean([s[k] for s in per[row]])) for k in keys} for row in ROWS}
    for row in ROWS:
        table[row]["dataset_hist_a"] = metrics.intersection(hists[row][0], hists["ground truth"][0])
        table[row]["dataset_hist_b"] = metrics.intersection(hists[row][1], hists["ground truth"][1])
    counts, edges = np.histogram(diversity, bins=[0, 0.8, 0.85, 0.9, 0.95, 0.99, 1.0])
    print(f"{len(files)} images from {args.data}; {args.samples} samples each, seed {args.seed}")
    print("| row | PSNR | RMSE-αβ | SSIM | colourfulness | hist ∩ (per image) | "
          "hist ∩ a (dataset) | hist ∩ b (dataset) |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for row in ROWS:
        t = table[row]
        print(f"| {row} | {t['psnr']:.2f} | {t['rmse_ab']:.2f} | {t['ssim']:.4f} | "
              f"{t['colourfulness_ratio']:.3f} | {t['hist_intersection']:.4f} | "
              f"{t['dataset_hist_a']:.4f} | {t['dataset_hist_b']:.4f} |")
    print(f"\nMS-SSIM between sample pairs ({len(diversity)} pairs): mean {np.mean(diversity):.4f}")
    bounds = zip(edges, edges[1:], strict=False)
    print("| MS-SSIM | " + " | ".join(f"[{a:.2f}, {b:.2f})" for a, b in bounds)
          + " |")
    print("| --- | " + " | ".join("---:" for _ in counts) + " |")
    print("| pairs | " + " | ".join(str(int(c)) for c in counts) + " |")
    print(f"\nsampling + refinement of {args.samples} samples: {np.mean(seconds):.2f} s per image")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps({
            "data": args.data, "images": len(files), "table": table, "per_image": per,
            "ms_ssim_pairs": diversity, "seconds_per_image": seconds}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
