"""Benchmark of colour-hint propagation (core.hints) on a 12 MP photo: time and peak memory.

Each case runs in a fresh subprocess, so that its peak resident memory is its own: the
process prepares its inputs, resets the kernel's high-water mark (``/proc/self/clear_refs``,
Linux), runs the case and reports the time and the peak above the resident size just
before (``VmHWM`` from ``/proc/self/status``; elsewhere ``resource.getrusage``'s
``ru_maxrss``, the process's peak so far).

Cases:

``propagate``
    :func:`core.hints.apply_hints` alone on the photo's full-resolution lightness and a
    method's upsampled chroma, with 1, 5 and 20 hints, at the default solve grid
    (:data:`core.hints.SOLVE_PIXELS`) and, with ``--grids``, at other grid sizes.
``solve``
    The spread alone (:func:`core.hints.spread_correction`: path costs and Dijkstra) on
    the default grid with 5 hints: the part of ``propagate`` that does not depend on the
    photo's size.
``pipeline``
    :func:`core.colorize_result` end to end with ``--method`` (default: the default
    method), without hints and with 5 hints.

The photo is ``--photo`` (default ``core/data/detroit_ca1915.jpg``) resized to ``--shape``
(default 4000x3000). Not part of the test suite; prints a Markdown table, ``--json OUT``
writes the records.

Usage::

    python scripts/bench_hints.py [--shape 4000x3000] [--method NAME] [--grids 16384,262144]
        [--photo PATH] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

_CASE = r"""
import json, resource, sys, time
import cv2, numpy as np
from PIL import Image
import core
from core import hints as H
from core.plugins import get_registry

case, photo, width, height, count, grid, method = sys.argv[1:8]
width, height, count, grid = int(width), int(height), int(count), int(grid)

def status(key):
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(key):
                    return int(line.split()[1])
    except OSError:
        return None

def reset():
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False

gray = np.asarray(Image.open(photo).convert("L").resize((width, height), Image.BICUBIC))
rng = np.random.default_rng(0)
points = [H.Hint(float(rng.uniform(0, width)), float(rng.uniform(0, height)),
                 tuple(float(c) for c in rng.uniform(0, 1, 3))) for _ in range(count)]
import scipy.sparse.csgraph  # imported before the measurement, as a running server has it
if case == "propagate":
    base = core.colorize_result(gray[::8, ::8], method)   # a real method's chroma ...
    space = get_registry().get("colorspace", base.colorspace)
    lightness = space.gray_lightness(gray.astype(np.float32) / 255.0)
    chroma = space.resize_chroma(                         # ... upsampled to 12 MP
        cv2.resize(base.chroma, (width // 8, height // 8)), (height, width))
    del base
    exact = reset()
    before = status("VmRSS:") if exact else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    out = H.apply_hints(lightness, chroma, points, space, max_pixels=grid)
    seconds = time.perf_counter() - t0
elif case == "solve":  # the spread alone, on the grid's inputs
    gh, gw = H.solve_shape((height, width), grid)
    small = cv2.resize(gray.astype(np.float32) / 2.55, (gw, gh), interpolation=cv2.INTER_AREA)
    prior = np.zeros((gh, gw, 2), np.float32)
    guide = np.dstack([small, prior])
    owner, fixed = H._hinted_pixels(points, (height, width), (gh, gw))
    targets = np.array([[20.0, -20.0], [-20.0, 20.0]], np.float32)[owner % 2]
    exact = reset()
    before = status("VmRSS:") if exact else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    H.spread_correction(guide, prior, targets, fixed)
    seconds = time.perf_counter() - t0
else:
    core.colorize_result(gray[:64, :64], method)          # load the models first
    exact = reset()
    before = status("VmRSS:") if exact else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    res = core.colorize_result(gray, method, hints=points or None)
    seconds = time.perf_counter() - t0
    timings = res.timings
peak = status("VmHWM:") if exact else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
record = {"case": case, "hints": count, "grid_pixels": grid,
          "grid": list(H.solve_shape((height, width), grid)), "seconds": seconds,
          "peak_above_mib": (peak - before) / 1024, "peak_mib": peak / 1024, "exact": exact}
if case == "pipeline":
    record["hint_seconds"] = timings.get("hints", 0.0)
print(json.dumps(record))
"""


def run_case(
    case: str, photo: str, shape: tuple[int, int], count: int, grid: int, method: str
) -> dict:
    width, height = shape
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            _CASE,
            case,
            photo,
            str(width),
            str(height),
            str(count),
            str(grid),
            method,
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise SystemExit(f"case {case} ({count} hints) failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    from colorize_bench.bench import machine_description

    import core
    from core.hints import SOLVE_PIXELS

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", default="4000x3000", help="width x height (default 12 MP)")
    parser.add_argument("--photo", default=str(ROOT / "core" / "data" / "detroit_ca1915.jpg"))
    parser.add_argument("--method", default=None, help="method (default: the default method)")
    parser.add_argument("--grids", default="", help="other solve-grid sizes, e.g. 16384,262144")
    parser.add_argument("--json", default=None, metavar="OUT")
    args = parser.parse_args(argv)
    width, height = (int(v) for v in args.shape.lower().split("x"))
    method = args.method or core.default_method()
    grids = [SOLVE_PIXELS] + [int(g) for g in args.grids.split(",") if g.strip()]
    records = []
    for grid in grids:
        for count in (1, 5, 20) if grid == SOLVE_PIXELS else (5,):
            records.append(run_case("propagate", args.photo, (width, height), count, grid, method))
    records.append(run_case("solve", args.photo, (width, height), 5, SOLVE_PIXELS, method))
    for count in (0, 5):
        records.append(
            run_case("pipeline", args.photo, (width, height), count, SOLVE_PIXELS, method)
        )
    print(f"machine: {machine_description()}")
    print(f"load average: {' '.join(f'{v:.1f}' for v in os.getloadavg())}")
    print(f"photo {Path(args.photo).name} resized to {width}x{height}; method {method}\n")
    print("| case | hints | solve grid | seconds | peak above start (MiB) | process peak (MiB) |")
    print("| --- | ---: | --- | ---: | ---: | ---: |")
    for r in records:
        grid = f"{r['grid'][1]}x{r['grid'][0]} ({r['grid_pixels']} px)"
        extra = f" (hints {r['hint_seconds']:.2f} s)" if r["case"] == "pipeline" else ""
        print(
            f"| {r['case']} | {r['hints']} | {grid} | {r['seconds']:.2f}{extra} | "
            f"{r['peak_above_mib']:.0f} | {r['peak_mib']:.0f} |"
        )
    if args.json:
        Path(args.json).write_text(
            json.dumps({"method": method, "shape": [width, height], "records": records}, indent=2)
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
