"""The semantic plugin's benchmark for ``colorize bench``: its three samplers compared.

Registered through the ``register_benchmarks`` hook (``colorize_semantic.plugin``). Same
shipped graphs, same noise, same process: the cached sampler runs the row/pixel step
graphs from activation caches (as PixColor's, after Ramachandran et al. 2017), the
windowed one runs the whole PixelCNN on each pixel's receptive field, the naive one on
the whole grid per pixel. All three must draw identical samples; the note says whether
they did.

Full run: the 32 x 32 grid (of a 256 x 256 lightness over the backbone), one sample
(cached vs windowed and vs naive) and n = 8 batched (cached vs windowed). ``quick``: a
16 x 16 grid, one sample, cached vs windowed.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from colorize_bench.bench import best_run, comparison, int8_comparisons, zero_feeds

__all__ = ["benchmark"]


def benchmark(quick: bool = False) -> dict[str, Any]:
    """Cached vs windowed vs naive sampling (seconds per chroma grid) on the shipped model.

    Returns ``{"comparisons": {...}, "skipped": [...]}`` (see
    :func:`colorize_bench.bench.comparison`).
    """
    from colorize_semantic import MODELS_DIR
    from colorize_semantic.colorizer import SemanticColorizer
    from colorize_semantic.sampling import draw_noise, sample_cached, sample_naive, sample_windowed

    colorizer = SemanticColorizer()
    graphs = colorizer.graphs()
    side = (16 if quick else 32) * colorizer.grid_stride  # a 16 or 32 px chroma grid
    y, x = np.mgrid[0:side, 0:side]
    lightness = (50 + 40 * np.sin(x / 9.0) * np.cos(y / 7.0)).astype(np.float32)
    cond1, _ = colorizer.encode(lightness)
    h, w = cond1.shape[2:]
    repeats = 2 if quick else 3
    comparisons = {}
    for n in (1,) if quick else (1, 8):
        cond = np.ascontiguousarray(np.repeat(cond1, n, axis=0))
        noise = draw_noise(0, n, h, w)

        def cached(c=cond, z=noise):
            return sample_cached(graphs["row"], graphs["pixel"], c, z)

        cached()  # warm-up: sessions, allocations
        cached_s, ours = best_run(cached, repeats)
        others = {"windowed": sample_windowed}
        if n == 1 and not quick:
            others["naive"] = sample_naive
        for name, sampler in others.items():
            seconds, theirs = best_run(
                lambda s=sampler, c=cond, z=noise: s(graphs["pixelcnn"], c, z), 1
            )
            same = bool(np.array_equal(ours, theirs))
            comparisons[f"sampling {h}x{w}, n={n}: cached vs {name}"] = comparison(
                "cached",
                cached_s,
                name,
                seconds,
                "s",
                note=f"same graphs and noise; identical samples: {same}",
            )
    int8, skipped = int8_comparisons(MODELS_DIR, zero_feeds, 3)
    comparisons.update(int8)
    return {"comparisons": comparisons, "skipped": skipped}
