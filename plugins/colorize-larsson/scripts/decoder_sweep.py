"""Compare decoder settings of the larsson heads on a folder of colour photos (no torch).

Every setting goes through the public pipeline (``core.colorize_result``) and
``core.evaluate.score``; the three numbers the default is chosen by are printed per row:
colourfulness ratio (vivid), RMSE-alpha-beta and PSNR (right), beside the gray,
mean-tint and true-28px baselines. Choose on BSDS500 *val* (no head saw it), report on
test.

Usage::

    python plugins/colorize-larsson/scripts/decoder_sweep.py \\
        --data $COLORIZE_DATA/bsds500/images/val --method larsson-lab-joint \\
        --setting expectation --setting annealed-mean@0.38 --out sweep.json
"""

from __future__ import annotations

import argparse
import json
import sys


def _parse(setting: str) -> dict:
    """``DECODER[@TEMPERATURE][~REBALANCE]`` -> ``colorize_result`` options."""
    setting, _, rebalance = setting.partition("~")
    decoder, _, temperature = setting.partition("@")
    out: dict = {"rebalance": float(rebalance)} if rebalance else {}
    if decoder != "default":
        out["decoder"] = decoder
    if temperature:
        out["temperature"] = float(temperature)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--method", action="append", required=True)
    parser.add_argument("--setting", action="append", default=[],
                        help="DECODER[@TEMPERATURE][~REBALANCE] (temperature of annealed-mean, "
                        "strength of the prior correction; 'default' for the method's "
                        "decoder); repeatable")
    parser.add_argument("--limit", type=int)
    parser.add_argument("--out")
    args = parser.parse_args(argv)
    from tqdm import tqdm

    import core
    from core.evaluate import BASELINES, baseline_prediction, list_images, score
    from core.io import load_image
    from core.metrics import mean_finite

    settings = args.setting or ["default"]
    rows = {f"{m} {s}": (m, s) for m in args.method for s in settings}
    results: dict[str, list[dict]] = {r: [] for r in [*rows, *BASELINES]}
    for path in tqdm(list_images(args.data, args.limit), desc="sweep"):
        true = load_image(path).rgb()
        for name in BASELINES:
            results[name].append(score(baseline_prediction(name, true), true))
        for row, (method, setting) in rows.items():
            kwargs = _parse(setting)
            out = core.colorize_result(true, method, seed=0, **kwargs)
            results[row].append(score(out.rgb, true))
    table = {}
    print("| row | colourfulness | RMSE-ab | PSNR |\n| --- | ---: | ---: | ---: |")
    for row, scores in results.items():
        agg = {k: mean_finite(s[k] for s in scores)[0] for k in scores[0]}
        table[row] = agg
        print(f"| {row} | {agg['colourfulness_ratio']:.3f} | {agg['rmse_ab']:.4f} | "
              f"{agg['psnr']:.2f} |")
    if args.out:
        with open(args.out, "w", encoding="utf-8") as handle:
            json.dump({"data": args.data, "limit": args.limit, "rows": table}, handle, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
