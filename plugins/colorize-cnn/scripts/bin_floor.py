"""The numbers of MODEL_CARD.md's "Bin edges: measured" section.

Mode-decoded ``cnn-classification`` against the gray baseline in RMSE-alphabeta (Larsson
Eq. 10) and PSNR on the first N BSDS500 test photos, full resolution, through
``core.colorize_result`` (ONNX Runtime, no torch):

* ``--decoders mode,median,...``: one row per decoder of the shipped graph;
* ``--central-scale 1,0.5,0``: mode decoding with the bins whose range touches zero
  decoding to their recorded value times each factor (nothing else changed): the check
  that showed the report's bin edges (an edge at 0, two such bins) were the gap, not
  training length.

``--models DIR`` scores the graph in another folder (e.g. a fresh ``colorize export``)
instead of the shipped one.

Usage::

    python plugins/colorize-cnn/scripts/bin_floor.py --data $COLORIZE_DATA/bsds500/images/test \
        --count 8 --decoders mode,median,expectation,annealed-mean
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from colorize_eval.evaluate import baseline_prediction, list_images

import core
from core import metrics
from core.binning import Bins
from core.io import load_image

METHOD = "cnn-classification"


def _scores(trues: list[np.ndarray], **kwargs) -> tuple[float, float, int]:
    """Mean RMSE-alphabeta, mean PSNR, and on how many photos RMSE-alphabeta beats gray."""
    rmse, psnr, wins = [], [], 0
    for true in trues:
        pred = core.colorize_result(true, METHOD, **kwargs).rgb
        rmse.append(metrics.rmse_alphabeta(pred, true))
        psnr.append(metrics.psnr(pred, true))
        wins += rmse[-1] < metrics.rmse_alphabeta(baseline_prediction("gray", true), true)
    return float(np.mean(rmse)), float(np.mean(psnr)), wins


def _scale_central_bins(factor: float) -> None:
    """Make the colorizer decode the bins nearest zero to ``factor`` x their value."""
    from colorize_cnn.colorizer import CNNClassification

    original = CNNClassification.__dict__.get("_original_bins") or CNNClassification.bins
    CNNClassification._original_bins = original

    def bins(self, channel: str = "a") -> Bins:
        b = original(self, channel)
        centres = np.array(b.centers, np.float64)
        edges = np.asarray(b.edges)
        centres[(edges[:-1] <= 0) & (edges[1:] >= 0)] *= factor  # the bins touching zero
        return Bins(b.edges, centres, name=b.name)

    CNNClassification.bins = bins


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="folder of colour test photos")
    parser.add_argument("--count", type=int, default=8, help="first N photos (sorted)")
    parser.add_argument("--decoders", default="mode", help="comma-separated decoders")
    parser.add_argument("--central-scale", default=None, help="comma-separated factors")
    parser.add_argument("--models", default=None, help="folder with cnn-classification.onnx")
    args = parser.parse_args(argv)
    if args.models:
        import colorize_cnn.colorizer

        colorize_cnn.colorizer.MODELS_DIR = Path(args.models)
    trues = [load_image(p).rgb() for p in list_images(args.data, args.count)]
    gray = [baseline_prediction("gray", t) for t in trues]
    print(f"{len(trues)} photos of {args.data}")
    gray_rmse = np.mean([metrics.rmse_alphabeta(g, t) for g, t in zip(gray, trues, strict=True)])
    gray_psnr = np.mean([metrics.psnr(g, t) for g, t in zip(gray, trues, strict=True)])
    print(f"gray: RMSE-ab {gray_rmse:.4f}  PSNR {gray_psnr:.3f}")
    rows: list[tuple[str, dict]] = [(d, {"decoder": d}) for d in args.decoders.split(",")]
    for factor in args.central_scale.split(",") if args.central_scale else ():
        rows.append((f"mode, central bins x {factor}", {"scale": float(factor)}))
    for label, spec in rows:
        if "scale" in spec:
            _scale_central_bins(spec["scale"])
            rmse, psnr, wins = _scores(trues, decoder="mode")
        else:
            rmse, psnr, wins = _scores(trues, decoder=spec["decoder"])
        print(f"{label}: RMSE-ab {rmse:.4f}  PSNR {psnr:.3f}  beats gray on {wins}/{len(trues)}")


if __name__ == "__main__":
    main()
