"""Full-resolution recombination: the core's fused path vs the previous ones, same run.

The core recombines working-resolution chroma with the input's full-resolution
lightness and applies the lightness correction of Larsson et al. (2016), App. A.4.
Three implementations are timed interleaved on the same inputs:

``core``
    ``core.api.recombine`` as shipped: one chroma upsampling, then
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
of ``core.colorize_result`` on the photo is timed too, through the public pipeline stages
(``core.api.prepare``: load, lightness, resizing; ``core.api.recombine``; the output
array), beside the same steps composed with the previous implementations kept here
(``previous_core_part``; nothing in the core is patched). Both recombine the one chroma
the method predicted beforehand, so the prediction is not timed. Every comparison prints
the largest difference between the outputs.

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
from pathlib import Path

import cv2
import numpy as np
from colorize_bench.bench import best_seconds, machine_description

import core
from core import api
from core.colorspaces.base import ColorSpace
from core.compiled import compiled_kernels
from core.io import LoadedImage, load_image, to_output
from core.plugins import get_registry

ROOT = Path(__file__).resolve().parents[1]
#: Pixels per strip of the previous implementations (the core's strip size when they shipped).
STRIP_PIXELS = 1 << 20


def previous_recombine(space, lightness, chroma, gray):
    """The core's recombination before the fused path (the reference), verbatim."""
    h, w = lightness.shape
    full = space.resize_chroma(chroma, (h, w)).astype(np.float32, copy=False)
    rgb = np.empty((h, w, 3), np.float32)
    rows = max(1, STRIP_PIXELS // max(1, w))
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
    rows = max(1, STRIP_PIXELS // w)
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


def previous_lab_gray_lightness(gray: np.ndarray) -> np.ndarray:
    """CIE L* of sRGB grays per pixel in one pass, as Lab's ``gray_lightness`` was before its
    in-cache blocks: sRGB decoding (IEC 61966-2-1), then CIE 15:2004 Eq. 8.1 on Y."""
    knee, delta = 0.04045, 6.0 / 29.0
    linear = np.where(gray > knee, ((np.maximum(gray, knee) + 0.055) / 1.055) ** 2.4, gray / 12.92)
    f = np.where(
        linear > delta**3,
        np.cbrt(np.maximum(linear, delta**3)),
        linear / (3.0 * delta**2) + 4.0 / 29.0,
    )
    return (116.0 * f - 16.0).astype(gray.dtype, copy=False)


def previous_input_lightness(space: ColorSpace, loaded: LoadedImage) -> np.ndarray:
    """The input's lightness as before the 8-bit table look-up: per pixel, in strips (and
    for Lab grays with :func:`previous_lab_gray_lightness`)."""
    if not loaded.is_gray:
        convert = space.lightness
    elif space.name == "lab":
        convert = previous_lab_gray_lightness
    else:
        convert = space.gray_lightness
    h, w = loaded.shape
    out = np.empty((h, w), np.float32)
    rows = max(1, STRIP_PIXELS // max(1, w))
    for top in range(0, h, rows):
        out[top : top + rows] = convert(loaded.pixels[top : top + rows])
    return out


def core_part(image: np.ndarray, method: str, chroma: np.ndarray) -> np.ndarray:
    """The core's part of ``colorize_result`` as shipped, through the public stages:
    ``api.prepare`` (load, lightness, resizing), ``api.recombine`` of the given chroma, and
    the output array."""
    prep = api.prepare(image, method)
    rgb, _ = api.recombine(prep.space, prep.lightness, chroma, prep.gray)
    return to_output(rgb, prep.loaded)


def previous_core_part(image: np.ndarray, method: str, chroma: np.ndarray) -> np.ndarray:
    """The same steps with the previous implementations: :func:`previous_input_lightness`,
    :func:`previous_recombine` and the strip-wise numpy quantization
    (``COLORIZE_KERNELS=0``); loading and the working shape are the core's public code, the
    resizing the same area averaging."""
    registry = get_registry()
    colorizer = registry.get("method", method)
    space = registry.get("colorspace", colorizer.colorspace)
    with _env("COLORIZE_KERNELS", "0"):
        loaded = load_image(image)
        lightness = previous_input_lightness(space, loaded)
        wh, ww = colorizer.working_shape(*loaded.shape)
        cv2.resize(lightness, (ww, wh), interpolation=cv2.INTER_AREA)  # what the method gets
        gray = loaded.pixels if loaded.is_gray else None
        rgb, _ = previous_recombine(space, lightness, chroma, gray)
        return to_output(rgb, loaded)


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
        "core": lambda: api.recombine(lab, lightness, chroma, None),
        "previous": lambda: previous_recombine(lab, lightness, chroma, None),
        "generic": lambda: generic_recombine(lab, lightness, chroma),
    }
    _compare("colour", _with_opencv(funcs), args, report)


def _photo_case(image: np.ndarray, method: str, args, report: dict) -> None:
    prep = api.prepare(image, method)
    working = api.predict(prep, seed=0).chroma
    space, light, gray = prep.space, prep.lightness, prep.gray
    report["photo"] = {"path": str(args.photo), "method": method, "colorspace": space.name}
    funcs = {
        "core": lambda: api.recombine(space, light, working, gray),
        "previous": lambda: previous_recombine(space, light, working, gray),
    }
    _compare(f"photo ({method}, {space.name})", _with_opencv(funcs), args, report)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=2048, help="square side (default 2048)")
    parser.add_argument("--shape", help="WIDTHxHEIGHT instead of --size, e.g. 4000x3000")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--photo", type=Path, default=ROOT / "core" / "data" / "detroit_ca1915.jpg")
    parser.add_argument("--method", help="method whose chroma the photo case uses")
    parser.add_argument("--pipeline", action="store_true", help="time colorize_result too")
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args(argv)
    height, width = _shape(args)
    report: dict = {
        "machine": machine_description(),
        "shape": [height, width],
        "threads": api.recombine_threads(),
        "command": " ".join([Path(sys.argv[0]).name, *(argv or sys.argv[1:])]),
    }
    threads = api.recombine_threads()
    print(f"{width}x{height}, {threads} recombination thread(s), load {os.getloadavg()}")

    _colour_case(height, width, args, report)
    image = _photo(args.photo, height, width)
    method = args.method or core.default_method()
    _photo_case(image, method, args, report)
    if args.pipeline:
        chroma = api.predict(api.prepare(image, method), seed=0).chroma
        funcs = {
            "core": lambda: core_part(image, method, chroma),
            "previous": lambda: previous_core_part(image, method, chroma),
        }
        ours, theirs = funcs["core"](), funcs["previous"]()
        diff = int(np.abs(ours.astype(np.int32) - theirs.astype(np.int32)).max())
        del ours, theirs
        print(f"pipeline ({method}): max |core - previous| of the uint8 output: {diff}")
        rows = []
        for _ in range(args.runs):
            best = best_seconds(funcs, args.repeats)
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
