"""PixColor's benchmark for ``colorize bench``: cached vs naive autoregressive sampling.

Registered through the ``register_benchmarks`` hook (``colorize_pixcolor.plugin``). Same
shipped graphs, same Gumbel noise, same process: naive sampling runs the whole PixelCNN
(``pixcolor-full.onnx``) once per pixel; cached sampling (Ramachandran et al. 2017) runs
the pixel-step graph once per pixel and the row-step graph once per row from activation
caches. Both must draw identical samples; the note says whether they did.

Full run: a 28 x 28 grid (the working size: 224 px over the backbone, 112 px from
scratch), one sample and n = 8 batched. ``quick``: a 12 x 12 grid, one sample.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from colorize_bench.bench import best_run, comparison, int8_comparisons, zero_feeds

__all__ = ["benchmark"]


def benchmark(quick: bool = False) -> dict[str, Any]:
    """Cached vs naive sampling (seconds per low-resolution sample grid) on the shipped model.

    Returns ``{"comparisons": {...}, "skipped": [...]}`` (see
    :func:`colorize_bench.bench.comparison`).
    """
    from colorize_pixcolor import MODELS_DIR
    from colorize_pixcolor.colorizer import PixColor
    from colorize_pixcolor.sampling import gumbel_noise, sample_cached, sample_naive

    colorizer = PixColor()
    side = (12 if quick else 28) * colorizer.grid_stride  # the grid's side times the stride
    y, x = np.mgrid[0:side, 0:side]
    lightness = (0.5 + 0.4 * np.sin(x / 9.0) * np.cos(y / 7.0)).astype(np.float32)
    cond1 = colorizer.condition(lightness)
    h, w = cond1.shape[2:]
    comparisons = {}
    for n in (1,) if quick else (1, 8):
        cond = np.ascontiguousarray(np.repeat(cond1, n, axis=0))
        noise = gumbel_noise(0, n, h, w)
        sample_cached(colorizer.graphs, cond, noise)  # warm-up: sessions, allocations
        cached_s, cached = best_run(
            lambda c=cond, z=noise: sample_cached(colorizer.graphs, c, z), 2 if quick else 3
        )
        naive_s, naive = best_run(lambda c=cond, z=noise: sample_naive(colorizer.graphs, c, z), 1)
        same = bool(np.array_equal(cached.cr, naive.cr) and np.array_equal(cached.cb, naive.cb))
        comparisons[f"sampling {h}x{w}, n={n}: cached vs naive"] = comparison(
            "cached",
            cached_s,
            "naive",
            naive_s,
            "s",
            note=f"same graphs and noise; identical samples: {same}",
        )
    int8, skipped = int8_comparisons(MODELS_DIR, zero_feeds, 3)
    comparisons.update(int8)
    return {"comparisons": comparisons, "skipped": skipped}
