"""How well can the frozen backbone tell a photo's overall tone? A linear probe.

Fits ridge regression from the globally pooled backbone levels (``head``, ``f32``, ``f16``
of a ``training.features`` cache: 1,712 numbers a photo) to the photo's mean a*, b*, on
the training caches, with the head trainer's source weighting, and reports on evaluation
folders the per-photo cast it leaves (mean |Δb*|, mean Δb*), beside gray's and beside the
best constant tone (each set's own true mean, which no method can know). Issue 30 asks
for mean |Δb*| ≤ 5; this measures what the features the heads see can support.

Usage::

    python plugins/colorize-larsson/scripts/tone_probe.py \\
        --cache runs/features --cache runs/features-extra --work runs/tone-probe \\
        --eval bsds-test=$COLORIZE_DATA/bsds500/images/test \\
        --eval people=$COLORIZE_DATA/everyday_val/people \\
        --weighting sqrt --weighting equal --boost bsds500=10

Evaluation photos are cached (centre 160 px crop, the shipped gray backbone) under
``--work``; the tone of a row is that of its 40 x 40 colour thumbnail.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

POOLED = ("head", "f32", "f16")


def pooled(folder: Path, chunk: int = 2048) -> tuple[np.ndarray, np.ndarray]:
    """(pooled features (N, C), true mean a*, b* (N, 2)) of a feature cache."""
    from core.colorspaces.lab import rgb_to_lab

    parts = []
    for name in POOLED:
        a = np.load(folder / f"{name}.npy", mmap_mode="r")
        parts.append(np.concatenate([np.asarray(a[i : i + chunk], np.float32).mean((2, 3))
                                     for i in range(0, len(a), chunk)]))
    rgb = np.load(folder / "rgb4.npy", mmap_mode="r")
    tone = np.concatenate([
        rgb_to_lab(np.asarray(rgb[i : i + chunk], np.float32) / 255.0)[..., 1:].mean((1, 2))
        for i in range(0, len(rgb), chunk)
    ])
    return np.concatenate(parts, 1), tone


def source_weights(sources: np.ndarray, power: float, boost: dict[str, float]) -> np.ndarray:
    """Row weights: each source's share ∝ size**power (× boost), as ``head train``."""
    names, inverse, counts = np.unique(sources, return_inverse=True, return_counts=True)
    share = counts.astype(np.float64) ** power
    for prefix, factor in boost.items():
        share[[i for i, n in enumerate(names) if n.startswith(prefix)]] *= factor
    w = (share / share.sum() / counts)[inverse]
    return w / w.sum()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", action="append", type=Path, required=True)
    parser.add_argument("--eval", action="append", required=True, metavar="NAME=FOLDER")
    parser.add_argument("--work", type=Path, default=Path("runs/tone-probe"))
    parser.add_argument("--weighting", action="append", choices=("none", "sqrt", "equal"))
    parser.add_argument("--boost", action="append", default=[], metavar="SOURCE=FACTOR")
    parser.add_argument("--ridge", type=float, default=1e-3)
    args = parser.parse_args(argv)
    from training.features import OnnxPyramid, build_cache

    features, tones, sources = [], [], []
    for folder in args.cache:
        x, y = pooled(folder)
        features.append(x)
        tones.append(y)
        sources += json.loads((folder / "meta.json").read_text())["sources"]
    x, y, sources = np.concatenate(features), np.concatenate(tones), np.array(sources)
    mu, sd = x.mean(0), x.std(0) + 1e-6
    xn = (x - mu) / sd
    evals = {}
    for spec in args.eval:
        name, _, folder = spec.partition("=")
        paths = sorted(p for p in Path(folder).iterdir()
                       if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
        build_cache(OnnxPyramid(None, threads=2), paths, args.work / name, size=160,
                    progress=False)
        evals[name] = pooled(args.work / name)
    for name, (_, truth) in evals.items():
        print(f"{name}: gray |Δb*| {np.abs(truth[:, 1]).mean():.2f} (Δb* "
              f"{-truth[:, 1].mean():+.2f}); best constant tone |Δb*| "
              f"{np.abs(truth[:, 1] - truth[:, 1].mean()).mean():.2f}")
    boost = {k: float(v) for k, _, v in (b.partition("=") for b in args.boost)}
    runs = [(w, {}) for w in args.weighting or ["sqrt"]] + [("sqrt", boost)] * bool(boost)
    for weighting, extra in runs:
        w = source_weights(sources, {"none": 1.0, "sqrt": 0.5, "equal": 0.0}[weighting], extra)
        mean = w @ y
        xw = xn * np.sqrt(w)[:, None]
        coef = np.linalg.solve(xw.T @ xw + args.ridge * np.eye(xn.shape[1]),
                               xw.T @ ((y - mean) * np.sqrt(w)[:, None]))
        cells = []
        for name, (features_, truth) in evals.items():
            d = ((features_ - mu) / sd) @ coef + mean - truth
            cells.append(f"{name} |Δb*| {np.abs(d[:, 1]).mean():.2f} Δb* {d[:, 1].mean():+.2f}"
                         f" |Δa*| {np.abs(d[:, 0]).mean():.2f}")
        label = weighting + "".join(f", {k}×{v:g}" for k, v in extra.items())
        print(f"probe ({label}): " + "; ".join(cells), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
