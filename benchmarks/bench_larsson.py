"""Benchmark of the colorize-larsson graphs: 512 x 512 latency on ONNX Runtime and peak memory.

For one shipped method (default ``larsson``) it measures:

* the shipped ONNX graph alone (dense hypercolumns, factorized ``h_fc1``) at the working
  shape the pipeline uses (96 x 96 for a square photo) and at the full 512 x 512 (the
  graph has dynamic spatial axes): median latency;
* the whole pipeline, ``core.colorize`` of a 512 x 512 photo (ORT, default decoder);
* the pipeline with energy-minimisation transfer to a reference (Eq. 6);
* peak resident memory (``ru_maxrss``) of a fresh process doing each, and its increase
  over the same process after its imports;
* with ``--torch``: the same network in torch eager at 512 x 512 with dense
  hypercolumns formed literally (``concat``: upsample every layer, concatenate) and
  factorized, to show what the factorization saves.

Not a test: numbers depend on the machine and its load; compare ratios, not seconds.

Usage: python benchmarks/bench_larsson.py [--method larsson] [--repeats 20] [--threads 1]
       [--torch] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def _median_seconds(func, repeats: int) -> float:
    func()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def _rss_mb() -> float:
    """Peak resident memory of this process in MB.

    ``VmHWM`` from /proc (reset by ``exec``), not ``ru_maxrss``: on Linux the latter is
    inherited across ``fork`` + ``exec``, so a child would report its parent's peak.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _photo(size: int) -> np.ndarray:
    y, x = np.mgrid[0:size, 0:size]
    return (128 + 100 * np.sin(x / 23.0) * np.cos(y / 17.0)).astype(np.uint8)


def _reference() -> np.ndarray:
    rgb = np.zeros((64, 64, 3), np.float32)
    rgb[:32] = (0.2, 0.4, 0.8)
    rgb[32:] = (0.8, 0.6, 0.2)
    return rgb


def _graph_path(method: str) -> Path:
    from colorize_larsson import MODELS_DIR

    return MODELS_DIR / f"{method}.onnx"


def _child(args: argparse.Namespace) -> None:
    """Peak-memory probe: one configuration in a fresh process; prints JSON."""
    x = np.full((1, 1, args.size, args.size), 50.0, np.float32)
    if args.child == "ort":
        from core.runtime import get_session

        session = get_session(_graph_path(args.method))
        base = _rss_mb()
        for _ in range(3):
            session.run(None, {"lightness": x})
    elif args.child in ("torch-concat", "torch-factorized"):
        import torch

        from training.recipe import load_recipe

        torch.set_num_threads(args.threads)
        model = load_recipe(args.method).build_model({}).eval()
        mode = args.child.split("-")[1]
        base = _rss_mb()
        with torch.no_grad():
            for _ in range(3):
                model.predict_dense(torch.from_numpy(x), mode)
    else:
        import core

        kwargs = {"reference": _reference()} if args.child == "pipeline-energy" else {}
        image = _photo(args.size)
        core.colorize(image, method=args.method, **kwargs)
        base = _rss_mb()
        for _ in range(3):
            core.colorize(image, method=args.method, **kwargs)
    print(json.dumps({"after_imports_mb": round(base, 1), "peak_mb": round(_rss_mb(), 1)}))


def _memory(kind: str, args: argparse.Namespace) -> dict:
    env = dict(os.environ, COLORIZE_THREADS=str(args.threads))
    cmd = [
        sys.executable,
        __file__,
        "--child",
        kind,
        "--method",
        args.method,
        "--size",
        str(args.size),
        "--threads",
        str(args.threads),
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    if done.returncode != 0:
        return {"error": done.stderr[-500:]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--method", default="larsson")
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--torch", action="store_true", help="also time torch concat/factorized")
    parser.add_argument("--json", help="write the results here")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        _child(args)
        return 0
    os.environ["COLORIZE_THREADS"] = str(args.threads)

    import core
    from core.runtime import get_session

    session = get_session(_graph_path(args.method))
    results: dict = {
        "method": args.method,
        "threads": args.threads,
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs",
        "load_average": os.getloadavg()[0],
    }
    for label, shape, reps in (
        ("graph 96x96 (working)", (96, 96), args.repeats),
        (f"graph {args.size}x{args.size}", (args.size, args.size), max(3, args.repeats // 4)),
    ):
        x = np.full((1, 1, *shape), 50.0, np.float32)
        results[label + " ms"] = 1e3 * _median_seconds(
            lambda x=x: session.run(None, {"lightness": x}), reps
        )
    image = _photo(args.size)
    reps = max(5, args.repeats // 2)
    results[f"pipeline {args.size}x{args.size} ms"] = 1e3 * _median_seconds(
        lambda: core.colorize(image, method=args.method), reps
    )
    results[f"pipeline+energy transfer {args.size}x{args.size} ms"] = 1e3 * _median_seconds(
        lambda: core.colorize(image, method=args.method, reference=_reference()), reps
    )
    kinds = ["ort", "pipeline", "pipeline-energy"]
    if args.torch:
        import torch

        from training.recipe import load_recipe

        torch.set_num_threads(args.threads)
        model = load_recipe(args.method).build_model({}).eval()
        xt = torch.full((1, 1, args.size, args.size), 50.0)
        for mode in ("concat", "factorized"):

            def run(mode=mode):
                with torch.no_grad():
                    model.predict_dense(xt, mode)

            results[f"torch {mode} {args.size}x{args.size} ms"] = 1e3 * _median_seconds(
                run, max(2, args.repeats // 8)
            )
        kinds += ["torch-concat", "torch-factorized"]
    results["peak_memory_mb"] = {kind: _memory(kind, args) for kind in kinds}
    print(json.dumps(results, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
