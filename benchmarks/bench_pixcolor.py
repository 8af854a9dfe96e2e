"""Benchmark of PixColor sampling: naive (full PixelCNN per pixel) vs cached step graphs.

Same shipped model, same noise, same run; the samples are checked to be identical.
Reports seconds and the cached/naive speed-up for one 28x28 sample and for n = 8 samples
batched in one pass, and the end-to-end ``core.colorize`` time on a 512x512 input.

    COLORIZE_THREADS=1 .venv/bin/python benchmarks/bench_pixcolor.py [--repeat 3] [--json FILE]

Not a test: timings depend on the machine and its load.
"""

from __future__ import annotations

import argparse
import json
import platform
import time

import numpy as np


def _best(fn, repeat: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


def main() -> int:
    from colorize_pixcolor.colorizer import PixColor
    from colorize_pixcolor.sampling import gumbel_noise, sample_cached, sample_naive

    import core

    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3, help="best of N (naive runs once)")
    parser.add_argument("--json", default=None)
    args = parser.parse_args()

    colorizer = PixColor()
    y, x = np.mgrid[0:112, 0:112]
    lightness = (0.5 + 0.4 * np.sin(x / 9.0) * np.cos(y / 7.0)).astype(np.float32)
    (cond1,) = colorizer.graphs.cond.run(lightness=lightness[None, None])
    results: dict[str, object] = {"machine": platform.processor() or platform.machine(),
                                  "grid": "28x28"}
    for n in (1, 8):
        cond = np.ascontiguousarray(np.repeat(cond1, n, axis=0))
        noise = gumbel_noise(0, n, 28, 28)
        sample_cached(colorizer.graphs, cond, noise)  # warm-up (sessions, allocations)
        cached_s, cached = _best(
            lambda c=cond, z=noise: sample_cached(colorizer.graphs, c, z), args.repeat)
        naive_s, naive = _best(lambda c=cond, z=noise: sample_naive(colorizer.graphs, c, z), 1)
        same = bool(np.array_equal(cached.cr, naive.cr) and np.array_equal(cached.cb, naive.cb))
        results[f"n={n}"] = {"naive_s": round(naive_s, 3), "cached_s": round(cached_s, 3),
                             "speedup": round(naive_s / cached_s, 1), "identical": same}
        print(f"n={n}: naive {naive_s:.2f} s, cached {cached_s:.3f} s, "
              f"speed-up {naive_s / cached_s:.1f}x, identical samples: {same}")
    rng = np.random.default_rng(0)
    image = (rng.random((512, 512)) * 255).astype(np.uint8)
    core.colorize(image, method="pixcolor", seed=0)
    e2e, _ = _best(lambda: core.colorize(image, method="pixcolor", seed=0), args.repeat)
    e2e8, _ = _best(lambda: core.sample(image, "pixcolor", 8, seed=0), 1)
    results["end_to_end_512_s"] = round(e2e, 3)
    results["end_to_end_512_n8_s"] = round(e2e8, 3)
    print(f"core.colorize 512x512 (one sample, refined): {e2e:.3f} s; "
          f"core.sample n=8: {e2e8:.3f} s")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(results, handle, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
