"""Benchmark of the exemplar method: matching + colorization, and recommendation queries.

1. ``colorize_result(target, "exemplar", reference=ref)`` at 256 x 256 and 512 x 512
   (target and reference of that size), median of ``--runs`` after a warm-up, with the
   method's own stages: feature pyramids of target and reference, matching
   (:func:`colorize_exemplar.matching.correspond` + warp, i.e. :meth:`align` minus the
   pyramids), the colorization sub-net, and the core's share (load, resize, recombine).
2. Recommendation query (:meth:`colorize_exemplar.index.ReferenceIndex.query`: the
   query's descriptors, global ranking, Eq. 8 on the top 200) against indexes of 1k and
   10k entries synthesised from random unit features of the real shapes, and, with
   ``--index``, against a real index.

Usage: ``python plugins/colorize-exemplar/scripts/bench_exemplar.py [--index FILE] [--json F]``
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

import cv2
import numpy as np
from colorize_exemplar import recommend as rec
from colorize_exemplar.colorizer import ExemplarColorizer
from colorize_exemplar.index import ReferenceIndex, load_index
from colorize_exemplar.matching import correspond

import core


def _median_ms(func, runs: int) -> float:
    func()  # warm-up
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        func()
        times.append(time.perf_counter() - t0)
    return 1000.0 * statistics.median(times)


def _images(size: int) -> tuple[np.ndarray, np.ndarray]:
    y, x = np.mgrid[0:size, 0:size] / size
    gray = (0.5 + 0.3 * np.sin(9 * x) * np.cos(7 * y)).astype(np.float32)
    ref = np.stack([0.5 + 0.4 * np.sin(6 * x + 1), 0.4 + 0.3 * np.cos(5 * y), 0.3 + x / 3], -1)
    return gray, ref.astype(np.float32)


def _bench_size(colorizer: ExemplarColorizer, size: int, runs: int) -> dict:
    gray, ref = _images(size)
    total = _median_ms(lambda: core.colorize_result(gray, "exemplar", reference=ref), runs)
    h, w = colorizer.working_shape(size, size)
    lightness = core.colorspaces.rgb_to_lab(np.repeat(gray[..., None], 3, -1))[..., 0]
    small = cv2.resize(lightness, (w, h), interpolation=cv2.INTER_AREA)
    ref_lab = colorizer.reference_lab(ref)
    pyr_t = colorizer.pyramid(small)
    pyr_r = colorizer.pyramid(ref_lab[..., 0])
    features = _median_ms(
        lambda: (colorizer.pyramid(small), colorizer.pyramid(ref_lab[..., 0])), runs
    )
    matching = _median_ms(lambda: correspond(pyr_t, pyr_r), runs)
    x, _ = colorizer.align(small, ref_lab)
    colornet = _median_ms(lambda: colorizer._colornet.run(inputs=x[None]), runs)
    predict = _median_ms(lambda: colorizer.predict(small, reference=ref), runs)
    return {
        "size": f"{size}x{size}",
        "working_shape": [h, w],
        "total_ms": total,
        "predict_ms": predict,
        "features_ms": features,
        "matching_ms": matching,
        "colornet_ms": colornet,
        "core_ms": total - predict,
    }


def bench_colorize(runs: int) -> list[dict]:
    colorizer = ExemplarColorizer()
    return [_bench_size(colorizer, size, runs) for size in (256, 512)]


def synthetic_index(entries: int, seed: int = 0) -> ReferenceIndex:
    """An index of ``entries`` random unit descriptors with the real shapes."""
    rng = np.random.default_rng(seed)
    cells = rec.GRID * rec.GRID
    raw_g = 16 + 32 + 64 + 96 + 128
    raw_l = 96 + 128

    def unit(a):
        return (a / np.linalg.norm(a, axis=-1, keepdims=True)).astype(np.float32)

    hist = rng.standard_normal((entries, cells, rec.HIST_BINS))
    hist -= hist.mean(-1, keepdims=True)
    basis_g = np.linalg.qr(rng.standard_normal((raw_g, rec.GLOBAL_DIM)))[0].T
    basis_l = np.linalg.qr(rng.standard_normal((raw_l, rec.LOCAL_DIM)))[0].T
    return ReferenceIndex(
        root=Path("/synthetic"),
        entries=[
            {"path": f"{i}.jpg", "size": 0, "mtime": 0.0, "shape": [1, 1]} for i in range(entries)
        ],
        global_features=unit(rng.standard_normal((entries, rec.GLOBAL_DIM))),
        local_features=unit(rng.standard_normal((entries, cells, rec.LOCAL_DIM))).astype(
            np.float16
        ),
        histograms=unit(hist).astype(np.float16),
        pca_global=rec.Pca(np.zeros(raw_g, np.float32), basis_g.astype(np.float32)),
        pca_local=rec.Pca(np.zeros(raw_l, np.float32), basis_l.astype(np.float32)),
        pca_fitted_on=entries,
    )


def bench_recommend(runs: int, index_path: str | None) -> list[dict]:
    pyramid = ExemplarColorizer().pyramid
    gray, _ = _images(512)
    lightness = 100.0 * gray
    indexes = [("synthetic 1k", synthetic_index(1000)), ("synthetic 10k", synthetic_index(10000))]
    if index_path:
        indexes.insert(0, (f"real ({Path(index_path).name})", load_index(index_path)))
    d = rec.describe(lightness, pyramid)
    describe_ms = _median_ms(lambda: rec.describe(lightness, pyramid), runs)
    return [
        _bench_index(name, index, d, lightness, pyramid, runs) | {"describe_ms": describe_ms}
        for name, index in indexes
    ]


def _bench_index(name, index, d, lightness, pyramid, runs) -> dict:
    q = (
        rec.compress(d.global_raw, index.pca_global),
        rec.compress(d.local_raw, index.pca_local),
        d.histograms,
    )
    arrays = (index.global_features, index.local_features, index.histograms)
    return {
        "index": name,
        "entries": len(index),
        "query_ms": _median_ms(lambda: index.query(lightness, pyramid, k=5), runs),
        "rank_ms": _median_ms(lambda: rec.rank(*q, *arrays, k=5), runs),
        "index_mb": sum(a.nbytes for a in arrays) / 2**20,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--index", default=None, help="also query this real index")
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    import onnxruntime

    report = {
        "machine": {
            "cpu": platform.processor() or platform.machine(),
            "python": platform.python_version(),
            "numpy": np.__version__,
            "onnxruntime": onnxruntime.__version__,
        },
        "colorize": bench_colorize(args.runs),
        "recommend": bench_recommend(args.runs, args.index),
    }
    print("| input | working | total ms | predict ms | features ms | matching ms | colornet ms |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
    for r in report["colorize"]:
        print(
            f"| {r['size']} | {r['working_shape'][0]}x{r['working_shape'][1]} | "
            f"{r['total_ms']:.1f} | {r['predict_ms']:.1f} | {r['features_ms']:.1f} | "
            f"{r['matching_ms']:.2f} | {r['colornet_ms']:.1f} |"
        )
    print()
    print("| index | entries | query ms | of which descriptors ms | ranking ms | arrays MiB |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for r in report["recommend"]:
        print(
            f"| {r['index']} | {r['entries']} | {r['query_ms']:.1f} | {r['describe_ms']:.1f} | "
            f"{r['rank_ms']:.1f} | {r['index_mb']:.1f} |"
        )
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
