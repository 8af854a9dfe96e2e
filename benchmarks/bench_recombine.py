"""Full-resolution recombination: the core's fused path vs the previous ones, same run.

The core recombines working-resolution chroma with the input's full-resolution
lightness and applies the lightness correction of Larsson et al. (2016), App. A.4.
Three implementations are timed interleaved on the same inputs:

``core``
    ``core.api._recombine`` as shipped: one chroma upsampling, then
    ``ColorSpace.recombine`` (for Lab the single-pass C kernel of ``core._kernels``
    where it was built, for YCbCr fused OpenCV blocks) on megapixel strips, on
    ``COLORIZE_THREADS`` threads (default: the usable cores).
``opencv``
    The same with ``COLORIZE_KERNELS=0``: Lab's fused OpenCV blocks instead of the C
    kernel (what a build without a C compiler runs; only where the kernel is built).
``previous``
    The recombination as it was before the fused path (kept here verbatim as the
    reference): per strip, ``space.to_rgb``, clip, ``gray_of_lightness`` /
    ``gray_equivalent``, correct, clip.
``generic``
    The loop before that, with the generic gray-of-lightness (a Lab -> RGB conversion
    of zero chroma) instead of the closed form.

Inputs: ``colour`` is random lightness with random 16 x 16 chroma (the worst case for
gamut clipping, about 17 % of the pixels); ``photo`` is a real grayscale photo
(``--photo``, default ``core/data/detroit_ca1915.jpg``) resized to the benchmark size,
with the chroma a method (``--method``, default: the default method) predicts for it,
and the gray passed as a grayscale input's is. With ``--pipeline`` the whole core part
of ``core.colorize_result`` on the photo (load, lightness, resizing, recombination,
output array) is timed too, with the previous implementations of the core's steps
patched in for the reference. Every comparison prints the largest difference between
the outputs.

Usage::

    python benchmarks/bench_recombine.py [--size 2048 | --shape 4000x3000] [--repeats 5]
        [--runs 3] [--photo PATH] [--method NAME] [--pipeline] [--json OUT]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time
from pathlib import Path

import cv2
import numpy as np

import core
from core import api
from colorize_bench.bench import best_seconds, machine_description
from core.colorspaces.base import ColorSpace
from core.compiled import compiled_kernels
from core.plugins import get_registry

ROOT = Path(__file__).resolve().parents[1]


def previous_recombine(space, lightness, chroma, gray):
    """``core.api._recombine`` before the fused path (the reference), verbatim."""
    h, w = lightness.shape
    full = space.resize_chroma(chroma, (h, w)).astype(np.float32, copy=False)
    rgb = np.empty((h, w, 3), np.float32)
    rows = max(1, api._STRIP_PIXELS // max(1, w))
    for top in range(0, h, rows):
        sl = slice(top, min(h, top + rows))
        light = lightness[sl]
        out = np.clip(space.to_rgb(light, full[sl]), 0.0, 1.0)
        target = gray[sl] if gray is not None else space.gray_of_lightness(light)
        achieved = space.gray_equivalent(out)
        out += (target - achieved)[..., None]
        rgb[sl] = np.clip(out, 0.0, 1.0)
    return rgb, full


def generic_recombine(space, lightness, chroma, gray=None):
    """The recombination loop with the generic gray-of-lightness (the older reference)."""
    h, w = lightness.shape
    full = space.resize_chroma(chroma, (h, w)).astype(np.float32, copy=False)
    rgb = np.empty((h, w, 3), np.float32)
    rows = max(1, api._STRIP_PIXELS // w)
    for top in range(0, h, rows):
        sl = slice(top, min(h, top + rows))
        out = np.clip(space.to_rgb(lightness[sl], full[sl]), 0.0, 1.0)
        if gray is not None:
            target = gray[sl]
        else:
            target = ColorSpace.gray_of_lightness(space, lightness[sl])
        achieved = ColorSpace.gray_of_lightness(space, space.lightness(out))
        out += (target - achieved)[..., None]
        rgb[sl] = np.clip(out, 0.0, 1.0)
    return rgb, full


@contextlib.contextmanager
def _env(name: str, value: str):
    """Set the environment variable ``name`` to ``value`` for the block."""
    before = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if before is None:
            del os.environ[name]
        else:
            os.environ[name] = before


@contextlib.contextmanager
def previous_core():
    """Patch the previous recombination, input lightness and Lab gray lightness in, and
    quantize the output as before (the strip-wise numpy path, ``COLORIZE_KERNELS=0``); the
    other steps of the core's part, loading and resizing, are the same code on both
    sides."""
    from core.colorspaces import lab

    saved = api._recombine, lab.LabSpace.gray_lightness, api._input_lightness
    api._recombine = previous_recombine
    lab.LabSpace.gray_lightness = lambda self, gray: lab._gray_to_l(lab.as_float(gray))
    api._input_lightness = previous_input_lightness
    try:
        with _env("COLORIZE_KERNELS", "0"):
            yield
    finally:
        api._recombine, lab.LabSpace.gray_lightness, api._input_lightness = saved


def previous_input_lightness(space, loaded):
    """The input's lightness as before the 8-bit table look-up: per pixel, in strips."""
    convert = space.gray_lightness if loaded.is_gray else space.lightness
    return api._stripwise(convert, loaded.pixels)


def _shape(args) -> tuple[int, int]:
    if args.shape:
        width, height = (int(v) for v in args.shape.lower().split("x"))
        return height, width
    return args.size, args.size


def _photo(path: Path, height: int, width: int) -> np.ndarray:
    gray = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if gray is None:
        raise SystemExit(f"{path}: cannot read the photo")
    return cv2.resize(gray, (width, height), interpolation=cv2.INTER_CUBIC)


def _compare(label, funcs, args, report) -> None:
    outputs = {name: func()[0] for name, func in funcs.items()}
    ours = outputs["core"]
    diffs = {n: float(np.abs(ours - o).max()) for n, o in outputs.items() if n != "core"}
    del outputs
    print(f"{label}: max |core - x|: " + ", ".join(f"{n} {d:.1e}" for n, d in diffs.items()))
    rows = []
    for _ in range(args.runs):
        times = best_seconds(funcs, args.repeats)
        rows.append(times)
        print(
            "  "
            + "   ".join(f"{n} {t:.3f} s" for n, t in times.items())
            + "   "
            + "   ".join(
                f"{n}/core {t / times['core']:.2f}x" for n, t in times.items() if n != "core"
            )
        )
    report[label] = {"max_difference": diffs, "runs": rows}


def _without_kernels(func):
    """``func`` run with ``COLORIZE_KERNELS=0`` (the OpenCV path of the fused recombination)."""

    def run():
        with _env("COLORIZE_KERNELS", "0"):
            return func()

    return run


def _with_opencv(funcs: dict) -> dict:
    """Add the ``opencv`` candidate after ``core`` when the C kernel is in use."""
    if compiled_kernels() is None:
        return funcs
    core_func = funcs["core"]
    return {"core": core_func, "opencv": _without_kernels(core_func), **funcs}


def _colour_case(height: int, width: int, args, report: dict) -> None:
    lab = get_registry().get("colorspace", "lab")
    rng = np.random.default_rng(0)
    lightness = (rng.random((height, width)) * 100).astype(np.float32)
    chroma = rng.normal(0, 20, (16, 16, 2)).astype(np.float32)
    funcs = {
        "core": lambda: api._recombine(lab, lightness, chroma, None),
        "previous": lambda: previous_recombine(lab, lightness, chroma, None),
        "generic": lambda: generic_recombine(lab, lightness, chroma),
    }
    _compare("colour", _with_opencv(funcs), args, report)


def _photo_case(image: np.ndarray, method: str, args, report: dict) -> None:
    prep = api._prepare(image, method, None, None)
    pred = prep.colorizer.predict(prep.working, seed=0)
    space, light, gray = prep.space, prep.lightness, prep.gray
    working = np.asarray(pred.chroma, np.float32)
    report["photo"] = {"path": str(args.photo), "method": method, "colorspace": space.name}
    funcs = {
        "core": lambda: api._recombine(space, light, working, gray),
        "previous": lambda: previous_recombine(space, light, working, gray),
    }
    _compare(f"photo ({method}, {space.name})", _with_opencv(funcs), args, report)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=2048, help="square side (default 2048)")
    parser.add_argument("--shape", help="WIDTHxHEIGHT instead of --size, e.g. 4000x3000")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--photo", type=Path, default=ROOT / "examples" / "detroit_ca1915.jpg")
    parser.add_argument("--method", help="method whose chroma the photo case uses")
    parser.add_argument("--pipeline", action="store_true", help="time colorize_result too")
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args(argv)
    height, width = _shape(args)
    report: dict = {
        "machine": machine_description(),
        "shape": [height, width],
        "threads": api._workers(),
        "command": " ".join([Path(sys.argv[0]).name, *(argv or sys.argv[1:])]),
    }
    print(f"{width}x{height}, {api._workers()} recombination thread(s), load {os.getloadavg()}")

    _colour_case(height, width, args, report)
    image = _photo(args.photo, height, width)
    method = args.method or core.default_method()
    _photo_case(image, method, args, report)
    if args.pipeline:

        def core_part(reference: bool):
            def run():
                with previous_core() if reference else contextlib.nullcontext():
                    start = time.perf_counter()
                    result = core.colorize_result(image, method, seed=0)
                    out = result.output()
                    elapsed = time.perf_counter() - start - result.timings["predict"]
                return elapsed, out

            return run

        ours, theirs = core_part(False)()[1], core_part(True)()[1]
        diff = int(np.abs(ours.astype(int) - theirs.astype(int)).max())
        print(f"pipeline ({method}): max |core - previous| of the uint8 output: {diff}")
        rows = []
        for _ in range(args.runs):
            best = {"core": float("inf"), "previous": float("inf")}
            for _ in range(args.repeats):
                for name, reference in (("core", False), ("previous", True)):
                    best[name] = min(best[name], core_part(reference)()[0])
            rows.append(best)
            print(
                f"  core part: core {best['core']:.3f} s   previous {best['previous']:.3f} s"
                f"   previous/core {best['previous'] / best['core']:.2f}x"
            )
        report["pipeline"] = {"max_difference_uint8": diff, "runs": rows}
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
