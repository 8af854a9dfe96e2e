"""Benchmark of the colour-science core: conversions, decoders, energy minimisation.

Measured in one run, on the same inputs:

* every colour-space conversion of :mod:`core.colorspaces` on a 1024 x 1024
  float32 image, side by side with the nearest scikit-image and OpenCV
  function (MP/s, ratio to scikit-image, and the largest difference from
  scikit-image where the two compute the same thing);
* every decoder of :mod:`core.decoders` at K = 32 bins (and the 16 x 16 joint
  grid) on a 512 x 512 distribution, in MP/s;
* Larsson's energy minimisation (Eq. 6) at 256 x 256, K = 32 and 16 x 16.

Not a test: numbers depend on the machine and on its load. Each row runs its
candidates in turn, ``--repeats`` times, and reports the fastest run of each
(``colorize_bench.bench.best_seconds``), so the ratios are comparable even on a busy machine;
compare ratios, not seconds. ``colorize bench`` runs a shorter version of the
conversion and decoder rows (``colorize_bench.bench.colour_benchmarks``).

Usage: python benchmarks/bench_colour.py [--repeats 7] [--size 1024] [--out results.json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from colorize_bench.bench import best_seconds  # noqa: E402

from core import decoders, transfer  # noqa: E402
from core.binning import CHROMA_BINS, HUE_BINS, LAB_AB_BINS, LAB_JOINT_BINS  # noqa: E402
from core.colorspaces import (  # noqa: E402
    alphabeta_to_rgb,
    huechroma_to_rgb,
    lab_to_rgb,
    rgb_to_alphabeta,
    rgb_to_huechroma,
    rgb_to_lab,
    rgb_to_ycbcr,
    ycbcr_to_rgb,
)
from core.distributions import Distribution  # noqa: E402


def machine() -> dict:
    """The toolkit's machine description, plus load average and scikit-image's version."""
    import skimage
    from colorize_bench.bench import machine_description

    info = machine_description()
    info["load_average"] = os.getloadavg()
    info["versions"]["scikit-image"] = skimage.__version__
    return info


def conversions(size: int, repeats: int) -> list[dict]:
    from skimage import color

    rng = np.random.default_rng(0)
    rgb = rng.random((size, size, 3), dtype=np.float32)
    mp = size * size / 1e6
    lab = rgb_to_lab(rgb)
    lhc = rgb_to_huechroma(rgb)
    hsv = cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV)  # H in degrees
    hsv_unit = (hsv / np.array([360, 1, 1], np.float32)).astype(np.float32)
    rgb64 = rgb.astype(np.float64)
    ycc = rgb_to_ycbcr(rgb)
    cv_ycc = cv2.cvtColor(rgb, cv2.COLOR_RGB2YCrCb)
    sk_ycc = color.rgb2ycbcr(rgb)
    rows = [
        # name, ours, scikit-image, OpenCV, how to compare outputs with scikit-image
        (
            "rgb -> lab",
            lambda: rgb_to_lab(rgb),
            lambda: color.rgb2lab(rgb),
            lambda: cv2.cvtColor(rgb, cv2.COLOR_RGB2Lab),
            "same",
        ),
        (
            "lab -> rgb",
            lambda: lab_to_rgb(lab),
            lambda: color.lab2rgb(lab),
            lambda: cv2.cvtColor(lab, cv2.COLOR_Lab2RGB),
            "same",
        ),
        (
            "rgb -> lab (float64)",
            lambda: rgb_to_lab(rgb64),
            lambda: color.rgb2lab(rgb64),
            None,
            "same",
        ),
        (
            "rgb -> huechroma (vs HSV)",
            lambda: rgb_to_huechroma(rgb),
            lambda: color.rgb2hsv(rgb),
            lambda: cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV),
            None,
        ),
        (
            "huechroma -> rgb (vs HSV)",
            lambda: huechroma_to_rgb(lhc),
            lambda: color.hsv2rgb(hsv_unit),
            lambda: cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB),
            None,
        ),
        ("rgb -> alphabeta", lambda: rgb_to_alphabeta(rgb), None, None, None),
        ("alphabeta -> rgb", lambda: alphabeta_to_rgb(rgb_to_alphabeta(rgb)), None, None, None),
        (
            "rgb -> ycbcr (skimage: studio range)",
            lambda: rgb_to_ycbcr(rgb),
            lambda: color.rgb2ycbcr(rgb),
            lambda: cv2.cvtColor(rgb, cv2.COLOR_RGB2YCrCb),
            None,
        ),
        (
            "ycbcr -> rgb (skimage: studio range)",
            lambda: ycbcr_to_rgb(ycc),
            lambda: color.ycbcr2rgb(sk_ycc),
            lambda: cv2.cvtColor(cv_ycc, cv2.COLOR_YCrCb2RGB),
            None,
        ),
    ]
    results = []
    for name, ours, skimage_func, opencv_func, compare in rows:
        row = {"conversion": name, "megapixels": mp}
        funcs = {"ours": ours, "skimage": skimage_func, "opencv": opencv_func}
        seconds = best_seconds({k: f for k, f in funcs.items() if f is not None}, repeats)
        row["ours_mp_s"] = mp / seconds["ours"]
        if skimage_func is not None:
            row["skimage_mp_s"] = mp / seconds["skimage"]
            row["speedup_vs_skimage"] = row["ours_mp_s"] / row["skimage_mp_s"]
        if opencv_func is not None:
            row["opencv_mp_s"] = mp / seconds["opencv"]
        if compare == "same":
            reference = skimage_func()
            row["ours_max_diff_vs_skimage"] = float(np.abs(ours() - reference).max())
            if opencv_func is not None:
                row["opencv_max_diff_vs_skimage"] = float(np.abs(opencv_func() - reference).max())
        results.append(row)
    # Accuracy figures that do not need timing.
    back = lab_to_rgb(rgb_to_lab(rgb64))
    results.append(
        {"conversion": "lab round trip (float64)", "max_error": float(np.abs(back - rgb64).max())}
    )
    theirs = cv_ycc[..., [0, 2, 1]] - np.array([0, 0.5, 0.5], np.float32)
    results.append(
        {"conversion": "ycbcr vs OpenCV YCrCb", "max_diff": float(np.abs(ycc - theirs).max())}
    )
    return results


def decoder_rates(size: int, repeats: int) -> list[dict]:
    rng = np.random.default_rng(1)
    mp = size * size / 1e6

    def dist(bins, channel):
        logits = rng.normal(0, 2, (size, size, bins.k)).astype(np.float32)
        return Distribution.from_logits(logits, bins, "bench", channel)

    lab_a, hue, chroma = dist(LAB_AB_BINS, "a"), dist(HUE_BINS, "hue"), dist(CHROMA_BINS, "chroma")
    joint_logits = rng.normal(0, 2, (size // 2, size // 2, 256)).astype(np.float32)
    joint = Distribution.from_logits(joint_logits, LAB_JOINT_BINS, "lab", "ab")
    cases = [
        ("sample", lambda: decoders.sample(lab_a, seed=0), mp),
        ("sample-once", lambda: decoders.sample_once(lab_a, seed=0), mp),
        ("mode", lambda: decoders.mode(lab_a), mp),
        ("median", lambda: decoders.median(lab_a), mp),
        ("expectation", lambda: decoders.expectation(lab_a), mp),
        ("expectation (circular hue, Eq. 4)", lambda: decoders.expectation(hue), mp),
        ("annealed-mean", lambda: decoders.annealed_mean(lab_a), mp),
        (
            "chromatic fading (Eq. 5)",
            lambda: decoders.chromatic_fading(hue, np.ones(hue.shape, np.float32)),
            mp,
        ),
        (
            "decode_prediction hue=expectation+fading,chroma=median",
            lambda: decoders.decode_prediction(
                {"hue": hue, "chroma": chroma},
                ("hue", "chroma"),
                "hue=expectation+fading,chroma=median",
            ),
            mp,
        ),
        ("mode, joint 16x16", lambda: decoders.mode(joint), mp / 4),
        ("expectation, joint 16x16", lambda: decoders.expectation(joint), mp / 4),
        ("median, joint 16x16 (marginals)", lambda: decoders.median(joint), mp / 4),
    ]
    # Straightforward numpy versions (cumsum along the bins, matrix products), measured
    # in the same run: their ratio to ours does not depend on how busy the machine is.
    probs, centers, edges = lab_a.flat_probs(), LAB_AB_BINS.centers, LAB_AB_BINS.edges

    def naive_median():
        cdf = np.cumsum(probs, axis=1)
        index = np.minimum((cdf < 0.5 * cdf[:, -1:]).sum(axis=1), 31)
        rows = np.arange(len(probs))
        mass = probs[rows, index]
        fraction = np.clip((0.5 * cdf[:, -1] - cdf[rows, index] + mass) / mass, 0, 1)
        return edges[index] + fraction * np.diff(edges)[index]

    def naive_sample():
        cdf = np.cumsum(probs, axis=1)
        u = np.random.default_rng(0).random(len(probs))[:, None] * cdf[:, -1:]
        return centers[np.minimum((cdf <= u).sum(axis=1), 31)]

    naive = {
        "sample": naive_sample,
        "mode": lambda: centers[np.argmax(probs, axis=1)],
        "median": naive_median,
        "expectation": lambda: (probs @ centers) / probs.sum(axis=1),
    }
    rows = []
    for name, func, pixels in cases:
        row = {"decoder": name, "k": 256 if "joint" in name else 32, "megapixels": pixels}
        funcs = {"ours": func, "naive": naive.get(name)}
        seconds = best_seconds({k: f for k, f in funcs.items() if f is not None}, repeats)
        row["mp_s"] = pixels / seconds["ours"]
        if name in naive:
            row["naive_numpy_mp_s"] = pixels / seconds["naive"]
        rows.append(row)
    return rows


def energy(repeats: int) -> list[dict]:
    rng = np.random.default_rng(2)
    marginal = Distribution.from_logits(
        rng.normal(0, 2, (256, 256, 32)).astype(np.float32), LAB_AB_BINS, "lab", "a"
    )
    target = np.exp(-0.5 * ((np.arange(32) - 20) / 3.0) ** 2)
    joint = Distribution.from_logits(
        rng.normal(0, 2, (256, 256, 256)).astype(np.float32), LAB_JOINT_BINS, "lab", "ab"
    )
    joint_target = rng.dirichlet(np.ones(256)).reshape(16, 16)
    rows = []
    for name, dist, tgt in [
        ("256x256, K=32", marginal, target),
        ("256x256, 16x16 joint", joint, joint_target),
    ]:
        for method in ("gradient-descent", "lbfgs"):
            fit = transfer.fit_histogram_bias(dist, tgt, method=method)
            run = lambda d=dist, t=tgt, m=method: transfer.fit_histogram_bias(d, t, method=m)  # noqa: E731
            seconds = best_seconds({"fit": run}, max(1, repeats // 2))["fit"]
            rows.append(
                {
                    "case": name,
                    "method": method,
                    "seconds": seconds,
                    "iterations": fit.iterations,
                    "chi2": fit.chi2,
                    "energy": fit.energy,
                }
            )
    return rows


def _fmt(value: float | None, spec: str = ".1f", suffix: str = "") -> str:
    return "n/a" if value is None else f"{value:{spec}}{suffix}"


def markdown(report: dict) -> str:
    lines = [
        "| conversion | ours MP/s | scikit-image MP/s | OpenCV MP/s | ours / skimage "
        "| max diff vs skimage (ours; OpenCV) |",
        "|---|---:|---:|---:|---:|---|",
    ]
    notes = []
    for row in report["conversions"]:
        if "ours_mp_s" not in row:
            value = row.get("max_error", row.get("max_diff"))
            notes.append(f"{row['conversion']}: max difference {value:.1e}")
            continue
        diffs = [
            _fmt(row.get(key), ".1e")
            for key in ("ours_max_diff_vs_skimage", "opencv_max_diff_vs_skimage")
            if key in row
        ]
        cells = [
            row["conversion"],
            _fmt(row["ours_mp_s"]),
            _fmt(row.get("skimage_mp_s")),
            _fmt(row.get("opencv_mp_s")),
            _fmt(row.get("speedup_vs_skimage"), ".1f", "x"),
            "; ".join(diffs),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    lines += [
        "",
        *notes,
        "",
        "| decoder (K=32 unless joint) | MP/s | naive numpy MP/s |",
        "|---|---:|---:|",
    ]
    lines += [
        f"| {row['decoder']} | {row['mp_s']:.1f} | {_fmt(row.get('naive_numpy_mp_s'))} |"
        for row in report["decoders"]
    ]
    lines += [
        "",
        "| energy minimisation (Eq. 6) | method | seconds | iterations | chi2 |",
        "|---|---|---:|---:|---:|",
    ]
    for r in report["energy"]:
        cells = [
            r["case"],
            r["method"],
            f"{r['seconds']:.3f}",
            str(r["iterations"]),
            f"{r['chi2']:.4f}",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1024, help="side of the image for conversions")
    parser.add_argument(
        "--decoder-size", type=int, default=512, help="side of the decoded distributions"
    )
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument(
        "--out",
        type=Path,
        default=Path(tempfile.gettempdir()) / "bench_colour.json",
        help="where to write the JSON results (default: %(default)s)",
    )
    args = parser.parse_args(argv)
    report = {"machine": machine(), "command": " ".join([Path(sys.executable).name, *sys.argv])}
    report["conversions"] = conversions(args.size, args.repeats)
    report["decoders"] = decoder_rates(args.decoder_size, args.repeats)
    report["energy"] = energy(args.repeats)
    report["machine"]["load_average_after"] = os.getloadavg()
    args.out.write_text(json.dumps(report, indent=2))
    print(json.dumps(report["machine"]))
    print(markdown(report))
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
