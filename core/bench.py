"""``colorize bench``: end-to-end latency and peak memory of every installed method.

For each method and input size (256², 512², 2048²; ``--quick``: 256², 512²) the
benchmark reports the median wall time of ``core.colorize_result`` over a few runs
(after one warm-up run), split into the method's own prediction and the core's work
(loading, resizing, recombination), and the peak resident memory of a fresh process
doing one colorization, minus that process's resident memory before it (so the
Python interpreter, libraries and loaded models are not counted; the kernel's
high-water mark is reset just before the call through ``/proc/self/clear_refs``).
Ratios compare quantities measured in the same run: the core's share of the total,
and how latency grows from 512² to 2048² (16× the pixels).

Plugins' own comparisons (ONNX Runtime vs torch eager, cached vs naive sampling) live
in ``benchmarks/``; ``docs/performance.md`` collects all figures with their commands.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["configure_parser", "machine_description", "run", "run_benchmarks"]

_MEMORY_PROBE = r"""
import json, sys
import numpy as np
import core

def status(key):
    for line in open("/proc/self/status"):
        if line.startswith(key):
            return int(line.split()[1])

method, size = sys.argv[1], int(sys.argv[2])
image = (np.random.default_rng(0).random((size, size)) * 255).astype(np.uint8)
core.colorize(np.zeros((32, 32), np.uint8), method, seed=0)   # load sessions first
before = status("VmRSS:")
with open("/proc/self/clear_refs", "w") as handle:   # reset the high-water mark (Linux)
    handle.write("5")
core.colorize(image, method, seed=0)
print(json.dumps({"before_kib": before, "after_kib": status("VmHWM:")}))
"""


def machine_description() -> dict[str, Any]:
    """CPU, core count and library versions, recorded with every benchmark."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions = {}
    for dist in ("numpy", "onnxruntime", "opencv-python-headless", "pillow", "torch"):
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "threads": os.environ.get("COLORIZE_THREADS", "default"),
        "versions": versions,
    }


def _peak_memory_mib(method: str, size: int) -> float:
    proc = subprocess.run(
        [sys.executable, "-c", _MEMORY_PROBE, method, str(size)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr.strip().splitlines()[-1] if proc.stderr else "failed")
    data = json.loads(proc.stdout.strip().splitlines()[-1])
    return max(0, data["after_kib"] - data["before_kib"]) / 1024.0


def run_benchmarks(
    methods: list[str] | None = None,
    sizes: tuple[int, ...] = (256, 512, 2048),
    repeats: int = 3,
    memory: bool = True,
) -> dict[str, Any]:
    """Measure every method at every size; returns a JSON-serialisable report."""
    import core

    names = methods or [m.name for m in core.methods() if m.capabilities.automatic]
    rng = np.random.default_rng(0)
    rows = []
    for name in names:
        core.colorize(np.zeros((32, 32), np.uint8), name, seed=0)  # warm-up: load sessions
        for size in sizes:
            image = (rng.random((size, size)) * 255).astype(np.uint8)
            totals, predicts = [], []
            for _ in range(repeats if size <= 512 else 1):
                t0 = time.perf_counter()
                result = core.colorize_result(image, name, seed=0)
                totals.append(time.perf_counter() - t0)
                predicts.append(result.timings["predict"])
            total = statistics.median(totals)
            predict = statistics.median(predicts)
            row = {
                "method": name,
                "size": size,
                "seconds": total,
                "predict_seconds": predict,
                "core_share": (total - predict) / total if total > 0 else float("nan"),
                "megapixels_per_s": size * size / 1e6 / total,
            }
            if memory:
                try:
                    row["peak_mib"] = _peak_memory_mib(name, size)
                except Exception as exc:  # report, don't stop the suite
                    row["peak_mib_error"] = str(exc)
            rows.append(row)
    by_key = {(r["method"], r["size"]): r for r in rows}
    for name in names:
        if (name, 512) in by_key and (name, 2048) in by_key:
            by_key[(name, 2048)]["ratio_vs_512"] = (
                by_key[(name, 2048)]["seconds"] / by_key[(name, 512)]["seconds"]
            )
    return {"machine": machine_description(), "rows": rows}


def table(report: dict[str, Any]) -> str:
    """Markdown table of a :func:`run_benchmarks` report."""
    lines = [
        "| method | size | latency (ms) | model (ms) | core share | MP/s | peak MiB | ×512² |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in report["rows"]:
        peak = f"{r['peak_mib']:.0f}" if "peak_mib" in r else "–"
        ratio = f"{r['ratio_vs_512']:.1f}" if "ratio_vs_512" in r else "–"
        lines.append(
            f"| {r['method']} | {r['size']}² | {r['seconds'] * 1e3:.1f} | "
            f"{r['predict_seconds'] * 1e3:.1f} | {r['core_share']:.0%} | "
            f"{r['megapixels_per_s']:.2f} | {peak} | {ratio} |"
        )
    return "\n".join(lines)


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``colorize bench``."""
    parser.add_argument("--quick", action="store_true", help="sizes 256² and 512² only")
    parser.add_argument("--method", "-m", action="append", dest="methods", default=None)
    parser.add_argument("--no-memory", action="store_true", help="skip the peak-memory probes")
    parser.add_argument("--json", default=None, metavar="FILE", help="write the full report")


def run(args: argparse.Namespace) -> int:
    """Run ``colorize bench``; prints the machine and a Markdown table."""
    sizes = (256, 512) if args.quick else (256, 512, 2048)
    report = run_benchmarks(args.methods, sizes, memory=not args.no_memory)
    machine = report["machine"]
    print(f"machine: {machine['cpu']}, {machine['cores']} cores, python {machine['python']}")
    print("versions: " + ", ".join(f"{k} {v}" for k, v in machine["versions"].items()))
    print(table(report))
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(report, indent=2))
    return 0
