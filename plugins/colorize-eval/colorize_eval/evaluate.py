"""``colorize eval``: run methods over a folder of colour photos and score them.

Every report carries three baselines measured the same way as the methods:

``gray``
    The input's lightness with zero chroma (what a grayscale photo scores).
``mean-tint``
    The lightness with one flat chroma everywhere: the training set's mean a*, b*
    (:data:`DEFAULT_TINT_AB`, measured on BSDS500 train+val; ``--tint-ab`` overrides).
    PSNR alone rewards such a brown tint; RMSE-αβ and colourfulness expose it.
``true-28px``
    The true chroma downsampled to a 28-pixel short side and upsampled (bilinear): an
    upper bound for methods that predict low-resolution chroma.

Metrics per image (``core.metrics``, :mod:`colorize_eval.metrics`): PSNR in RGB (Larsson
et al. Eq. 11), RMSE in αβ (Eq. 10), SSIM, colourfulness ratio to the ground truth (Hasler
and Süsstrunk 2003), a/b histogram intersection (Guadarrama et al. Fig. 7, mean of the a
and b marginals), and the cast (:func:`colorize_eval.metrics.colour_cast`: the image's
mean a*, b* minus the truth's, kept signed as ``cast_a``, ``cast_b`` and absolute as
``abs_cast_a``, ``abs_cast_b``, so the means over images give the systematic cast and the
typical error of a photo's overall tone); for diverse methods with ``samples > 1`` also
the mean pairwise MS-SSIM between samples (lower = more diverse; fewer scales on images
under 176 px).

Several distributions: ``--data`` may be repeated, and a folder with sub-folders is also
reported per sub-folder (``everyday_val/people``, ``everyday_val/scenes``). A folder
written ``DIR@select`` or ``DIR@report`` keeps one fixed half of its photos
(:func:`split_half`, by a hash of the path below ``DIR``): settings are chosen on the
``select`` half (with BSDS500 val) and only the ``report`` half is reported.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import sys
import time
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from colorize_eval.metrics import (
    MS_SSIM_WEIGHTS,
    colour_cast,
    histogram_intersection,
    ms_ssim,
    ssim,
)
from core.colorspaces.lab import lab_to_rgb, rgb_to_lab
from core.io import IMAGE_EXTENSIONS, load_image
from core.metrics import colourfulness_ratio, json_safe, mean_finite, psnr, rmse_alphabeta

__all__ = [
    "BASELINES",
    "DEFAULT_TINT_AB",
    "EvalReport",
    "REFERENCE_MODES",
    "baseline_prediction",
    "configure_parser",
    "evaluate",
    "list_images",
    "mean_chroma",
    "data_files",
    "run",
    "score",
    "split_half",
]

#: Mean Lab (a*, b*) of BSDS500 train+val (300 photos), from ``mean_chroma``.
DEFAULT_TINT_AB = (-2.92, 10.12)
BASELINES = ("gray", "mean-tint", "true-28px")
#: ``reference_mode`` values of :func:`evaluate` (``--reference-mode``).
REFERENCE_MODES = ("none", "gt", "random", "auto")
METRICS = ("psnr", "rmse_ab", "ssim", "colourfulness_ratio", "hist_intersection")
#: The cast columns (:func:`colorize_eval.metrics.colour_cast`), signed and absolute.
CAST_METRICS = ("cast_a", "cast_b", "abs_cast_a", "abs_cast_b")
#: ``DIR@<half>`` suffixes of :func:`split_half`.
HALVES = ("select", "report")


def split_half(files: Sequence[Path], root: str | Path, half: str) -> list[Path]:
    """The ``select`` or ``report`` half of ``files`` (below ``root``), fixed by name.

    A photo is in ``select`` when the CRC-32 of its path relative to ``root`` (with
    ``/`` separators) is even: the split does not depend on which other files exist
    or on their order, and each sub-folder is split about evenly.
    """
    if half not in HALVES:
        raise ValueError(f"unknown half {half!r}; expected one of {HALVES}")
    root = Path(root)
    want = 0 if half == "select" else 1
    return [
        p for p in files if zlib.crc32(p.relative_to(root).as_posix().encode()) % 2 == want
    ]


def parse_data(spec: str | Path) -> tuple[Path, str | None]:
    """``DIR`` or ``DIR@select`` / ``DIR@report`` -> (folder, half or None)."""
    text = str(spec)
    folder, sep, half = text.rpartition("@")
    if sep and half in HALVES:
        return Path(folder), half
    return Path(text), None


def data_files(spec: str | Path) -> tuple[Path, str | None, list[Path]]:
    """The images a ``--data`` value names: (folder, half or None, sorted files).

    ``DIR`` gives every image below ``DIR`` (:func:`list_images`); ``DIR@select`` and
    ``DIR@report`` the half of them that :func:`split_half` keeps.
    """
    folder, half = parse_data(spec)
    files = list_images(folder)
    return folder, half, split_half(files, folder, half) if half else files


def list_images(folder: str | Path, limit: int | None = None) -> list[Path]:
    """Image files below ``folder`` (recursive, sorted), at most ``limit``."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: no such folder")
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS)
    return files[:limit] if limit else files


def mean_chroma(folder: str | Path, limit: int | None = None) -> tuple[float, float]:
    """Mean Lab (a*, b*) over the photos in ``folder`` (each image weighted equally)."""
    sums = []
    for path in list_images(folder, limit):
        rgb = load_image(path).rgb()
        sums.append(rgb_to_lab(rgb)[..., 1:].reshape(-1, 2).mean(0))
    a, b = np.mean(sums, axis=0)
    return round(float(a), 2), round(float(b), 2)


def baseline_prediction(name: str, rgb: np.ndarray, tint_ab=DEFAULT_TINT_AB) -> np.ndarray:
    """The RGB output of a baseline for ground-truth ``rgb`` (H, W, 3) in [0, 1]."""
    lab = rgb_to_lab(rgb.astype(np.float32))
    if name == "gray":
        lab[..., 1:] = 0.0
    elif name == "mean-tint":
        lab[..., 1] = tint_ab[0]
        lab[..., 2] = tint_ab[1]
    elif name == "true-28px":
        h, w = lab.shape[:2]
        scale = 28.0 / min(h, w)
        small = cv2.resize(
            lab[..., 1:],
            (max(1, round(w * scale)), max(1, round(h * scale))),
            interpolation=cv2.INTER_AREA,
        )
        lab[..., 1:] = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    else:
        raise ValueError(f"unknown baseline {name!r}; expected one of {BASELINES}")
    return np.clip(lab_to_rgb(lab), 0.0, 1.0)


def score(pred: np.ndarray, true: np.ndarray) -> dict[str, float]:
    """All per-image metrics of one prediction against the ground truth."""
    hist_a, hist_b = histogram_intersection(pred, true)
    cast_a, cast_b = colour_cast(pred, true)
    return {
        "psnr": float(psnr(pred, true)),
        "rmse_ab": float(rmse_alphabeta(pred, true)),
        "ssim": float(ssim(pred, true)),
        "colourfulness_ratio": float(colourfulness_ratio(pred, true)),
        "hist_intersection": (float(hist_a) + float(hist_b)) / 2.0,
        "cast_a": cast_a,
        "cast_b": cast_b,
        "abs_cast_a": abs(cast_a),
        "abs_cast_b": abs(cast_b),
    }


def _pairwise_ms_ssim(samples: Sequence[np.ndarray]) -> float:
    short = min(samples[0].shape[:2])
    scales = max(1, min(len(MS_SSIM_WEIGHTS), int(math.log2(max(short, 11) / 11)) + 1))
    weights = np.asarray(MS_SSIM_WEIGHTS[:scales])
    weights = tuple(float(w) for w in weights / weights.sum())  # fewer scales for small images
    values = [float(ms_ssim(a, b, weights=weights)) for a, b in itertools.combinations(samples, 2)]
    return float(np.mean(values)) if values else math.nan


@dataclass
class EvalReport:
    """Per-image scores and aggregates for every row (methods and baselines)."""

    data: str
    rows: list[str]
    per_image: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    failures: list[dict[str, str]] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)

    def folders(self) -> list[str]:
        """The sub-folders the images came from (``""`` for the top level), sorted."""
        return sorted({s.get("folder", "") for scores in self.per_image.values() for s in scores})

    def aggregate(self, folder: str | None = None) -> dict[str, dict[str, Any]]:
        """Mean of every metric per row (failed images left out), with the count.

        Means are over finite values (:func:`core.metrics.mean_finite`): a perfect
        prediction's PSNR is ``inf`` and is counted in ``non_finite[metric]``
        instead of turning the mean into ``inf``. With ``folder``, only the images of
        that sub-folder (see :meth:`folders`).
        """
        out: dict[str, dict[str, Any]] = {}
        for row in self.rows:
            scores = self.per_image.get(row, [])
            if folder is not None:
                scores = [s for s in scores if s.get("folder", "") == folder]
            keys = [k for k in scores[0] if k not in ("image", "folder")] if scores else []
            agg: dict[str, Any] = {}
            non_finite: dict[str, int] = {}
            for k in keys:
                agg[k], left_out = mean_finite(s[k] for s in scores)
                if left_out:
                    non_finite[k] = left_out
            agg["images"] = len(scores)
            agg["non_finite"] = non_finite
            out[row] = agg
        return out

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-safe data (``inf`` as ``"inf"``, NaN as ``None``)."""
        folders = self.folders()
        return json_safe(
            {
                "data": self.data,
                "settings": self.settings,
                "aggregate": self.aggregate(),
                "folders": {f: self.aggregate(f) for f in folders} if len(folders) > 1 else {},
                "per_image": self.per_image,
                "failures": self.failures,
            }
        )

    def tables(self) -> str:
        """The table of all images and, when they come from several sub-folders, one each."""
        folders = self.folders()
        if len(folders) < 2:
            return self.table()
        images = len(self.per_image[BASELINES[0]])  # every photo that loaded has a gray row
        parts = [f"{self.data} (all {images} images)\n\n" + self.table()]
        parts += [f"{self.data}/{f}\n\n" + self.table(f) for f in folders]
        return "\n\n".join(parts)

    def table(self, folder: str | None = None) -> str:
        """A Markdown table of the aggregates (of one sub-folder's images with ``folder``).

        The cast columns are the mean signed Δa*, Δb* and the mean absolute |Δa*|, |Δb*|.
        """
        agg = self.aggregate(folder)
        cols = list(METRICS) + [c for c in CAST_METRICS if any(c in a for a in agg.values())]
        if any("ms_ssim_samples" in a for a in agg.values()):
            cols.append("ms_ssim_samples")
        lines = [
            "| row | images | " + " | ".join(cols) + " |",
            "| --- | ---: | " + " | ".join("---:" for _ in cols) + " |",
        ]
        for row in self.rows:
            a = agg[row]
            cells = [
                (f"{a[c]:.{2 if c in CAST_METRICS else 4}f}"
                 if c in a and not math.isnan(a[c]) else "–")
                + (f" (+{a['non_finite'][c]} ∞)" if a["non_finite"].get(c) else "")
                for c in cols
            ]
            lines.append(f"| {row} | {int(a['images'])} | " + " | ".join(cells) + " |")
        return "\n".join(lines)


def evaluate(
    methods: Sequence[str],
    data: str | Path,
    *,
    samples: int = 1,
    seed: int = 0,
    limit: int | None = None,
    reference_mode: str = "none",
    tint_ab: tuple[float, float] = DEFAULT_TINT_AB,
    decoder: str | None = None,
    progress: bool = True,
    index: str | Path | None = None,
    options: dict[str, Any] | None = None,
) -> EvalReport:
    """Colorize every photo in ``data`` with each method and score it (see module doc).

    A colour photo is given to the method as is: the method reduces it to its own
    lightness, so no method sees colour. A failing image is recorded in
    ``report.failures`` and does not stop the run.

    ``reference_mode`` gives exemplar methods their reference: ``"none"``, ``"gt"`` (the
    photo itself), ``"random"`` (another photo of ``data``, seeded) or ``"auto"`` (the
    method's own top-1 recommendation from ``index``, He et al. 2018, §4 — methods with
    ``capabilities.recommend``).

    ``data`` may be written ``DIR@select`` / ``DIR@report`` (:func:`split_half`).
    ``options`` are passed to every method (``colorize eval -O KEY=VALUE``).
    """
    options = dict(options or {})
    from tqdm import tqdm

    from core import api

    if reference_mode not in REFERENCE_MODES:
        raise ValueError(
            f"unknown reference mode {reference_mode!r}; expected one of {REFERENCE_MODES}"
        )
    if (reference_mode == "auto") != (index is not None):
        raise ValueError("an index is needed with reference mode 'auto', and only with it")
    folder, half, files = data_files(data)
    files = files[:limit] if limit else files
    if not files:
        raise FileNotFoundError(f"{data}: no images found")
    rows = list(methods) + list(BASELINES)
    report = EvalReport(
        str(data),
        rows,
        {r: [] for r in rows},
        settings={
            "samples": samples,
            "seed": seed,
            "limit": limit,
            "reference_mode": reference_mode,
            "tint_ab": list(tint_ab),
            "decoder": decoder,
            "index": None if index is None else str(index),
            "half": half,
            "options": options,
        },
    )
    rng = np.random.default_rng(seed)
    for path in tqdm(files, desc="eval", unit="img", disable=not progress or None):
        try:
            true = load_image(path).rgb()
        except Exception as exc:
            report.failures.append({"image": str(path), "row": "*", "error": str(exc)})
            continue
        where = {"image": path.name, "folder": path.parent.relative_to(folder).as_posix()}
        if where["folder"] == ".":
            where["folder"] = ""
        for name in BASELINES:
            report.per_image[name].append(
                {**where, **score(baseline_prediction(name, true, tint_ab), true)}
            )
        for method in methods:
            try:
                reference = None
                if reference_mode == "gt":
                    reference = true
                elif reference_mode == "random":
                    reference = load_image(files[int(rng.integers(len(files)))]).rgb()
                elif reference_mode == "auto":
                    reference = "auto"
                t0 = time.perf_counter()
                if samples > 1:
                    results = api.sample_results(
                        true, method, samples, seed, reference=reference, index=index, **options
                    )
                else:
                    results = [
                        api.colorize_result(
                            true,
                            method,
                            reference=reference,
                            seed=seed,
                            decoder=decoder,
                            index=index,
                            **options,
                        )
                    ]
                elapsed = time.perf_counter() - t0
                row = {**where, **score(results[0].rgb, true), "seconds": elapsed}
                if samples > 1:
                    row["ms_ssim_samples"] = _pairwise_ms_ssim([r.rgb for r in results])
                report.per_image[method].append(row)
            except Exception as exc:  # one failure must not stop the evaluation
                report.failures.append(
                    {"image": str(path), "row": method, "error": f"{type(exc).__name__}: {exc}"}
                )
    return report


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``colorize eval``."""
    parser.add_argument(
        "--method",
        "-m",
        action="append",
        required=True,
        dest="methods",
        help="method to evaluate (repeat for several)",
    )
    parser.add_argument(
        "--data",
        required=True,
        action="append",
        help="folder of colour photos (recursive; sub-folders also reported apart); repeat "
        "for several distributions; DIR@select / DIR@report keeps one fixed half (split_half)",
    )
    parser.add_argument("--samples", type=int, default=1, help="samples per image (diverse)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--limit", type=int, default=None, help="use the first N images")
    parser.add_argument("--decoder", default=None)
    parser.add_argument(
        "--option",
        "-O",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="method option for every method (value as JSON, else text), e.g. -O rebalance=0.3",
    )
    parser.add_argument(
        "--reference-mode",
        choices=REFERENCE_MODES,
        default="none",
        help="reference for exemplar methods: none, the photo itself, another photo of --data, "
        "or the method's top-1 recommendation from --index",
    )
    parser.add_argument(
        "--index",
        default=None,
        metavar="FILE",
        help="reference index for --reference-mode auto (`colorize index build`)",
    )
    parser.add_argument(
        "--tint-ab",
        type=float,
        nargs=2,
        default=DEFAULT_TINT_AB,
        metavar=("A", "B"),
        help="chroma of the mean-tint baseline",
    )
    parser.add_argument(
        "--semantic",
        default=None,
        metavar="DIR",
        help="also run the semantic test on the held-out photos of this imagenet_sample "
        "folder: the colour ImageNet classifier's top-1 on each method's colorizations vs "
        "gray vs true colour (Zhang et al. 2016, Sec. 3.1)",
    )
    parser.add_argument("--json", default=None, metavar="FILE", help="write the full report")
    parser.add_argument("--quiet", "-q", action="store_true")


def run(args: argparse.Namespace) -> int:
    """Run ``colorize eval``; prints a Markdown table and returns the exit code."""
    if (args.reference_mode == "auto") != (args.index is not None):
        print("colorize eval: --index FILE goes with --reference-mode auto", file=sys.stderr)
        return 2
    from core.cli import parse_options

    try:
        options = parse_options(args.option)
    except ValueError as exc:
        print(f"colorize eval: {exc}", file=sys.stderr)
        return 2
    reports = []
    for data in args.data:
        report = evaluate(
            args.methods,
            data,
            samples=args.samples,
            seed=args.seed,
            limit=args.limit,
            reference_mode=args.reference_mode,
            tint_ab=tuple(args.tint_ab),
            decoder=args.decoder,
            progress=not args.quiet,
            index=args.index,
            options=options,
        )
        if len(args.data) > 1:
            print(f"## {data}\n")
        print(report.tables() + "\n")
        reports.append(report)
    failures = [f for r in reports for f in r.failures]
    payload = reports[0].to_dict() if len(reports) == 1 else {
        "sets": [r.to_dict() for r in reports]
    }
    if args.semantic:
        from colorize_eval.semantic import semantic_test

        semantic = semantic_test(
            list(args.methods),
            args.semantic,
            limit=args.limit,
            progress=not args.quiet,
            options=options,
        )
        payload["semantic"] = semantic
        print(f"\nsemantic test ({semantic['photos']} held-out imagenet_sample photos, top-1):")
        print("| row | top-1 |\n| --- | ---: |")
        for row, value in semantic["top1"].items():
            print(f"| {row} | {100 * value:.1f} % |")
    for failure in failures:
        print(f"FAILED {failure['row']} on {failure['image']}: {failure['error']}", file=sys.stderr)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(payload, indent=2, allow_nan=False))
    return 1 if failures else 0
