"""Compare decoder settings (and candidate head graphs) of the larsson heads (no torch).

Every setting goes through the public pipeline (``core.colorize_result``) and
``colorize_eval.evaluate.score``. Printed per data set (and per sub-folder): colourfulness ratio
(vivid), RMSE-alpha-beta and PSNR (right), the cast (mean signed and absolute Δa*, Δb*),
beside the gray, mean-tint and true-28px baselines, and the two ratios of issue 30's
criterion: RMSE-alpha-beta over gray's and PSNR minus mean-tint's. Choose on validation
photos of both distributions (BSDS500 val and ``everyday_val@select``), never on test.

Usage::

    python plugins/colorize-larsson/scripts/decoder_sweep.py \\
        --data $COLORIZE_DATA/bsds500/images/val --data $COLORIZE_DATA/everyday_val@select \\
        --method larsson --setting default --setting default~0.25%0.06 \\
        --graph larsson=runs/candidate/larsson.onnx --out sweep.json

A setting is ``DECODER[@TEMPERATURE][~REBALANCE][%ETA]`` (``default`` for the method's
own decoder); ``--graph METHOD=FILE`` swaps the method's head graph for a candidate
exported by ``colorize_larsson.head export`` (the shipped file is not touched).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def _parse(setting: str) -> dict:
    """``DECODER[@TEMPERATURE][~REBALANCE][%ETA]`` -> ``colorize_result`` options."""
    setting, _, eta = setting.partition("%")
    setting, _, rebalance = setting.partition("~")
    decoder, _, temperature = setting.partition("@")
    out: dict = {"rebalance": float(rebalance)} if rebalance else {}
    if decoder != "default":
        out["decoder"] = decoder
    if temperature:
        out["temperature"] = float(temperature)
    if eta:
        out["eta"] = float(eta)
    return out


def _use_graph(spec: str) -> str:
    """``METHOD=FILE``: the registered colorizer of METHOD runs FILE from now on."""
    from core.plugins import get_registry
    from core.runtime import OnnxModel

    method, sep, file = spec.partition("=")
    if not sep or not Path(file).is_file():
        raise SystemExit(f"--graph expects METHOD=FILE with an existing file, got {spec!r}")
    get_registry().get("method", method)._model = OnnxModel(Path(file))
    return method


def _summary(scores: list[dict]) -> dict:
    from core.metrics import mean_finite

    return {k: mean_finite(s[k] for s in scores)[0] for k in scores[0] if k != "folder"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", action="append", required=True,
                        help="folder (DIR@select / DIR@report for one half); repeatable")
    parser.add_argument("--method", action="append", required=True)
    parser.add_argument("--setting", action="append", default=[],
                        help="DECODER[@TEMPERATURE][~REBALANCE][%%ETA] (temperature of "
                        "annealed-mean, strength of the prior correction, chromatic-fading "
                        "threshold; 'default' for the method's decoder); repeatable")
    parser.add_argument("--graph", action="append", default=[], metavar="METHOD=FILE",
                        help="evaluate a candidate head graph in place of the shipped one")
    parser.add_argument("--limit", type=int)
    parser.add_argument("--out")
    args = parser.parse_args(argv)
    from colorize_eval.evaluate import BASELINES, baseline_prediction, data_files, score
    from tqdm import tqdm

    import core
    from core.io import load_image

    for spec in args.graph:
        _use_graph(spec)
    settings = args.setting or ["default"]
    rows = {f"{m} {s}": (m, s) for m in args.method for s in settings}
    tables = {}
    for data in args.data:
        folder, _, files = data_files(data)
        files = files[: args.limit] if args.limit else files
        results: dict[str, list[dict]] = {r: [] for r in [*rows, *BASELINES]}
        for path in tqdm(files, desc=f"sweep {data}"):
            true = load_image(path).rgb()
            sub = path.parent.relative_to(folder).as_posix()
            for name in BASELINES:
                results[name].append({"folder": sub,
                                      **score(baseline_prediction(name, true), true)})
            for row, (method, setting) in rows.items():
                out = core.colorize_result(true, method, seed=0, **_parse(setting))
                results[row].append({"folder": sub, **score(out.rgb, true)})
        groups = sorted({s["folder"] for s in results["gray"]})
        for group in [None, *groups] if len(groups) > 1 else [None]:
            name = str(data) if group is None else f"{data}/{group}"
            picked = {r: [s for s in v if group is None or s["folder"] == group]
                      for r, v in results.items()}
            agg = {r: _summary(v) for r, v in picked.items()}
            tables[name] = agg
            gray, tint = agg["gray"], agg["mean-tint"]
            print(f"\n{name} ({len(picked['gray'])} photos)\n")
            print("| row | colourfulness | RMSE-ab | x gray | PSNR | - tint | Δb* | |Δb*| "
                  "| Δa* | |Δa*| |\n| --- |" + " ---: |" * 9)
            for row, a in agg.items():
                print(f"| {row} | {a['colourfulness_ratio']:.3f} | {a['rmse_ab']:.4f} | "
                      f"{a['rmse_ab'] / gray['rmse_ab']:.3f} | {a['psnr']:.2f} | "
                      f"{a['psnr'] - tint['psnr']:+.2f} | {a['cast_b']:+.2f} | "
                      f"{a['abs_cast_b']:.2f} | {a['cast_a']:+.2f} | {a['abs_cast_a']:.2f} |")
    if args.out:
        with open(args.out, "w", encoding="utf-8") as handle:
            json.dump({"data": args.data, "limit": args.limit, "graphs": args.graph,
                       "tables": tables}, handle, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
