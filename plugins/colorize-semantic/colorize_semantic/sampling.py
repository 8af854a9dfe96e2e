"""Autoregressive sampling of g_ω on ONNX Runtime (no torch).

The generator graph (``semantic-<variant>-pixelcnn.onnx``) evaluates the PixelCNN on a
grid and draws a value at every pixel from given noise; a sampler keeps only the next
pixel's value and feeds it back (Zhao et al. 2019, §3.1: "We first sample Ŷ1 from
p(Ŷ1|X_L), then sample Ŷi from p(Ŷi|Ŷ1, ..., Ŷi−1, X_L)").

* :func:`sample_naive` runs the graph on the whole grid once per pixel (the reference).
* :func:`sample_cached` (the default) is the cached incremental scheme of Ramachandran
  et al. 2017, as in the pixcolor plugin: ``semantic-<variant>-pixel.onnx`` computes only
  the horizontal stack, the head and the draw of the new pixel from per-layer caches of
  the pixels to its left, and ``semantic-<variant>-row.onnx`` advances the vertical stack
  by one row from per-layer caches of the rows above, once per finished row.
* :func:`sample_windowed` runs it once per pixel on a small window: the rows from
  ``reach_rows`` above down to the pixel's row and the columns within ``reach_cols`` on
  either side, which is every input that can reach the pixel through the masked
  convolutions (the architecture's receptive field, stored in the graph's metadata). Same
  samples as the naive sampler, at a cost per pixel that does not grow with the image.

Noise is drawn up front from ``numpy.random.default_rng((seed, i))`` for sample ``i``:
Gumbel noise picks the mixture component, uniform noise draws a and b by the inverse
logistic CDF. So a seed fixes the samples, whichever sampler, and sample ``i`` does not
depend on how many are drawn in the batch.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from colorize_semantic import MIXTURES
from core.runtime import OnnxModel

__all__ = ["Noise", "draw_noise", "sample_cached", "sample_naive", "sample_windowed", "score"]


@dataclass
class Noise:
    """Per-pixel noise of ``n`` samples: ``gumbel`` (n, M, h, w), ``uniform`` (n, 2, h, w)."""

    gumbel: np.ndarray
    uniform: np.ndarray


def draw_noise(seed: int | None, n: int, h: int, w: int, m: int = MIXTURES) -> Noise:
    """Noise for ``n`` samples on an ``h`` x ``w`` grid; sample ``i`` uses seed ``(seed, i)``."""
    base = 0 if seed is None else int(seed)
    gumbel = np.empty((n, m, h, w), np.float32)
    uniform = np.empty((n, 2, h, w), np.float32)
    for i in range(n):
        rng = np.random.default_rng([base & 0xFFFFFFFF, i])
        gumbel[i] = rng.gumbel(size=(m, h, w))
        uniform[i] = rng.uniform(1e-5, 1.0 - 1e-5, size=(2, h, w))
    return Noise(gumbel, uniform)


def _temperature(temperature: float) -> np.ndarray:
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature!r}")
    return np.array([float(temperature)], np.float32)


def sample_naive(
    graph: OnnxModel, cond: np.ndarray, noise: Noise, temperature: float = 1.0
) -> np.ndarray:
    """(a, b) levels (n, 2, h, w) by re-running the whole PixelCNN once per pixel.

    Parameters
    ----------
    graph : OnnxModel
        The generator graph.
    cond : ndarray (n, C, h, w) float32
        Conditioning (the encoder's ``cond``), one row per sample.
    noise : Noise
    temperature : float
        Divides the component logits and multiplies the logistic scales.
    """
    n, _, h, w = cond.shape
    x = np.zeros((n, 2, h, w), np.float32)
    t = _temperature(temperature)
    session = graph.session
    for r in range(h):
        for c in range(w):
            sample = session.run(
                ["sample"],
                {
                    "x": x,
                    "cond": cond,
                    "gumbel": noise.gumbel,
                    "uniform": noise.uniform,
                    "temperature": t,
                },
            )[0]
            x[:, :, r, c] = sample[:, :, r, c]
    return x


def sample_windowed(
    graph: OnnxModel, cond: np.ndarray, noise: Noise, temperature: float = 1.0
) -> np.ndarray:
    """Same samples as :func:`sample_naive`, running the graph on receptive-field windows."""
    arch = graph.metadata_json("architecture")
    up, side = int(arch["reach_rows"]), int(arch["reach_cols"])
    n, _, h, w = cond.shape
    x = np.zeros((n, 2, h, w), np.float32)
    t = _temperature(temperature)
    session = graph.session
    for r in range(h):
        r0 = max(0, r - up)
        for c in range(w):
            c0, c1 = max(0, c - side), min(w, c + side + 1)
            window = (slice(None), slice(None), slice(r0, r + 1), slice(c0, c1))
            feeds = {
                "x": np.ascontiguousarray(x[window]),
                "cond": np.ascontiguousarray(cond[window]),
                "gumbel": np.ascontiguousarray(noise.gumbel[window]),
                "uniform": np.ascontiguousarray(noise.uniform[window]),
                "temperature": t,
            }
            sample = session.run(["sample"], feeds)[0]
            x[:, :, r, c] = sample[:, :, r - r0, c - c0]
    return x


def score(graph: OnnxModel, cond: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Log-likelihood (n,) in nats of levels ``x`` (n, 2, h, w), one teacher-forced pass."""
    n, _, h, w = cond.shape
    (loglik,) = graph.run(
        ["loglik"],
        x=np.ascontiguousarray(x, np.float32),
        cond=cond,
        gumbel=np.zeros((n, MIXTURES, h, w), np.float32),
        uniform=np.full((n, 2, h, w), 0.5, np.float32),
        temperature=np.ones(1, np.float32),
    )
    return loglik.reshape(n, -1).sum(axis=1).astype(np.float64)


def sample_cached(
    row: OnnxModel, pixel: OnnxModel, cond: np.ndarray, noise: Noise, temperature: float = 1.0
) -> np.ndarray:
    """Same samples as :func:`sample_naive` with the cached row and pixel step graphs."""
    arch = pixel.metadata_json("architecture")
    n, _, h, w = cond.shape
    layers_c = int(arch["layers"]) * int(arch["channels"])
    p0, p = int(arch["first_kernel"]) // 2, int(arch["kernel"]) // 2
    t = _temperature(temperature)
    cond_pix = np.ascontiguousarray(cond.transpose(2, 3, 0, 1))  # (h, w, n, C)
    gumbel = np.ascontiguousarray(noise.gumbel.transpose(2, 3, 0, 1))  # (h, w, n, M)
    uniform = np.ascontiguousarray(noise.uniform.transpose(2, 3, 0, 1))  # (h, w, n, 2)
    cache_in = np.zeros((n, 2, p0, w), np.float32)
    cache_v = np.zeros((n, layers_c, p, w), np.float32)
    above = np.zeros((n, int(arch["vertical_width"]), w), np.float32)
    x = np.zeros((n, 2, h, w), np.float32)
    pixel_session, row_session = pixel.session, row.session
    for r in range(h):
        cache_x = np.zeros((n, 2, p0), np.float32)
        cache_h = np.zeros((n, layers_c, p), np.float32)
        above_cols = np.ascontiguousarray(above.transpose(2, 0, 1))  # (w, n, V)
        for c in range(w):
            value, cache_x, cache_h = pixel_session.run(
                None,
                {
                    "cache_x": cache_x,
                    "cache_h": cache_h,
                    "above": above_cols[c],
                    "cond": cond_pix[r, c],
                    "gumbel": gumbel[r, c],
                    "uniform": uniform[r, c],
                    "temperature": t,
                },
            )
            x[:, :, r, c] = value
        above, cache_in, cache_v = row_session.run(
            None,
            {
                "x_row": np.ascontiguousarray(x[:, :, r : r + 1]),
                "cond_row": np.ascontiguousarray(cond[:, :, r : r + 1]),
                "cache_in": cache_in,
                "cache_v": cache_v,
            },
        )
    return x
