"""The shared backbone: every larsson head on one photo, features once vs once per head.

With the per-image feature cache (``core.backbones``, the default) the four Table 1
heads colouring the same photo run the gray EfficientNet-Lite0 once; with
``COLORIZE_FEATURE_CACHE=0`` (the reference, measured in the same run, interleaved)
they run it four times. Also reported: the backbone pass alone and one head alone at
the working resolution, so the ratio can be read against where the time goes.

Usage::

    python benchmarks/bench_backbone.py [--image core/data/detroit_ca1915.jpg] [--repeats 5]
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import numpy as np
from colorize_bench.bench import best_seconds

import core
from core.backbones import get_backbone

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image", default=str(ROOT / "examples" / "detroit_ca1915.jpg"))
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    methods = [m.name for m in core.methods() if m.name.startswith("larsson")]
    backbone = get_backbone("efficientnet-lite0-gray")
    image = core.io.load_image(args.image).rgb()

    def all_heads(cache: str):
        def run():
            os.environ["COLORIZE_FEATURE_CACHE"] = cache
            backbone.clear_cache()
            for method in methods:
                core.colorize_result(image, method, seed=0)
        return run

    shared = best_seconds({"shared (cache on)": all_heads("4"),
                           "per head (cache off)": all_heads("0")}, args.repeats)
    os.environ["COLORIZE_FEATURE_CACHE"] = "4"
    colorizer = core.plugins.get_registry().get("method", methods[0])
    h, w = image.shape[:2]
    wh, ww = colorizer.working_shape(h, w)
    lightness = np.random.default_rng(0).uniform(0, 100, (wh, ww)).astype(np.float32)

    def backbone_only():
        backbone.clear_cache()
        backbone.features(lightness)

    def head_only():
        colorizer.logits(lightness)  # features cached after the first call

    parts = best_seconds({"backbone pass": backbone_only, "one head (cached features)": head_only},
                         args.repeats)
    report = {
        "image": args.image,
        "working_shape": [wh, ww],
        "methods": methods,
        "seconds": {**shared, **parts},
        "speedup_shared_vs_per_head": shared["per head (cache off)"] / shared["shared (cache on)"],
    }
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
