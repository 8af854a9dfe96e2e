"""Batch throughput: serial vs worker processes vs a local Ray cluster (issue #23).

Colorizes the same photos (the first ``--limit`` of BSDS500 test, sorted by name) with
one method three ways, each into a fresh output folder, and reports images/s as a ratio
to serial in the same run:

serial
    ``colorize image --workers 0``: one process, ONNX Runtime's default threads
    (``--workers 1`` is the same since issue #31: a pool of one only added its overhead).
2 workers
    ``colorize image --workers 2``: a pool of 2 processes, cores / 2 threads each.
ray
    ``colorize_ray.distributed.colorize_files`` on a local cluster (``ray.init(num_cpus=cores)``,
    in a child process: a process that has run Ray should not fork pool workers) with
    ``--actors`` actors of one CPU each; the cluster's start is timed apart and left out
    of images/s. Ray runs its workers at niceness 15 by default (its ``worker_niceness``),
    which on a machine shared with other work leaves them only idle cycles; the benchmark
    sets ``RAY_worker_niceness`` to ``--ray-niceness`` (default 0, the pool's priority).

Every run loads the method itself (serial: the session cache is cleared first; workers
and actors load it once each), so model loading is in every time. The outputs of every
run are compared byte for byte with serial's. The Ray path's overhead per image is given
two ways: its time over the 2-worker pool's, per image; and the actor time not spent
colorizing (actors x wall time - the sum of per-file times measured in the actors), per
image (actor start, plugin import, scheduling, the idle tail).

Usage::

    .venv/bin/python benchmarks/bench_batch.py [--limit 50] [--method larsson]
        [--repeats 1] [--actors 2] [--ray-niceness 0] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.batch import BatchSettings, plan_jobs, run_batch, usable_cores  # noqa: E402
from core.plugins import get_registry  # noqa: E402
from core.runtime import clear_session_cache  # noqa: E402

DATA = Path(os.environ.get("COLORIZE_DATA", ROOT.parent / "shared" / "datasets"))
BSDS = DATA / "bsds500" / "images" / "test"


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def _pool_run(src: Path, out: Path, method: str, workers: int) -> dict:
    clear_session_cache()
    jobs = plan_jobs([src], out)
    t0 = time.perf_counter()
    summary = run_batch(
        jobs, BatchSettings(method=method), output=out, workers=workers, progress=False
    )
    seconds = time.perf_counter() - t0
    if summary.done != len(jobs):
        raise RuntimeError(f"{workers} worker(s): {summary.failed or summary.fatal}")
    return {"seconds": seconds, "file_seconds": summary.file_seconds}


def _ray_child(src: Path, out: Path, method: str, actors: int, cores: int) -> None:
    """``--ray-child``: one Ray run in its own process (a process that has run Ray must not
    fork the pool's workers afterwards); prints its figures as JSON."""
    import ray
    from colorize_ray.distributed import colorize_files

    t0 = time.perf_counter()
    ray.init(address="local", num_cpus=cores, include_dashboard=False, log_to_driver=False)
    init = time.perf_counter() - t0
    try:
        t0 = time.perf_counter()
        summary = colorize_files([src], out, method, actors=actors, progress=False)
        seconds = time.perf_counter() - t0
    finally:
        ray.shutdown()
    if summary.done != summary.total:
        raise RuntimeError(f"ray: {summary.failed or summary.fatal}")
    print(json.dumps({"seconds": seconds, "file_seconds": summary.file_seconds, "init": init}))


def _ray_run(src: Path, out: Path, method: str, actors: int, cores: int, niceness: int) -> dict:
    argv = [sys.executable, __file__, "--ray-child", str(src), str(out), "--method", method]
    argv += ["--actors", str(actors), "--cores", str(cores)]
    env = {**os.environ, "RAY_worker_niceness": str(niceness)}
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=1800, env=env)
    if proc.returncode != 0:
        raise RuntimeError(f"ray run failed: {proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--limit", type=int, default=50, help="photos (default 50)")
    parser.add_argument("--method", default="larsson")
    parser.add_argument("--repeats", type=int, default=1, help="runs of each variant (median)")
    parser.add_argument("--actors", type=int, default=2, help="Ray actors (default 2)")
    parser.add_argument("--no-ray", action="store_true", help="skip the Ray path")
    parser.add_argument(
        "--ray-niceness",
        type=int,
        default=0,
        help="niceness of Ray's workers (default 0, as the pool's; Ray's own default is 15)",
    )
    parser.add_argument("--json", type=Path, default=None, help="write the figures here")
    parser.add_argument("--ray-child", nargs=2, type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--cores", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.ray_child:
        _ray_child(*args.ray_child, args.method, args.actors, args.cores)
        return 0

    photos = sorted(BSDS.glob("*.jpg"))[: args.limit]
    if len(photos) < args.limit:
        print(f"need {args.limit} photos in {BSDS}, found {len(photos)}", file=sys.stderr)
        return 2
    list(get_registry().names("method"))  # plugins imported once, before any timing
    cores = usable_cores()
    variants = ["serial", "2 workers"] + ([] if args.no_ray else ["ray"])
    times: dict[str, list[dict]] = {v: [] for v in variants}
    identical: dict[str, bool] = {v: True for v in variants}
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="bench-batch-") as tmp:
        src = Path(tmp) / "in"
        src.mkdir()
        for photo in photos:
            shutil.copy(photo, src / photo.name)
        reference = None
        for repeat in range(args.repeats):
            for variant in variants:  # interleaved: the machine's load hits each alike
                out = Path(tmp) / f"{variant.replace(' ', '-')}-{repeat}"
                if variant == "ray":
                    times[variant].append(
                        _ray_run(src, out, args.method, args.actors, cores, args.ray_niceness)
                    )
                else:
                    workers = {"serial": 0, "2 workers": 2}[variant]
                    times[variant].append(_pool_run(src, out, args.method, workers))
                written = _files(out)
                if reference is None:
                    reference = written
                identical[variant] &= written == reference
                shutil.rmtree(out)
                print(
                    f"  {variant} run {repeat + 1}: {times[variant][-1]['seconds']:.2f} s",
                    file=sys.stderr,
                )
    load_after = os.getloadavg()

    n = len(photos)
    median = {v: statistics.median(t["seconds"] for t in times[v]) for v in variants}
    rate = {v: n / median[v] for v in variants}
    rows = [
        {
            "variant": v,
            "seconds": median[v],
            "images_per_s": rate[v],
            "ratio_vs_serial": rate[v] / rate["serial"],
            "identical_to_serial": identical[v],
        }
        for v in variants
    ]
    report = {
        "machine": {
            "cpu": platform.processor() or platform.machine(),
            "usable_cores": cores,
            "load_average_before": load_before,
            "load_average_after": load_after,
            "python": platform.python_version(),
        },
        "settings": {
            "ray_worker_niceness": None if args.no_ray else args.ray_niceness,
            "method": args.method,
            "photos": n,
            "repeats": args.repeats,
            "actors": args.actors,
            "data": str(BSDS),
        },
        "rows": rows,
    }
    if "ray" in variants:
        ray_t = statistics.median(t["seconds"] for t in times["ray"])
        ray_busy = statistics.median(t["file_seconds"] for t in times["ray"])
        report["ray"] = {
            "init_seconds": statistics.median(t["init"] for t in times["ray"]),
            "overhead_vs_2_workers_ms_per_image": 1000 * (ray_t - median["2 workers"]) / n,
            "actor_time_not_colorizing_ms_per_image": 1000 * (args.actors * ray_t - ray_busy) / n,
        }

    print(
        f"{n} BSDS500 test photos, method {args.method}, {cores} usable cores, "
        f"load average {load_before[0]:.1f} before / {load_after[0]:.1f} after, "
        f"median of {args.repeats} run(s)"
    )
    print()
    print("| run | seconds | images/s | ratio to serial | outputs identical to serial |")
    print("| --- | ---: | ---: | ---: | --- |")
    for row in rows:
        print(
            f"| {row['variant']} | {row['seconds']:.2f} | {row['images_per_s']:.2f} | "
            f"{row['ratio_vs_serial']:.2f}x | {'yes' if row['identical_to_serial'] else 'NO'} |"
        )
    if "ray" in report:
        r = report["ray"]
        print()
        print(
            f"Ray: cluster start {r['init_seconds']:.1f} s (not in the times above); "
            f"overhead over the 2-worker pool {r['overhead_vs_2_workers_ms_per_image']:.0f} "
            f"ms/image; actor time not spent colorizing "
            f"{r['actor_time_not_colorizing_ms_per_image']:.0f} ms/image"
        )
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    return 0 if all(identical.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
