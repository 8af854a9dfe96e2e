"""``colorize export METHOD --checkpoint CKPT --out DIR [--quantize]``."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

__all__ = ["DESCRIPTION", "configure_parser", "run"]

DESCRIPTION = "Export a trained checkpoint to ONNX graphs (checked, parity-tested, with manifest)."


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """Add the ``export`` arguments to ``parser``."""
    parser.add_argument("method", help="method name, e.g. cnn-classification")
    parser.add_argument(
        "--checkpoint",
        required=True,
        metavar="CKPT",
        help="checkpoint written by 'colorize train' (e.g. runs/METHOD/last.ckpt)",
    )
    parser.add_argument(
        "--out",
        required=True,
        metavar="DIR",
        help="models folder to write the .onnx files and manifest.json into",
    )
    parser.add_argument(
        "--real",
        metavar="DIR",
        help="photos for the parity check (default: $COLORIZE_DATA/bsds500/"
        "images/test when it exists; random inputs are always checked)",
    )
    parser.add_argument(
        "--tolerance",
        type=float,
        default=1e-2,
        help="largest allowed |onnxruntime - torch| (default 1e-2)",
    )
    parser.add_argument(
        "--quantize",
        action="store_true",
        help="also measure dynamic int8 quantization (kept only with --keep-int8)",
    )
    parser.add_argument(
        "--keep-int8",
        action="store_true",
        help="ship the int8 graph next to the float one when it was measured",
    )


def _default_real() -> Path | None:
    root = os.environ.get("COLORIZE_DATA")
    if root and (Path(root) / "bsds500/images/test").is_dir():
        return Path(root) / "bsds500/images/test"
    return None


def run(args: argparse.Namespace) -> int:
    """Run ``colorize export``; returns the exit code."""
    try:
        from onnx_export.export import ParityError, export_checkpoint
        from training.recipe import load_recipe
    except ImportError as exc:
        print(
            f"colorize export needs the 'train' extra (torch, onnx): {exc}\n"
            "install it with: pip install 'colorize-toolkit[train]'",
            file=sys.stderr,
        )
        return 2
    try:
        recipe = load_recipe(args.method)
        real = Path(args.real) if args.real else _default_real()
        results = export_checkpoint(
            recipe, args.checkpoint, args.out, real_dir=real, tolerance=args.tolerance
        )
        for result in results:
            print(
                f"{result.path}: max |onnxruntime - torch| = {result.max_abs_diff:.3g} "
                f"over {len(result.parity)} inputs ({result.seconds:.1f}s)"
            )
        if args.quantize:
            from onnx_export.quantize import measure_quantization

            for result in results:
                report = measure_quantization(result.path, real, keep=args.keep_int8)
                print(json.dumps(report, indent=2))
    except ParityError as exc:
        print(f"colorize export: parity check failed: {exc}", file=sys.stderr)
        return 1
    except (KeyError, ValueError, FileNotFoundError) as exc:
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        print(f"colorize export: error: {message}", file=sys.stderr)
        return 2
    return 0
