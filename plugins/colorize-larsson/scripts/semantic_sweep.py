"""The semantic test (``colorize_eval.semantic.semantic_test``) for decoder settings and candidate
head graphs of the larsson methods (no torch).

Usage::

    python plugins/colorize-larsson/scripts/semantic_sweep.py --method larsson \\
        --graph larsson=runs/candidate/larsson.onnx --setting default --setting default~0%0.04

Settings and ``--graph`` as in ``decoder_sweep.py``. The judge is the colour ImageNet
classifier of ``colorize-backbone``; the photos are the held-out half of imagenet_sample.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from decoder_sweep import _parse, _use_graph  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=os.path.join(
        os.environ.get("COLORIZE_DATA", "../shared/datasets"), "imagenet_sample"))
    parser.add_argument("--method", required=True)
    parser.add_argument("--setting", action="append", default=[])
    parser.add_argument("--graph", action="append", default=[], metavar="METHOD=FILE")
    parser.add_argument("--limit", type=int)
    parser.add_argument("--out")
    args = parser.parse_args(argv)
    from colorize_eval.semantic import semantic_test

    for spec in args.graph:
        _use_graph(spec)
    table = {}
    for setting in args.setting or ["default"]:
        result = semantic_test([args.method], args.data, limit=args.limit,
                               options=_parse(setting))
        if not table:
            table.update({k: v for k, v in result["top1"].items() if k != args.method})
        table[f"{args.method} {setting}"] = result["top1"][args.method]
        print(f"{args.method} {setting}: {100 * result['top1'][args.method]:.1f} % "
              f"(gray {100 * result['top1']['gray']:.1f} %, {result['photos']} photos)",
              flush=True)
    if args.out:
        Path(args.out).write_text(json.dumps({"graphs": args.graph, "top1": table}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
