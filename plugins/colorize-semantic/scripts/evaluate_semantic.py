"""Evaluate the semantic plugin on CamVid test: the numbers of MODEL_CARD.md.

For each variant whose graphs are in ``--models`` (Zhao et al. 2019, Fig. 7 analogue):
PSNR and RMSE-αβ (``colorize_eval.evaluate.score``) against the photo of what ``core.colorize``
returns (row ``<variant>``: the mean of ``DEFAULT_AVERAGE`` samples) and of the first
sample alone (row ``<variant> (one sample)``), mean pairwise MS-SSIM between ``--samples``
samples (Fig. 10: lower = more diverse), and the mean IoU (dataset confusion matrix, void
ignored) of the variant's segmentation head on the gray input. Rows for the baselines
gray, mean-tint (CamVid train's mean a*, b*) and true-28px are measured on the same photos
with ``colorize_eval.evaluate.baseline_prediction``.

Table 3 analogue (``--table3``): our head sees lightness only, so on its own it cannot
tell a gray, a colorized and a colour photo apart. We make it colour-aware without any
training: class scores ``log softmax(head) + log p(a, b | class)``, with ``p(a, b | class)``
a 16 x 16 histogram of CamVid train pixels per class; and a colour-only classifier
``log p(class) + log p(a, b | class)``. Both are applied to the gray photo (a = b = 0),
to our colorization (the ``full`` variant's ``core.colorize`` output) and to the true
colour photo. Segmentation is scored at half resolution (240 x 180).

    python plugins/colorize-semantic/scripts/evaluate_semantic.py \
        --data $COLORIZE_DATA/camvid --models runs/semantic-models --stride 4 \
        --samples 3 --table3 --json runs/semantic-eval/full.json --variant full
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from pathlib import Path

import cv2
import numpy as np
from colorize_eval import metrics
from colorize_eval.evaluate import baseline_prediction, score
from PIL import Image

from core.colorspaces.lab import rgb_to_lab

N_CLASSES, VOID, HIST_BINS, AB_RANGE = 11, 11, 16, 110.0


def _items(root: Path, split: str, stride: int, limit: int | None):
    lines = [ln.split() for ln in (root / f"{split}.txt").read_text().splitlines() if ln.strip()]
    items = [(root / a, root / b) for a, b in lines][::stride]
    return items[:limit] if limit else items


def _load(image: Path, label: Path):
    rgb = np.asarray(Image.open(image).convert("RGB"), np.float32) / 255.0
    truth = np.asarray(Image.open(label))
    return rgb, truth


def _half(array: np.ndarray, nearest: bool = False) -> np.ndarray:
    h, w = array.shape[:2]
    mode = cv2.INTER_NEAREST if nearest else cv2.INTER_AREA
    return cv2.resize(array, (w // 2, h // 2), interpolation=mode)


def _ab_bins(ab: np.ndarray) -> np.ndarray:
    idx = np.floor(
        (np.clip(ab, -AB_RANGE, AB_RANGE - 1e-3) + AB_RANGE) / (2 * AB_RANGE) * HIST_BINS
    ).astype(np.int64)
    return idx[..., 0] * HIST_BINS + idx[..., 1]


def colour_histograms(root: Path) -> tuple[np.ndarray, np.ndarray]:
    """log p(ab bin | class) (classes, bins^2) and log p(class) from CamVid train (half res)."""
    counts = np.ones((N_CLASSES, HIST_BINS * HIST_BINS))
    for image, label in _items(root, "train", 1, None):
        rgb, truth = _load(image, label)
        bins = _ab_bins(rgb_to_lab(_half(rgb))[..., 1:])
        truth = _half(truth, nearest=True)
        keep = truth != VOID
        np.add.at(counts, (truth[keep], bins[keep]), 1)
    prior = counts.sum(1) / counts.sum()
    return np.log(counts / counts.sum(1, keepdims=True)), np.log(prior)


class Confusion:
    def __init__(self) -> None:
        self.matrix = np.zeros((N_CLASSES, N_CLASSES), np.int64)

    def add(self, pred: np.ndarray, truth: np.ndarray) -> None:
        keep = truth != VOID
        self.matrix += np.bincount(
            truth[keep].astype(np.int64) * N_CLASSES + pred[keep], minlength=N_CLASSES**2
        ).reshape(N_CLASSES, N_CLASSES)

    def mean_iou(self) -> float:
        tp = np.diag(self.matrix).astype(np.float64)
        union = self.matrix.sum(0) + self.matrix.sum(1) - tp
        return float(np.mean(tp[union > 0] / union[union > 0]))

    def pixel_accuracy(self) -> float:
        return float(np.trace(self.matrix) / max(1, self.matrix.sum()))


def _pairwise_ms_ssim(images: list[np.ndarray]) -> float:
    values = [metrics.ms_ssim(a, b) for a, b in itertools.combinations(images, 2)]
    return float(np.mean(values)) if values else float("nan")


def main(argv: list[str] | None = None) -> int:
    from tqdm import tqdm

    from core.api import colorize_result, sample_results
    from core.plugins import get_registry

    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", required=True, type=Path, help="the camvid folder")
    p.add_argument("--models", type=Path, default=None, help="folder with the variants' graphs")
    p.add_argument("--variant", action="append", default=None)
    p.add_argument("--samples", type=int, default=3)
    p.add_argument("--stride", type=int, default=1, help="every k-th test photo")
    p.add_argument("--limit", type=int, default=None)
    p.add_argument("--baselines", action="store_true")
    p.add_argument("--table3", action="store_true")
    p.add_argument("--json", type=Path, default=None)
    args = p.parse_args(argv)

    colorizer = get_registry().get("method", "semantic")
    if args.models is not None:  # evaluate graphs outside the installed package
        colorizer.folder = args.models
        colorizer._graphs.clear()
    variants = args.variant or colorizer.variants()
    items = _items(args.data, "test", args.stride, args.limit)
    rows: dict[str, list[dict]] = {
        row: [] for v in variants for row in (v, f"{v} (one sample)")
    }
    confusion = {v: Confusion() for v in variants}
    baselines = ("gray", "mean-tint", "true-28px") if args.baselines else ()
    tint = None
    if args.baselines:
        sums = [
            rgb_to_lab(_load(i, lab)[0])[..., 1:].reshape(-1, 2).mean(0)
            for i, lab in _items(args.data, "train", 4, None)
        ]
        tint = tuple(float(v) for v in np.mean(sums, 0))
        rows.update({b: [] for b in baselines})
    table3 = None
    if args.table3:
        log_hist, log_prior = colour_histograms(args.data)
        table3 = {
            f"{k}/{src}": Confusion()
            for k in ("colour-only", "head+colour")
            for src in ("gray", "colorized", "colour")
        }
        table3["head (lightness only)"] = Confusion()
    for image, label in tqdm(items, desc="camvid test", unit="img"):
        rgb, truth = _load(image, label)
        truth_half = _half(truth, nearest=True)
        for b in baselines:
            rows[b].append(score(baseline_prediction(b, rgb, tint), rgb))
        for v in variants:
            t0 = time.perf_counter()
            results = sample_results(rgb, "semantic", args.samples, 0, variant=v)
            seconds = time.perf_counter() - t0
            row = {"image": image.name, **score(results[0].rgb, rgb), "seconds": seconds}
            if args.samples > 1:
                row["ms_ssim_samples"] = _pairwise_ms_ssim([r.rgb for r in results])
            rows[f"{v} (one sample)"].append(row)
            t0 = time.perf_counter()
            default = colorize_result(rgb, "semantic", seed=0, variant=v)
            seconds = time.perf_counter() - t0
            rows[v].append({"image": image.name, **score(default.rgb, rgb), "seconds": seconds})
            if default.segmentation is not None:
                confusion[v].add(_half(default.segmentation.astype(np.int32), True), truth_half)
            if table3 is not None and v == "full":
                lightness = default.lightness
                working = cv2.resize(
                    lightness,
                    colorizer.working_shape(*lightness.shape)[::-1],
                    interpolation=cv2.INTER_AREA,
                )
                _, scores = colorizer.encode(working, "full")
                h, w = truth_half.shape
                up = cv2.resize(
                    np.ascontiguousarray(scores[0].transpose(1, 2, 0)),
                    (w, h),
                    interpolation=cv2.INTER_LINEAR,
                )
                head = (
                    up
                    - np.log(np.exp(up - up.max(-1, keepdims=True)).sum(-1, keepdims=True))
                    - up.max(-1, keepdims=True)
                )
                table3["head (lightness only)"].add(head.argmax(-1), truth_half)
                sources = {
                    "gray": np.zeros((h, w, 2), np.float32),
                    "colorized": rgb_to_lab(_half(default.rgb))[..., 1:],
                    "colour": rgb_to_lab(_half(rgb))[..., 1:],
                }
                for src, ab in sources.items():
                    colour = log_hist[:, _ab_bins(ab)].transpose(1, 2, 0)
                    table3[f"colour-only/{src}"].add((colour + log_prior).argmax(-1), truth_half)
                    table3[f"head+colour/{src}"].add((colour + head).argmax(-1), truth_half)
    summary: dict = {
        "images": len(items),
        "stride": args.stride,
        "samples": args.samples,
        "tint_ab": tint,
        "rows": {},
    }
    for name, values in rows.items():
        keys = [k for k in values[0] if k != "image"] if values else []
        agg = {k: float(np.nanmean([r[k] for r in values])) for k in keys}
        if name in confusion and confusion[name].matrix.sum():
            agg["mean_iou_gray_input"] = confusion[name].mean_iou()
            agg["pixel_accuracy_gray_input"] = confusion[name].pixel_accuracy()
        summary["rows"][name] = agg
    if table3 is not None:
        summary["table3"] = {
            k: {"mean_iou": c.mean_iou(), "pixel_accuracy": c.pixel_accuracy()}
            for k, c in table3.items()
        }
    text = json.dumps(summary, indent=2)
    print(text)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(text + "\n")
        (args.json.with_suffix(".per_image.json")).write_text(json.dumps(rows) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
