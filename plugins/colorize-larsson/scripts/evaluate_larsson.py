"""Reproduce Larsson et al. Tables 1, 4 and 5 on a folder of colour photos (BSDS500 test).

No torch: every row goes through ``core.colorize_result`` (ONNX Runtime), and every
score through ``colorize_eval.evaluate.score`` (PSNR in RGB, Eq. 11; RMSE in alpha-beta, Eq. 10),
with the core's baselines ``gray`` (no colorization), ``mean-tint`` and ``true-28px``.

* Table 1: each shipped variant with its default decoder.
* Table 5: ``larsson`` (hue/chroma) with every Table 5 decoder combination.
* Table 4: the ground-truth histogram is available (the photo itself is the reference):
  lightness-normalised quantile matching (Q) against energy minimisation (E, Eq. 6).

Usage::

    python plugins/colorize-larsson/scripts/evaluate_larsson.py \
        --data $COLORIZE_DATA/bsds500/images/test --limit 100 --out eval.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="folder of colour test photos")
    parser.add_argument("--limit", type=int, help="at most this many photos (sorted by name)")
    parser.add_argument("--shard", default="0/1", help="K/N: score every N-th photo from K")
    parser.add_argument("--merge", nargs="+", help="merge the JSON files of finished shards")
    parser.add_argument("--out", help="write all per-row means as JSON here")
    args = parser.parse_args(argv)
    if args.merge:
        return _merge(args.merge, args.out)

    from colorize_eval.evaluate import BASELINES, DEFAULT_TINT_AB, baseline_prediction, list_images
    from colorize_larsson.colorizer import COLORIZERS, TABLE5_DECODERS
    from tqdm import tqdm

    import core
    from core.metrics import psnr, rmse_alphabeta

    def score(pred, true):  # the two metrics of Tables 1, 4 and 5 (Eqs. 10 and 11)
        return {"rmse_ab": float(rmse_alphabeta(pred, true)), "psnr": float(psnr(pred, true))}

    from core.io import load_image

    methods = [cls.name for cls in COLORIZERS if cls.shipped()]
    rows: dict[str, dict] = {}
    for name in BASELINES:
        rows[f"T1 {name}"] = {"table": 1, "kind": "baseline", "method": name}
    for name in methods:
        rows[f"T1 {name}"] = {"table": 1, "method": name, "kwargs": {}}
    for spec in TABLE5_DECODERS:
        rows[f"T5 {spec}"] = {"table": 5, "method": "larsson", "kwargs": {"decoder": spec}}
    for name in [m for m in methods if m in ("larsson", "larsson-lab")]:
        for transfer in ("quantile", "energy"):
            rows[f"T4 {name} {transfer}"] = {
                "table": 4,
                "method": name,
                "kwargs": {"transfer": transfer},
                "gt": True,
            }
    shard, shards = (int(v) for v in args.shard.split("/"))
    files = list_images(args.data, args.limit)[shard::shards]
    scores: dict[str, list[dict]] = {key: [] for key in rows}
    started = time.perf_counter()
    for path in tqdm(files, desc="eval", unit="img"):
        true = load_image(path).rgb()
        cache: dict[str, np.ndarray] = {}
        for key, row in rows.items():
            if row.get("kind") == "baseline":
                pred = baseline_prediction(row["method"], true, DEFAULT_TINT_AB)
            else:
                kwargs = dict(row["kwargs"])
                if row.get("gt"):
                    kwargs["reference"] = true
                signature = json.dumps(
                    [row["method"], sorted(kwargs.items(), key=str)], default=lambda _: "ref"
                )
                if signature not in cache:
                    cache[signature] = core.colorize_result(
                        true, row["method"], seed=0, **kwargs
                    ).rgb
                pred = cache[signature]
            scores[key].append(score(pred, true))
    seconds = time.perf_counter() - started
    sums = {
        key: {m: float(np.sum([s[m] for s in values])) for m in ("rmse_ab", "psnr")}
        for key, values in scores.items()
    }
    result = {
        "images": len(files),
        "data": str(args.data),
        "seconds": seconds,
        "sums": sums,
        "rows": {k: {"table": r["table"]} for k, r in rows.items()},
    }
    if args.out:
        with open(args.out, "w", encoding="utf-8") as handle:
            json.dump(result, handle, indent=2)
    _print(result)
    return 0


def _merge(paths: list[str], out: str | None) -> int:
    parts = [json.load(open(p, encoding="utf-8")) for p in paths]
    result = dict(parts[0])
    result["images"] = sum(p["images"] for p in parts)
    result["seconds"] = sum(p["seconds"] for p in parts)
    result["sums"] = {
        key: {m: sum(p["sums"][key][m] for p in parts) for m in ("rmse_ab", "psnr")}
        for key in parts[0]["sums"]
    }
    if out:
        with open(out, "w", encoding="utf-8") as handle:
            json.dump(result, handle, indent=2)
    _print(result)
    return 0


def _print(result: dict) -> None:
    """Tables 1, 5 and 4 as markdown (means over images: PSNR per image, Eq. 11; RMSE
    per image, Eq. 10, each image weighted equally)."""
    n = result["images"]
    means = {k: {m: v / n for m, v in s.items()} for k, s in result["sums"].items()}
    rows = result["rows"]
    print(f"## {n} photos of {result['data']} ({result['seconds']:.0f} s)\n")
    for table in (1, 5, 4):
        print(f"\nTable {table}\n\n| row | RMSE (alpha-beta) | PSNR (dB) |\n| --- | ---: | ---: |")
        for key, row in rows.items():
            if (
                row["table"] == table
                or (table == 4 and key == "T1 gray")
                or (table == 4 and key in ("T1 larsson", "T1 larsson-lab"))
            ):
                print(f"| {key[3:]} | {means[key]['rmse_ab']:.4f} | {means[key]['psnr']:.2f} |")


if __name__ == "__main__":
    sys.exit(main())
