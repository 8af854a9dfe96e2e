"""Throughput of :func:`core.colorspaces.lab.rgb_to_lab` beside ``skimage.color.rgb2lab``.

Float32 sRGB images of uniform random pixels in [0, 1) (seed 0) at 1024x1024 and
4000x3000 (12 MP), converted by:

``core``
    :func:`core.colorspaces.lab.rgb_to_lab` as installed: the C kernel
    (``core._kernels.rgb_to_lab``, one thread) where it is built;
``opencv path``
    the same function with ``COLORIZE_KERNELS=0``: the OpenCV fallback (on OpenCV's
    threads, ``cv2.getNumThreads()``);
``skimage``
    ``skimage.color.rgb2lab`` (numpy, one thread).

The three run side by side in each round, in an order that rotates from round to round,
after one warm-up round; the figures are medians over the rounds (MP/s = megapixels per
second of wall time). The maximum absolute differences are in Lab units, over all three
channels. Not part of the test suite.

Usage::

    python scripts/bench_lab.py [--rounds 7] [--sizes 1024x1024,4000x3000]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.colorspaces.lab import rgb_to_lab  # noqa: E402
from core.compiled import compiled_kernels  # noqa: E402


def _opencv_path(rgb: np.ndarray) -> np.ndarray:
    """:func:`rgb_to_lab` with the C kernels turned off (read on every call)."""
    before = os.environ.get("COLORIZE_KERNELS")
    os.environ["COLORIZE_KERNELS"] = "0"
    try:
        return rgb_to_lab(rgb)
    finally:
        if before is None:
            del os.environ["COLORIZE_KERNELS"]
        else:
            os.environ["COLORIZE_KERNELS"] = before


def _seconds(func: Callable[[], object]) -> float:
    start = time.perf_counter()
    func()
    return time.perf_counter() - start


def measure(width: int, height: int, rounds: int) -> dict[str, float]:
    """Median MP/s of the three conversions and their largest differences (Lab units)."""
    from skimage import color

    rgb = np.random.default_rng(0).random((height, width, 3), dtype=np.float32)
    cases: dict[str, Callable[[], object]] = {
        "core": lambda: rgb_to_lab(rgb),
        "opencv path": lambda: _opencv_path(rgb),
        "skimage": lambda: color.rgb2lab(rgb),
    }
    names = list(cases)
    for name in names:  # warm-up: page faults, OpenCV's thread pool, imports
        cases[name]()
    times: dict[str, list[float]] = {name: [] for name in names}
    for r in range(rounds):
        for name in names[r % 3 :] + names[: r % 3]:
            times[name].append(_seconds(cases[name]))
    megapixels = width * height / 1e6
    result = {name: megapixels / statistics.median(times[name]) for name in names}
    ours, fallback, theirs = rgb_to_lab(rgb), _opencv_path(rgb), color.rgb2lab(rgb)
    result["diff skimage"] = float(np.abs(ours - theirs).max())
    result["diff opencv"] = float(np.abs(ours - fallback).max())
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7, help="timed rounds (median)")
    parser.add_argument(
        "--sizes",
        default="1024x1024,4000x3000",
        help="comma-separated WIDTHxHEIGHT images (default: 1024x1024,4000x3000)",
    )
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    try:
        sizes = [tuple(int(v) for v in s.lower().split("x")) for s in args.sizes.split(",")]
    except ValueError:
        parser.error(f"--sizes: expected WIDTHxHEIGHT,..., got {args.sizes!r}")

    import cv2
    import skimage

    kernels = "built" if compiled_kernels() is not None else "NOT built (core = opencv path)"
    print(
        f"rgb_to_lab vs skimage.color.rgb2lab, float32 sRGB, median of {args.rounds} "
        f"interleaved rounds"
    )
    print(
        f"C kernels: {kernels}; OpenCV {cv2.__version__} ({cv2.getNumThreads()} threads); "
        f"scikit-image {skimage.__version__}; numpy {np.__version__}"
    )
    header = (
        f"{'size':>18}  {'core MP/s':>9}  {'opencv path':>11}  {'skimage':>7}  "
        f"{'core/skimage':>12}  {'max|core-skimage|':>17}  {'max|core-opencv|':>16}"
    )
    print(header)
    for width, height in sizes:
        r = measure(width, height, args.rounds)
        label = f"{width}x{height} ({width * height / 1e6:.1f} MP)"
        print(
            f"{label:>18}  {r['core']:9.1f}  {r['opencv path']:11.1f}  {r['skimage']:7.1f}  "
            f"{r['core'] / r['skimage']:11.1f}x  {r['diff skimage']:17.2e}  "
            f"{r['diff opencv']:16.2e}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
