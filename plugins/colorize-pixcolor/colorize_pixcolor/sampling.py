"""Autoregressive sampling of the PixColor PixelCNN on ONNX Runtime (no torch).

Two samplers draw the same samples from the same noise:

* :func:`sample_naive` re-runs the whole PixelCNN (``pixcolor-full.onnx``) once per
  pixel, as a PixelCNN is usually sampled; the Cr and Cb of the pixel come out of
  the same pass, because the Cb head only needs the pixel's own Cr (Sec. 3.1).
* :func:`sample_cached` is the cached incremental scheme of Ramachandran et al.
  2017: ``pixcolor-pixel.onnx`` computes only the horizontal stack and the heads
  of the new pixel from per-layer caches of the pixels to its left, and
  ``pixcolor-row.onnx`` advances the vertical stack by one row from per-layer
  caches of the rows above, once per finished row.

Randomness is Gumbel-max: ``argmax(logits / T + g)`` with noise ``g`` drawn up front
from ``numpy.random.default_rng(seed)``, so a seed fixes the samples, whatever the
sampler, and the ``n`` samples of a batch are drawn in one pass.

References
----------
S. Guadarrama et al. PixColor: Pixel Recursive Colorization. BMVC 2017, Sec. 3.1.
P. Ramachandran et al. Fast Generation for Convolutional Autoregressive Models. ICLR
workshop 2017.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from colorize_pixcolor import MODELS_DIR, N_BINS
from core.runtime import OnnxModel

__all__ = ["Graphs", "Samples", "bin_centers", "gumbel_noise", "sample_cached", "sample_naive",
           "score"]


def bin_centers(index: np.ndarray, k: int = N_BINS) -> np.ndarray:
    """Centre in [-0.5, 0.5] of each bin index (``core.binning.PIXCOLOR_BINS``)."""
    return ((np.asarray(index, np.float32) + 0.5) / k - 0.5).astype(np.float32)


@dataclass
class Graphs:
    """The PixColor ONNX graphs (loaded lazily by :class:`core.runtime.OnnxModel`)."""

    cond: OnnxModel
    full: OnnxModel
    row: OnnxModel
    pixel: OnnxModel
    refine: OnnxModel

    @classmethod
    def from_folder(cls, folder=MODELS_DIR) -> Graphs:
        return cls(*(OnnxModel(folder / f"pixcolor-{n}.onnx")
                     for n in ("cond", "full", "row", "pixel", "refine")))

    def files(self) -> tuple:
        return (self.cond, self.full, self.row, self.pixel, self.refine)


@dataclass
class Samples:
    """``n`` sampled low-resolution chroma images.

    Attributes
    ----------
    cr, cb : ndarray (n, h, w) int64
        Bin indices.
    loglik : ndarray (n,) float64
        Log-likelihood of each sample under the PixelCNN (temperature 1, nats).
    """

    cr: np.ndarray
    cb: np.ndarray
    loglik: np.ndarray

    def chroma(self) -> np.ndarray:
        """(n, h, w, 2) float32 (Cb, Cr) bin centres, the order of ``core``'s ycbcr space."""
        return np.stack([bin_centers(self.cb), bin_centers(self.cr)], axis=-1)


def gumbel_noise(seed: int | None, n: int, h: int, w: int, k: int = N_BINS) -> np.ndarray:
    """Standard Gumbel noise (n, h, w, 2k) float32: Cr's k values, then Cb's."""
    rng = np.random.default_rng(0 if seed is None else int(seed))
    u = rng.random((n, h, w, 2 * k))
    return (-np.log(-np.log(np.clip(u, 1e-12, 1.0 - 1e-7)))).astype(np.float32)


def _inv_temperature(temperature: float) -> np.ndarray:
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature!r}")
    return np.array([1.0 / float(temperature)], np.float32)


def _architecture(graphs: Graphs) -> dict:
    return graphs.pixel.metadata_json("architecture")


def sample_naive(graphs: Graphs, cond: np.ndarray, noise: np.ndarray,
                 temperature: float = 1.0) -> Samples:
    """Sample by re-running the full PixelCNN once per pixel (the slow reference).

    Parameters
    ----------
    cond : ndarray (n, C, h, w) float32
        Conditioning features (``pixcolor-cond.onnx``), one row per sample.
    noise : ndarray (n, h, w, 2K) float32
        Gumbel noise (:func:`gumbel_noise`).
    """
    n, _, h, w = cond.shape
    x = np.zeros((n, 2, h, w), np.float32)
    gumbel = np.ascontiguousarray(noise.transpose(0, 3, 1, 2))
    inv_t = _inv_temperature(temperature)
    cr = np.zeros((n, h, w), np.int64)
    cb = np.zeros((n, h, w), np.int64)
    for r in range(h):
        for c in range(w):
            cr_all, cb_all, _, _ = graphs.full.run(x=x, cond=cond, gumbel=gumbel,
                                                   inv_temperature=inv_t)
            cr[:, r, c], cb[:, r, c] = cr_all[:, r, c], cb_all[:, r, c]
            x[:, 0, r, c] = 2 * bin_centers(cr[:, r, c])
            x[:, 1, r, c] = 2 * bin_centers(cb[:, r, c])
    return Samples(cr, cb, score(graphs, cond, cr, cb))


def sample_cached(graphs: Graphs, cond: np.ndarray, noise: np.ndarray,
                  temperature: float = 1.0) -> Samples:
    """Sample with the cached row and pixel step graphs (Ramachandran et al. 2017).

    Same arguments and same result as :func:`sample_naive`; the log-likelihood comes
    from the pixel steps themselves.
    """
    arch = _architecture(graphs)
    n, c_dim, h, w = cond.shape
    layers_c = int(arch["layers"]) * int(arch["channels"])
    p0, p = int(arch["first_kernel"]) // 2, int(arch["kernel"]) // 2
    inv_t = _inv_temperature(temperature)
    cond_pix = np.ascontiguousarray(cond.transpose(2, 3, 0, 1))  # (h, w, n, C)
    cache_in = np.zeros((n, 2, p0, w), np.float32)
    cache_v = np.zeros((n, layers_c, p, w), np.float32)
    above = np.zeros((n, int(arch["vertical_width"]), w), np.float32)
    cr = np.zeros((n, h, w), np.int64)
    cb = np.zeros((n, h, w), np.int64)
    loglik = np.zeros(n, np.float64)
    pixel = graphs.pixel.session
    row = graphs.row.session
    x_row = np.zeros((n, 2, 1, w), np.float32)
    for r in range(h):
        cache_x = np.zeros((n, 2, p0), np.float32)
        cache_h = np.zeros((n, layers_c, p), np.float32)
        above_cols = np.ascontiguousarray(above.transpose(2, 0, 1))  # (w, n, V)
        for c in range(w):
            out = pixel.run(None, {"cache_x": cache_x, "cache_h": cache_h,
                                   "above": above_cols[c], "cond": cond_pix[r, c],
                                   "gumbel": noise[:, r, c], "inv_temperature": inv_t})
            cr[:, r, c], cb[:, r, c], ll, cache_x, cache_h = out
            loglik += ll
        x_row[:, 0, 0] = 2 * bin_centers(cr[:, r])
        x_row[:, 1, 0] = 2 * bin_centers(cb[:, r])
        above, cache_in, cache_v = row.run(None, {
            "x_row": x_row, "cond_row": np.ascontiguousarray(cond[:, :, r : r + 1]),
            "cache_in": cache_in, "cache_v": cache_v})
    return Samples(cr, cb, loglik)


def score(graphs: Graphs, cond: np.ndarray, cr: np.ndarray, cb: np.ndarray) -> np.ndarray:
    """Log-likelihood (n,) of given bins under the PixelCNN, one teacher-forced pass."""
    n, _, h, w = cond.shape
    x = np.stack([2 * bin_centers(cr), 2 * bin_centers(cb)], axis=1).astype(np.float32)
    gumbel = np.zeros((n, 2 * N_BINS, h, w), np.float32)
    _, _, loglik, _ = graphs.full.run(x=x, cond=cond, gumbel=gumbel,
                                      inv_temperature=np.ones(1, np.float32))
    return loglik.reshape(n, -1).sum(axis=1).astype(np.float64)
