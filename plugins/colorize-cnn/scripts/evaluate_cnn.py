"""Measure the shipped cnn-* methods on BSDS500 test the way MODEL_CARD.md reports them.

Two tables (no torch needed; inference through the plugin and ONNX Runtime):

1. The report's metrics at its 64 x 64 resolution: each photo is resized to a
   64-pixel short side (the methods' working size), colorized there, and the
   centre 64 x 64 crop is scored: Euclidean closeness (Frobenius norm of
   predicted minus true RGB in [0, 1], report Table 1) and binned a/b accuracy
   with 10, 30 and 50 bins (report Table 2), via ``core.metrics``.
2. Full-resolution scores from ``colorize_eval.evaluate`` (the ``colorize eval`` code:
   PSNR, RMSE-alphabeta, SSIM, colourfulness ratio, histogram intersection).

Both tables include the three baselines: gray (zero chroma), mean-tint (the
training set's mean a, b, recorded in the shipped graph's metadata) and true
chroma at 28 px upsampled (upper bound).

3. Colour vividness and collapse (for ``cnn-gan``'s claim that adversarial training
   gives more vivid colour than L2): per row the mean and median colourfulness
   ratio to the truth (full resolution), the mean chroma magnitude sqrt(a^2 + b^2)
   over the truth's (64 px), and the spread of the per-photo mean a, b across
   photos over the truth's spread (64 px): a model that paints every photo with
   the same colours has a spread near 0 even when it is colourful.

Usage: python plugins/colorize-cnn/scripts/evaluate_cnn.py \
    --data $COLORIZE_DATA/bsds500/images/test --out eval.json [--methods cnn-gan]
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import cv2
import numpy as np


def _working(rgb: np.ndarray, size: int = 64, multiple: int = 4) -> np.ndarray:
    h, w = rgb.shape[:2]
    scale = size / min(h, w)
    th = int(np.ceil(round(h * scale) / multiple) * multiple)
    tw = int(np.ceil(round(w * scale) / multiple) * multiple)
    return cv2.resize(rgb, (tw, th), interpolation=cv2.INTER_AREA)


def _center(image: np.ndarray, size: int = 64) -> np.ndarray:
    h, w = image.shape[:2]
    top, left = (h - size) // 2, (w - size) // 2
    return image[top : top + size, left : left + size]


def report_metrics(methods, files, tint_ab) -> dict[str, dict[str, float]]:
    """Table 1 and Table 2 metrics at 64 x 64 for each method and baseline.

    Also ``chroma_ratio`` (mean predicted chroma magnitude over the truth's, whole
    64 px image) and ``spread_ratio`` (standard deviation across photos of the
    per-photo mean a, b, over the truth's: 0 when every photo gets the same tint).
    """
    from colorize_eval import metrics

    from core.colorspaces.lab import lab_to_rgb, rgb_to_lab
    from core.io import load_image
    from core.plugins import get_registry

    colorizers = {m: get_registry().get("method", m) for m in methods}
    rows = list(methods) + ["gray", "mean-tint", "true-28px"]
    scores: dict[str, dict[str, list[float]]] = {r: {} for r in rows}
    magnitude: dict[str, list[float]] = {r: [] for r in rows + ["truth"]}
    means: dict[str, list[np.ndarray]] = {r: [] for r in rows + ["truth"]}
    for path in files:
        true = _working(load_image(path).rgb().astype(np.float32))
        lab = rgb_to_lab(true)
        predictions = {}
        for name, colorizer in colorizers.items():
            predictions[name] = colorizer.predict(lab[..., 0]).chroma
        predictions["gray"] = np.zeros_like(lab[..., 1:])
        predictions["mean-tint"] = np.broadcast_to(np.float32(tint_ab), lab[..., 1:].shape)
        h, w = lab.shape[:2]
        scale = 28.0 / min(h, w)
        small = cv2.resize(
            lab[..., 1:], (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA
        )
        predictions["true-28px"] = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
        true_c = _center(true)
        true_ab = _center(lab[..., 1:])
        for row, ab in [*predictions.items(), ("truth", lab[..., 1:])]:
            ab = np.asarray(ab, np.float32)
            magnitude[row].append(float(np.sqrt((ab**2).sum(-1)).mean()))
            means[row].append(ab.reshape(-1, 2).mean(0))
        for row, ab in predictions.items():
            ab = _center(np.asarray(ab, np.float32))
            pred_rgb = np.clip(lab_to_rgb(np.concatenate([_center(lab[..., :1]), ab], -1)), 0, 1)
            values = {
                "closeness": metrics.closeness(pred_rgb, true_c),
                "acc10": metrics.binned_accuracy(ab, true_ab, 10),
                "acc30": metrics.binned_accuracy(ab, true_ab, 30),
                "acc50": metrics.binned_accuracy(ab, true_ab, 50),
            }
            for key, value in values.items():
                scores[row].setdefault(key, []).append(float(value))
    out = {row: {k: float(np.mean(v)) for k, v in s.items()} for row, s in scores.items()}
    true_spread = float(np.std(np.stack(means["truth"]), axis=0).mean())
    for row in rows:
        out[row]["chroma_ratio"] = float(np.mean(magnitude[row]) / np.mean(magnitude["truth"]))
        spread = float(np.std(np.stack(means[row]), axis=0).mean())
        out[row]["spread_ratio"] = spread / true_spread if true_spread > 0 else float("nan")
    return out


def colour_summary(table_report, full) -> dict[str, dict[str, float]]:
    """Vividness and collapse per row (see the module doc, item 3)."""
    summary = {}
    for row in full.rows:
        ratios = [s["colourfulness_ratio"] for s in full.per_image.get(row, [])]
        summary[row] = {
            "colourfulness_ratio_mean": float(np.nanmean(ratios)) if ratios else float("nan"),
            "colourfulness_ratio_median": float(np.nanmedian(ratios)) if ratios else float("nan"),
            "chroma_ratio_64px": table_report[row]["chroma_ratio"],
            "spread_ratio_64px": table_report[row]["spread_ratio"],
        }
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="folder of colour test photos")
    parser.add_argument("--limit", type=int, help="at most this many photos")
    parser.add_argument("--out", help="write the full report as JSON here")
    parser.add_argument("--methods", nargs="+", help="methods to score (default: all shipped)")
    args = parser.parse_args(argv)

    from colorize_cnn.colorizer import COLORIZERS
    from colorize_eval import evaluate as core_eval

    methods = args.methods or [cls.name for cls in COLORIZERS if cls.shipped()]
    stats = (COLORIZERS[0]().model.metadata_json("training") or {}).get("statistics") or {}
    tint = tuple(stats.get("mean_ab") or core_eval.DEFAULT_TINT_AB)
    files = core_eval.list_images(args.data, args.limit)
    started = time.perf_counter()
    table_report = report_metrics(methods, files, tint)
    full = core_eval.evaluate(methods, args.data, limit=args.limit, tint_ab=tint)
    seconds = time.perf_counter() - started

    print(f"## {len(files)} photos of {args.data}; mean tint a,b = {tint}\n")
    print("| row | closeness (64x64, Table 1) | acc 10 bins | acc 30 bins | acc 50 bins |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for row, s in table_report.items():
        print(
            f"| {row} | {s['closeness']:.2f} | {100 * s['acc10']:.1f}% | "
            f"{100 * s['acc30']:.1f}% | {100 * s['acc50']:.1f}% |"
        )
    print("\nFull resolution (colorize_eval.evaluate):\n")
    print(full.table())
    colour = colour_summary(table_report, full)
    print("\nVividness and collapse (ratios to the truth; 1 = like the truth):\n")
    print(
        "| row | colourfulness ratio, mean | median | chroma magnitude (64 px) | "
        "spread of per-photo mean a,b (64 px) |"
    )
    print("| --- | ---: | ---: | ---: | ---: |")
    for row, c in colour.items():
        print(
            f"| {row} | {c['colourfulness_ratio_mean']:.2f} | {c['colourfulness_ratio_median']:.2f}"
            f" | {c['chroma_ratio_64px']:.2f} | {c['spread_ratio_64px']:.2f} |"
        )
    print(f"\n({seconds:.0f} s)")
    if args.out:
        with open(args.out, "w", encoding="utf-8") as handle:
            json.dump(
                {
                    "report_64px": table_report,
                    "full_resolution": full.aggregate(),
                    "colour": colour,
                    "tint_ab": list(tint),
                    "images": len(files),
                },
                handle,
                indent=2,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
