"""Recommendation class agreement (He et al. 2018, §4): does the top-1 reference share the class?

For labelled photos held out from the index, the fraction whose top-1 recommendation
(global ranking, then Eq. 8 on the top 200) has the target's class. Three settings:

* ``intel``: ``intel_scenes`` (6 scene classes); per class the first ``--index-per-class``
  files (name order) form the index, the next ``--queries-per-class`` are the queries;
* ``tiny``: ``tiny_imagenet`` val (202 classes), the same split per class;
* ``imagenet``: the held-out half of ``imagenet_sample`` (:func:`training.splits.held_out`)
  as queries against the ``tiny`` index, for the photos whose ImageNet class (wnid) is one
  of Tiny ImageNet's (``imagenet_sample`` has one photo per class, so it cannot index
  itself).

Queries are given to the recommender in gray (their L*), references in colour (as
``colorize index build`` does). Chance: the share of index entries of the query's class.

``--legacy`` also measures the **former** descriptors (the small gray FeatureNet,
``exemplar-features.onnx``, 64 px square, five pooled levels) with the same PCA sizes and
ranking. They are no longer in the plugin; take them from git first::

    git show 37eebeb:plugins/colorize-exemplar/colorize_exemplar/models/exemplar-features.onnx \\
        > runs/exemplar-legacy/exemplar-features.onnx
    git show 37eebeb:plugins/colorize-exemplar/colorize_exemplar/recommend.py \\
        > runs/exemplar-legacy/recommend_v1.py
    git show 37eebeb:plugins/colorize-exemplar/colorize_exemplar/models/manifest.json \\
        > runs/exemplar-legacy/manifest.json

Usage::

    OPENBLAS_NUM_THREADS=1 python plugins/colorize-exemplar/scripts/recommend_agreement.py \\
        --legacy runs/exemplar-legacy --json runs/exemplar-bb/agreement.json
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import json
import os
from collections import defaultdict
from pathlib import Path

import numpy as np
from colorize_exemplar import recommend as rec
from colorize_exemplar.index import reference_lightness
from PIL import Image
from tqdm import tqdm

from core.colorspaces.lab import rgb_to_lab
from training.splits import held_out


def _split(rows: list[tuple[Path, str]], n_index: int, n_query: int):
    by_class: dict[str, list[Path]] = defaultdict(list)
    for path, label in sorted(rows):
        by_class[label].append(path)
    index, queries = [], []
    for label, paths in sorted(by_class.items()):
        index += [(p, label) for p in paths[:n_index]]
        queries += [(p, label) for p in paths[n_index : n_index + n_query]]
    return index, queries


def _rgb(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"), np.float32) / 255.0


class _Describer:
    """Descriptors of the new (backbone) or the former (FeatureNet) recommendation."""

    def __init__(self, legacy: Path | None = None) -> None:
        if legacy is None:
            from core.backbones import get_backbone

            self.module = rec
            self.features = get_backbone("efficientnet-lite0-gray").features
        else:
            from core.runtime import OnnxModel

            source = legacy / "recommend_v1.py"
            spec = importlib.util.spec_from_file_location("recommend_v1", source)
            self.module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(self.module)
            model = OnnxModel(legacy / "exemplar-features.onnx")

            def pyramid(lightness):
                x = np.ascontiguousarray(lightness, np.float32)[None, None]
                return [level[0] for level in model.run(lightness=x)]

            self.features = pyramid

    def __call__(self, lightness: np.ndarray):
        return self.module.describe(lightness, self.features)


def _describe(items, describer, gray: bool, desc: str):
    out = []
    for path, _ in tqdm(items, desc=desc, unit="img", mininterval=5):
        rgb = _rgb(path)
        lightness = rgb_to_lab(rgb)[..., 0] if gray else reference_lightness(rgb)
        out.append(describer(lightness))
    return out


def _agreement(index_d, index_labels, query_d, query_labels) -> dict:
    pca_g = rec.fit_pca(np.stack([d.global_raw for d in index_d]), rec.GLOBAL_DIM)
    pca_l = rec.fit_pca(np.concatenate([d.local_raw for d in index_d]), rec.LOCAL_DIM)
    glob = rec.compress(np.stack([d.global_raw for d in index_d]), pca_g)
    loc = rec.compress(np.stack([d.local_raw for d in index_d]), pca_l).astype(np.float16)
    hist = np.stack([d.histograms for d in index_d]).astype(np.float16)
    labels = np.asarray(index_labels)
    hits, global_hits, chance = [], [], []
    for d, label in zip(query_d, query_labels, strict=True):
        q_g = rec.compress(d.global_raw, pca_g)
        q_l = rec.compress(d.local_raw, pca_l)
        ranking = rec.rank(q_g, q_l, d.histograms, glob, loc, hist, k=1)
        hits.append(labels[ranking.order[0]] == label)
        global_hits.append(labels[int(np.argmax(glob @ q_g))] == label)
        chance.append(np.mean(labels == label))
    return {
        "queries": len(query_labels),
        "index": len(index_labels),
        "top1_agreement": float(np.mean(hits)),
        "global_only_top1_agreement": float(np.mean(global_hits)),
        "chance": float(np.mean(chance)),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", default=os.environ.get("COLORIZE_DATA", "/work/shared/datasets"))
    parser.add_argument("--index-per-class", type=int, default=10)
    parser.add_argument("--queries-per-class", type=int, default=2)
    parser.add_argument("--intel-index-per-class", type=int, default=100)
    parser.add_argument("--intel-queries-per-class", type=int, default=50)
    parser.add_argument("--legacy", type=Path, default=None, help="folder with the former files")
    parser.add_argument("--legacy-only", action="store_true", help="only the former descriptors")
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    data = Path(args.data)

    with open(data / "intel_scenes" / "labels.csv", newline="") as handle:
        intel = [(data / "intel_scenes" / r["file"], r["class"]) for r in csv.DictReader(handle)]
    with open(data / "tiny_imagenet" / "labels.csv", newline="") as handle:
        tiny = [
            (data / "tiny_imagenet" / "val" / r["file"], r["wnid"]) for r in csv.DictReader(handle)
        ]
    with open(data / "imagenet_sample" / "labels.csv", newline="") as handle:
        wnid = {r["file"]: r["wnid"] for r in csv.DictReader(handle)}
    intel_index, intel_queries = _split(
        intel, args.intel_index_per_class, args.intel_queries_per_class
    )
    tiny_index, tiny_queries = _split(tiny, args.index_per_class, args.queries_per_class)
    tiny_classes = {label for _, label in tiny_index}
    held = held_out(data / "imagenet_sample")
    imagenet_queries = [(p, wnid[p.name]) for p in held if wnid[p.name] in tiny_classes]

    describers = {} if args.legacy_only else {"backbone": _Describer()}
    if args.legacy is not None:
        describers["feature-net (former)"] = _Describer(args.legacy)
    results: dict[str, dict] = {}
    for name, describer in describers.items():
        ii = _describe(intel_index, describer, False, f"{name}: intel index")
        iq = _describe(intel_queries, describer, True, f"{name}: intel queries")
        ti = _describe(tiny_index, describer, False, f"{name}: tiny index")
        tq = _describe(tiny_queries, describer, True, f"{name}: tiny queries")
        mq = _describe(imagenet_queries, describer, True, f"{name}: imagenet_sample queries")
        results[name] = {
            "intel": _agreement(ii, [x[1] for x in intel_index], iq, [x[1] for x in intel_queries]),
            "tiny": _agreement(ti, [x[1] for x in tiny_index], tq, [x[1] for x in tiny_queries]),
            "imagenet": _agreement(
                ti, [x[1] for x in tiny_index], mq, [x[1] for x in imagenet_queries]
            ),
        }
        print(name, json.dumps(results[name], indent=1), flush=True)
        if args.json:
            Path(args.json).write_text(json.dumps(results, indent=1))
    print("\n| descriptors | " + " | ".join(results[next(iter(results))]) + " |")
    for name, r in results.items():
        cells = [
            f"{v['top1_agreement']:.1%} (global only {v['global_only_top1_agreement']:.1%}; "
            f"chance {v['chance']:.1%}; {v['queries']} queries, index {v['index']})"
            for v in r.values()
        ]
        print(f"| {name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
