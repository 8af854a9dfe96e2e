"""Benchmark of PixColor sampling: naive (full PixelCNN per pixel) vs cached step graphs.

The comparison itself lives in the plugin (:func:`colorize_pixcolor.bench.benchmark`,
the ``pixcolor`` entry of the ``colorize.benchmarks`` group, also run by
``colorize bench``): same shipped model, same noise, same run; the samples are checked
to be identical. This script runs its full version (one 28x28 sample and n = 8 batched)
and adds the end-to-end ``core.colorize`` / ``core.sample`` time on a 512x512 input.

    COLORIZE_THREADS=1 .venv/bin/python benchmarks/bench_pixcolor.py [--repeat 3] [--json FILE]

Not a test: timings depend on the machine and its load.
"""

from __future__ import annotations

import argparse
import json

import numpy as np


def main() -> int:
    from colorize_bench.bench import best_run, machine_description
    from colorize_pixcolor.bench import benchmark

    import core

    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3, help="best of N for end-to-end runs")
    parser.add_argument("--json", default=None)
    args = parser.parse_args()

    results: dict[str, object] = {"machine": machine_description(), **benchmark(quick=False)}
    for name, c in results["comparisons"].items():
        print(
            f"{name}: {c['b']['label']} {c['b']['value']:.2f} s, {c['a']['label']} "
            f"{c['a']['value']:.3f} s, speed-up {c['ratio']:.1f}x ({c['note']})"
        )
    rng = np.random.default_rng(0)
    image = (rng.random((512, 512)) * 255).astype(np.uint8)
    core.colorize(image, method="pixcolor", seed=0)
    e2e = best_run(lambda: core.colorize(image, method="pixcolor", seed=0), args.repeat)[0]
    e2e8 = best_run(lambda: core.sample(image, "pixcolor", 8, seed=0), 1)[0]
    results["end_to_end_512_s"] = round(e2e, 3)
    results["end_to_end_512_n8_s"] = round(e2e8, 3)
    print(
        f"core.colorize 512x512 (one sample, refined): {e2e:.3f} s; core.sample n=8: {e2e8:.3f} s"
    )
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(results, handle, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
