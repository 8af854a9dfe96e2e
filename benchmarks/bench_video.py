"""Video benchmarks: flicker and accuracy with/without the temporal pass, and throughput.

quality
    Real colour photos moved by a synthetic camera path (pan, zoom, small rotation;
    the motion is known exactly) give gray input clips and their true colour frames.
    For each method: warping error between consecutive outputs under the true motion
    (Lai et al. 2018, Eq. 9; RGB and Lab-chroma variants; lower = less flicker) and
    PSNR against the true colour frames, with the temporal pass off and on.
throughput
    Frames/s at 480x360 for each method, temporal pass off and on, plus the pass alone
    and a file round trip (decode, colorize, encode) for the default method.

Usage::

    .venv/bin/python benchmarks/bench_video.py quality [--photos 6] [--frames 12]
    .venv/bin/python benchmarks/bench_video.py throughput [--frames 12]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from colorize_video.video import (  # noqa: E402
    TemporalSmoother,
    colorize_video,
    colorize_video_file,
    warping_error,
)

import core  # noqa: E402
from core.colorspaces import rgb_to_lab  # noqa: E402
from core.metrics import psnr  # noqa: E402

DATA = Path(os.environ.get("COLORIZE_DATA", ROOT.parent / "shared" / "datasets"))
BSDS = DATA / "bsds500" / "images" / "test"
V39 = DATA / "exemplar_pairs" / "deep_exemplar_video_colorization" / "v39"


def _read(path: Path) -> np.ndarray:
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB).astype(np.float32) / 255.0


def camera_path(
    photo: np.ndarray, frames: int, size: tuple[int, int], *, seed: int = 0
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Frames of ``photo`` seen by a moving camera, and the true backward flows.

    The camera pans (up to 3 px/frame), zooms in (up to 10 % over the clip) and
    rotates (up to 2 degrees over the clip), at a random direction per clip.
    Returns the colour frames (float32 RGB) and, for t >= 1, the flow mapping each
    pixel of frame t to its position in frame t-1.
    """
    rng = np.random.default_rng(seed)
    height, width = size
    ph, pw = photo.shape[:2]
    angle_dir = rng.uniform(0, 2 * np.pi)
    pan = rng.uniform(1.5, 3.0) * np.array([np.cos(angle_dir), np.sin(angle_dir)])
    zoom_total = rng.uniform(0.05, 0.10)
    rot_total = np.deg2rad(rng.uniform(-2.0, 2.0))
    fit = 0.8 * min(pw / width, ph / height)  # source pixels per frame pixel at t = 0
    centre0 = np.array([pw / 2, ph / 2]) - pan * (frames - 1) / 2

    def matrix(t: int) -> np.ndarray:  # frame pixel -> source pixel (3x3)
        f = t / max(1, frames - 1)
        scale = fit / (1 + zoom_total * f)
        theta = rot_total * f
        c, s = np.cos(theta) * scale, np.sin(theta) * scale
        cx, cy = centre0 + pan * t
        to_centre = np.array([[1, 0, -width / 2], [0, 1, -height / 2], [0, 0, 1]])
        rot = np.array([[c, -s, cx], [s, c, cy], [0, 0, 1]])
        return rot @ to_centre

    grid = np.stack(np.meshgrid(np.arange(width), np.arange(height)), -1).astype(np.float64)
    homog = np.concatenate([grid, np.ones((height, width, 1))], -1)
    out, flows, mats = [], [], [matrix(t) for t in range(frames)]
    for t, m in enumerate(mats):
        out.append(
            cv2.warpAffine(
                photo, m[:2], (width, height), flags=cv2.INTER_AREA | cv2.WARP_INVERSE_MAP
            )
        )
        if t:
            to_prev = np.linalg.inv(mats[t - 1]) @ m
            flows.append((homog @ to_prev.T)[..., :2].astype(np.float32) - grid.astype(np.float32))
    return out, flows


def _gray(rgb: np.ndarray) -> np.ndarray:
    """The achromatic image with the same Lab lightness (what a B&W camera records)."""
    lab = rgb_to_lab(rgb)
    lab[..., 1:] = 0
    return np.clip(core.colorspaces.lab_to_rgb(lab)[..., 0], 0, 1)


def _clips(photos: int, frames: int, size: tuple[int, int]) -> list[dict]:
    sources = [("bsds/" + p.stem, p) for p in sorted(BSDS.glob("*.jpg"))[:photos]]
    sources += [("v39/" + p.stem, p) for p in sorted((V39 / "frames").glob("*.jpg"))]
    clips = []
    for i, (name, path) in enumerate(sources):
        truth, flows = camera_path(_read(path), frames, size, seed=i)
        clips.append({"name": name, "truth": truth, "flows": flows})
    return clips


def _scores(outputs: list[np.ndarray], clip: dict) -> dict:
    outs = [o.astype(np.float32) / 255.0 for o in outputs]
    ab = [rgb_to_lab(o)[..., 1:] / 100.0 for o in outs]
    pairs = list(zip(outs[:-1], outs[1:], clip["flows"], strict=True))
    ab_pairs = list(zip(ab[:-1], ab[1:], clip["flows"], strict=True))
    return {
        "warp_rgb": float(np.mean([warping_error(a, b, f) for a, b, f in pairs])),
        "warp_ab": float(np.mean([warping_error(a, b, f) for a, b, f in ab_pairs])),
        "psnr": float(np.mean([psnr(o, t) for o, t in zip(outs, clip["truth"], strict=True)])),
    }


def _methods(names: list[str] | None) -> list[core.MethodInfo]:
    infos = [m for m in core.methods() if names is None or m.name in names]
    return [m for m in infos if m.capabilities.automatic or m.capabilities.reference]


def quality(args: argparse.Namespace) -> dict:
    clips = _clips(args.photos, args.frames, (args.height, args.width))
    # The true colour clip's own warping error: the resampling floor no output can go
    # below (each output frame keeps its own lightness).
    floor = np.mean([_scores([np.rint(t * 255) for t in c["truth"]], c)["warp_rgb"] for c in clips])
    print(f"true colour frames: warp_rgb {floor * 1e3:.3f}e-3 (floor)", flush=True)
    results = {"floor_warp_rgb": float(floor)}
    for info in _methods(args.method):
        rows = []
        for clip in clips:
            gray = [(_gray(t) * 255).round().astype(np.uint8) for t in clip["truth"]]
            ref = None
            if not info.capabilities.automatic:  # exemplar: the first true colour frame
                ref = (clip["truth"][0] * 255).round().astype(np.uint8)
            row = {"clip": clip["name"]}
            for label, temporal in [("off", False)] + [
                (f"on{s:g}", TemporalSmoother(strength=s)) for s in args.strength
            ]:
                out = list(colorize_video(gray, info.name, reference=ref, temporal=temporal))
                row[label] = _scores(out, clip)
            rows.append(row)
            print(info.name, row, flush=True)
        summary = {}
        for label in rows[0]:
            if label == "clip":
                continue
            summary[label] = {
                k: float(np.mean([r[label][k] for r in rows])) for k in rows[0][label]
            }
        results[info.name] = {"clips": rows, "mean": summary}
        off = summary["off"]
        for label, s in summary.items():
            print(
                f"{info.name:20s} {label:7s} warp_rgb {s['warp_rgb'] * 1e3:7.3f}e-3 "
                f"({100 * (1 - s['warp_rgb'] / off['warp_rgb']):5.1f}% lower) "
                f"warp_ab {s['warp_ab'] * 1e3:7.3f}e-3 "
                f"({100 * (1 - s['warp_ab'] / off['warp_ab']):5.1f}% lower) "
                f"PSNR {s['psnr']:6.2f} dB ({s['psnr'] - off['psnr']:+.2f})",
                flush=True,
            )
    return results


def throughput(args: argparse.Namespace) -> dict:
    photo = _read(sorted(BSDS.glob("*.jpg"))[0])
    truth, _ = camera_path(photo, args.frames, (360, 480))
    gray = [(_gray(t) * 255).round().astype(np.uint8) for t in truth]
    results = {}
    smoother = TemporalSmoother()
    chroma = np.zeros((360, 480, 2), np.float32)
    t0 = time.perf_counter()
    for g in gray:
        smoother(g.astype(np.float32) / 255.0, chroma)
    results["temporal pass alone"] = {"on": len(gray) / (time.perf_counter() - t0)}
    for info in _methods(args.method):
        ref = None if info.capabilities.automatic else (truth[0] * 255).astype(np.uint8)
        row = {}
        list(colorize_video(gray[:2], info.name, reference=ref))  # warm-up (sessions)
        for label, temporal in (("off", False), ("on", True)):
            t0 = time.perf_counter()
            n = sum(1 for _ in colorize_video(gray, info.name, reference=ref, temporal=temporal))
            row[label] = n / (time.perf_counter() - t0)
        results[info.name] = row
        print(f"{info.name:20s} off {row['off']:6.2f} fps  on {row['on']:6.2f} fps", flush=True)
    import av

    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "in.mp4"
        with av.open(str(src), "w") as out:
            stream = out.add_stream("libx264", rate=25)
            stream.width, stream.height, stream.pix_fmt = 480, 360, "yuv420p"
            for g in gray:
                frame = av.VideoFrame.from_ndarray(np.repeat(g[..., None], 3, -1), format="rgb24")
                out.mux(stream.encode(frame))
            out.mux(stream.encode(None))
        result = colorize_video_file(src, Path(tmp) / "out.mp4")
        results[f"file round trip ({result.method})"] = {"on": result.frames / result.seconds}
    print(
        f"pass alone {results['temporal pass alone']['on']:.1f} fps; file round trip "
        f"{result.frames / result.seconds:.2f} fps",
        flush=True,
    )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=["quality", "throughput"])
    parser.add_argument("--method", action="append", help="only these methods (repeatable)")
    parser.add_argument("--photos", type=int, default=6, help="BSDS500 test photos (quality)")
    parser.add_argument("--frames", type=int, default=12, help="frames per clip")
    parser.add_argument("--width", type=int, default=320)
    parser.add_argument("--height", type=int, default=224)
    parser.add_argument("--strength", type=float, action="append", help="temporal strengths")
    parser.add_argument("--out", default=None, help="JSON file (default $TMPDIR/bench_video.json)")
    args = parser.parse_args()
    args.strength = args.strength or [0.85]
    import onnxruntime

    print(
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"load {os.getloadavg()[0]:.1f}, numpy {np.__version__}, OpenCV {cv2.__version__}, "
        f"onnxruntime {onnxruntime.__version__}",
        flush=True,
    )
    results = quality(args) if args.mode == "quality" else throughput(args)
    out = Path(args.out or Path(tempfile.gettempdir()) / f"bench_video_{args.mode}.json")
    out.write_text(json.dumps(results, indent=1))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
