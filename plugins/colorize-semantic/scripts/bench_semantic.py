"""Timings of the semantic plugin for MODEL_CARD.md (and docs/performance.md).

* sampling on the 32 x 32 grid of a 128 x 128 lightness: the cached step graphs
  (default), the receptive-field windows and the naive whole-grid sampler, one sample and
  8 batched; all three draw identical samples from the same noise (checked here too);
* end to end ``core.colorize`` of a 512 x 512 photo (load, encoder, sampling, up-sampling,
  recombination), one sample.

Best of ``--repeats`` wall-clock runs, one process, ONNX Runtime on the CPU.

    python plugins/colorize-semantic/scripts/bench_semantic.py --json runs/semantic-bench.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np


def main(argv: list[str] | None = None) -> int:
    import onnxruntime
    from colorize_bench.bench import best_run
    from colorize_semantic.colorizer import SemanticColorizer
    from colorize_semantic.sampling import draw_noise, sample_cached, sample_naive, sample_windowed

    import core

    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--skip-naive", action="store_true")
    p.add_argument("--json", type=Path, default=None)
    args = p.parse_args(argv)
    colorizer = SemanticColorizer()
    graphs = colorizer.graphs()
    y, x = np.mgrid[0:128, 0:128]
    lightness = (50 + 40 * np.sin(x / 9.0) * np.cos(y / 7.0)).astype(np.float32)
    encode_s, (cond1, _) = best_run(lambda: colorizer.encode(lightness), args.repeats)
    out: dict = {"onnxruntime": onnxruntime.__version__, "encoder_128x128_s": encode_s}
    for n in (1, 8):
        cond = np.ascontiguousarray(np.repeat(cond1, n, axis=0))
        noise = draw_noise(0, n, *cond.shape[2:])
        cached_s, cached = best_run(
            lambda c=cond, z=noise: sample_cached(graphs["row"], graphs["pixel"], c, z),
            args.repeats,
        )
        windowed_s, windowed = best_run(
            lambda c=cond, z=noise: sample_windowed(graphs["pixelcnn"], c, z), 1
        )
        out[f"sampling_32x32_n{n}"] = {
            "cached_s": cached_s,
            "windowed_s": windowed_s,
            "identical": bool(np.array_equal(cached, windowed)),
        }
        if not args.skip_naive and n == 1:
            naive_s, naive = best_run(
                lambda c=cond, z=noise: sample_naive(graphs["pixelcnn"], c, z), 1
            )
            out[f"sampling_32x32_n{n}"].update(
                naive_s=naive_s,
                identical=bool(np.array_equal(cached, windowed) and np.array_equal(cached, naive)),
            )
    rng = np.random.default_rng(0)
    photo = (rng.random((512, 512, 3)) * 255).astype(np.uint8)
    photo = np.ascontiguousarray(cv_blur(photo))
    core.colorize(photo, "semantic", seed=0)  # warm-up: sessions
    end_s, _ = best_run(lambda: core.colorize(photo, "semantic", seed=0), args.repeats)
    out["end_to_end_512x512_s"] = end_s
    text = json.dumps(out, indent=2)
    print(text)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(text + "\n")
    return 0


def cv_blur(image: np.ndarray) -> np.ndarray:
    """A smooth test photo (noise blurred), so the input is not white noise."""
    import cv2

    return cv2.GaussianBlur(image, (0, 0), 6)


if __name__ == "__main__":
    sys.exit(main())
