"""Full-resolution recombination: the core's path vs the previous generic one, same run.

The core recombines working-resolution chroma with the input's full-resolution
lightness and applies the lightness correction of Larsson et al. (2016), App. A.4,
which needs the gray of a given lightness twice per pixel. ``core.api._recombine``
computes it with ``ColorSpace.gray_of_lightness`` / ``gray_equivalent`` (a closed form
for Lab); the reference below is the same loop with the generic definition (a Lab ->
RGB conversion of zero chroma), as the core did before.

Usage::

    python benchmarks/bench_recombine.py [--size 2048] [--repeats 5] [--runs 3]
"""

from __future__ import annotations

import argparse

import numpy as np

from core import api
from core.bench import best_run
from core.colorspaces.base import ColorSpace
from core.plugins import get_registry


def generic_recombine(space, lightness, chroma):
    """The recombination loop with the generic gray-of-lightness (the reference)."""
    h, w = lightness.shape
    full = space.resize_chroma(chroma, (h, w)).astype(np.float32, copy=False)
    rgb = np.empty((h, w, 3), np.float32)
    rows = max(1, api._STRIP_PIXELS // w)
    for top in range(0, h, rows):
        sl = slice(top, min(h, top + rows))
        out = np.clip(space.to_rgb(lightness[sl], full[sl]), 0.0, 1.0)
        target = ColorSpace.gray_of_lightness(space, lightness[sl])
        achieved = ColorSpace.gray_of_lightness(space, space.lightness(out))
        out += (target - achieved)[..., None]
        rgb[sl] = np.clip(out, 0.0, 1.0)
    return rgb


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=2048)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    space = get_registry().get("colorspace", "lab")
    rng = np.random.default_rng(0)
    lightness = (rng.random((args.size, args.size)) * 100).astype(np.float32)
    chroma = rng.normal(0, 20, (16, 16, 2)).astype(np.float32)
    ours, _ = api._recombine(space, lightness, chroma, None)
    diff = float(np.abs(ours - generic_recombine(space, lightness, chroma)).max())
    print(f"{args.size}^2 recombination, colour input; max |difference| {diff:.1e}")
    for _ in range(args.runs):
        a = best_run(lambda: api._recombine(space, lightness, chroma, None), args.repeats)[0]
        b = best_run(lambda: generic_recombine(space, lightness, chroma), args.repeats)[0]
        print(f"core {a:.3f} s   generic {b:.3f} s   ratio {b / a:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
