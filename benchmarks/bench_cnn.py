"""Benchmark of the colorize-cnn graphs: ONNX Runtime against torch eager, same weights.

For a 512 x 512 input it measures, in one run and on the same weights:

* the network alone at the working shape the pipeline uses (64 x 64) and at the
  full 512 x 512 (the graphs have dynamic spatial axes): ORT vs torch eager,
  median latency and their ratio;
* the whole pipeline (``core.colorize`` on a 512 x 512 photo, ORT);
* peak resident memory (``VmHWM``) of a fresh process doing each, next to its
  resident memory once the model is loaded.

Not a test: numbers depend on the machine; compare ratios, not seconds.

Usage: python benchmarks/bench_cnn.py [--method cnn-classification]
       [--checkpoint runs/cnn-classification/last.ckpt] [--repeats 20] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
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


def _status_mb(field: str) -> float:
    """``VmRSS`` / ``VmHWM`` of this process in MB (ru_maxrss would include the parent's
    peak on Linux, which survives fork + exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024.0
    return float(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) / 1024.0


def _child(args: argparse.Namespace) -> None:
    """Peak-memory probe: one backend in a fresh process; prints JSON."""
    x = np.full((1, 1, args.size, args.size), 50.0, np.float32)
    if args.child == "torch":
        import torch

        from training.recipe import load_recipe

        model = load_recipe(args.method).build_model({}).eval()
        torch.set_num_threads(args.threads)
        base = _status_mb("VmRSS")
        with torch.no_grad():
            for _ in range(3):
                model(torch.from_numpy(x))
    elif args.child == "ort":
        from core.runtime import get_session

        session = get_session(args.onnx, verify=False)
        base = _status_mb("VmRSS")
        for _ in range(3):
            session.run(None, {"lightness": x})
    else:  # the whole pipeline through the core
        import core

        image = (np.random.default_rng(0).random((args.size, args.size)) * 255).astype(np.uint8)
        core.colorize(image, method=args.method)
        base = _status_mb("VmRSS")
        for _ in range(3):
            core.colorize(image, method=args.method)
    print(json.dumps({"after_load_mb": base, "peak_mb": _status_mb("VmHWM")}))


def _memory(kind: str, args: argparse.Namespace, onnx_path: Path) -> dict:
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
        COLORIZE_THREADS=str(args.threads),
    )
    cmd = [
        sys.executable,
        __file__,
        "--child",
        kind,
        "--method",
        args.method,
        "--onnx",
        str(onnx_path),
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
    parser.add_argument("--method", default="cnn-classification")
    parser.add_argument("--checkpoint", help="trained checkpoint (default: random weights)")
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--json", help="write the results here")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--onnx", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        _child(args)
        return 0

    import torch

    from core.runtime import get_session
    from onnx_export.export import export_graph
    from training.recipe import load_recipe
    from training.trainer import load_checkpoint

    torch.set_num_threads(args.threads)
    os.environ["COLORIZE_THREADS"] = str(args.threads)
    recipe = load_recipe(args.method)
    model = recipe.build_model({})
    if args.checkpoint:
        model.load_state_dict(load_checkpoint(args.checkpoint)["model"])
    model.eval()
    results: dict = {
        "method": args.method,
        "weights": args.checkpoint or "random init",
        "threads": args.threads,
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs",
        "torch": torch.__version__,
    }
    with tempfile.TemporaryDirectory() as tmp:
        (graph,) = recipe.export_graphs(model, {})
        exported = export_graph(graph, tmp)  # the same weights as `model`
        session = get_session(exported.path, verify=False)
        for label, shape in (
            ("working 64x64", (64, 64)),
            (f"full {args.size}x{args.size}", (args.size, args.size)),
        ):
            x = np.full((1, 1, *shape), 50.0, np.float32)
            xt = torch.from_numpy(x)

            def run_torch(xt=xt):
                with torch.no_grad():
                    model(xt)

            def run_ort(x=x):
                session.run(None, {"lightness": x})

            ort_s = _median_seconds(run_ort, args.repeats)
            torch_s = _median_seconds(run_torch, args.repeats)
            results[label] = {
                "ort_ms": 1e3 * ort_s,
                "torch_ms": 1e3 * torch_s,
                "torch_over_ort": torch_s / ort_s,
            }
        memory = {kind: _memory(kind, args, exported.path) for kind in ("ort", "torch")}
    import core

    image = (np.random.default_rng(0).random((args.size, args.size)) * 255).astype(np.uint8)
    if args.method in [m.name for m in core.methods()]:
        results["pipeline_ms"] = 1e3 * _median_seconds(
            lambda: core.colorize(image, method=args.method), max(5, args.repeats // 2)
        )
        memory["pipeline"] = _memory("pipeline", args, Path("unused"))
    results["peak_memory_mb"] = memory
    print(json.dumps(results, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
