"""The ``pixcolor`` colorizer (ONNX Runtime only: this module never imports torch).

Pipeline per image (Guadarrama et al. 2017, Fig. 4): the lightness Y at the working
resolution (112 px short side, both sides multiples of 4) goes through the
conditioning network to a 28 px feature grid; the PixelCNN samples a 28 px Cr/Cb
image in 32 bins per channel (:mod:`colorize_pixcolor.sampling`); the refinement
network combines it with the 112 px lightness (Sec. 3.2). The core then up-samples
the chroma and recombines it with the full-resolution lightness.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from colorize_pixcolor import GRID_STRIDE, MODELS_DIR
from colorize_pixcolor.sampling import Graphs, Samples, gumbel_noise, sample_cached, sample_naive
from core.colorizer import Capabilities, Colorizer, Prediction

__all__ = ["PixColor"]

CITATION = (
    "S. Guadarrama, R. Dahl, D. Bieber, M. Norouzi, J. Shlens, K. Murphy. PixColor: Pixel "
    "Recursive Colorization. BMVC 2017. Cached sampling after P. Ramachandran et al., Fast "
    "Generation for Convolutional Autoregressive Models, ICLR workshop 2017. Scaled down; "
    "see colorize_pixcolor/MODEL_CARD.md."
)
SAMPLERS = ("cached", "naive")
RANKS = (None, "likelihood")


class PixColor(Colorizer):
    """Pixel Recursive Colorization with cached incremental sampling.

    Options
    -------
    temperature : float, default 1.0
        Divides the PixelCNN logits before sampling (lower: safer, less diverse).
    sampler : {"cached", "naive"}
        ``"naive"`` re-runs the whole PixelCNN per pixel (same samples, much slower).
    refine : bool, default True
        ``False`` returns the sampled 28 px chroma bilinearly up-sampled (Fig. 5 "unrefined").
    rank : {None, "likelihood"}
        With :func:`core.sample`, order the samples by PixelCNN log-likelihood, most
        likely first (the paper notes a hand-picked sample is much better than a random one).
    candidates : int
        With ``core.colorize``: draw this many samples and return the most likely
        (default 1: a plain sample).
    """

    name = "pixcolor"
    description = (
        "PixColor: conditional PixelCNN samples 28 px YCbCr chroma (32 bins), refinement CNN "
        "adds detail; diverse samples, cached fast sampling"
    )
    citation = CITATION
    capabilities = Capabilities(automatic=True, diverse=True)
    colorspace = "ycbcr"
    working_size = 28 * GRID_STRIDE
    size_multiple = GRID_STRIDE

    def __init__(self, folder=MODELS_DIR) -> None:
        self.graphs = Graphs.from_folder(folder)

    @classmethod
    def shipped(cls, folder=MODELS_DIR) -> bool:
        return all((folder / f"pixcolor-{n}.onnx").is_file()
                   for n in ("cond", "full", "row", "pixel", "refine"))

    def model_files(self) -> tuple:
        return tuple(m.model_file() for m in self.graphs.files())

    # -- helpers -----------------------------------------------------------------------

    @staticmethod
    def _options(options: dict[str, Any]) -> dict[str, Any]:
        known = {"temperature": 1.0, "sampler": "cached", "refine": True, "rank": None,
                 "candidates": 1}
        unknown = sorted(set(options) - set(known))
        if unknown:
            raise TypeError(f"pixcolor: unknown option(s) {', '.join(unknown)}; "
                            f"accepted: {', '.join(known)}")
        out = {**known, **options}
        if out["sampler"] not in SAMPLERS:
            raise ValueError(f"pixcolor: sampler must be one of {SAMPLERS}, got {out['sampler']!r}")
        if out["rank"] not in RANKS:
            raise ValueError(f"pixcolor: rank must be None or 'likelihood', got {out['rank']!r}")
        if int(out["candidates"]) < 1:
            raise ValueError(f"pixcolor: candidates must be >= 1, got {out['candidates']!r}")
        return out

    def low_resolution(self, lightness: np.ndarray, n: int, *, seed: int | None = None,
                       temperature: float = 1.0, sampler: str = "cached") -> Samples:
        """Draw ``n`` low-resolution samples for a working-resolution ``lightness`` (H, W).

        ``H`` and ``W`` must be multiples of 4; the samples are (H/4, W/4).
        """
        lightness = np.asarray(lightness, np.float32)
        h, w = lightness.shape if lightness.ndim == 2 else (1, 1)
        if lightness.ndim != 2 or h % GRID_STRIDE or w % GRID_STRIDE:
            raise ValueError(f"expected (H, W) lightness with sides multiple of {GRID_STRIDE}, "
                             f"got shape {lightness.shape}")
        (cond,) = self.graphs.cond.run(lightness=np.ascontiguousarray(lightness[None, None]))
        cond = np.ascontiguousarray(np.repeat(cond, n, axis=0))
        noise = gumbel_noise(seed, n, cond.shape[2], cond.shape[3])
        run = sample_cached if sampler == "cached" else sample_naive
        return run(self.graphs, cond, noise, temperature)

    def refine(self, lightness: np.ndarray, chroma: np.ndarray) -> np.ndarray:
        """Refinement network: (H, W) lightness + (n, h, w, 2) chroma -> (n, H, W, 2)."""
        n = chroma.shape[0]
        y = np.ascontiguousarray(np.repeat(lightness[None, None], n, axis=0), np.float32)
        low = np.ascontiguousarray(chroma.transpose(0, 3, 1, 2), np.float32)
        (out,) = self.graphs.refine.run(lightness=y, chroma=low)
        return np.clip(out.transpose(0, 2, 3, 1), -0.5, 0.5)

    def _predictions(self, lightness, samples: Samples, refine: bool) -> list[Prediction]:
        low = samples.chroma()
        if refine:
            chroma = self.refine(lightness, low)
        else:
            import cv2

            h, w = lightness.shape
            chroma = np.stack([cv2.resize(c, (w, h), interpolation=cv2.INTER_LINEAR) for c in low])
        return [
            Prediction(chroma=np.ascontiguousarray(chroma[i], np.float32),
                       extras={"loglik": float(samples.loglik[i]), "refined": bool(refine),
                               "low_resolution": low[i]})
            for i in range(len(low))
        ]

    # -- Colorizer API -----------------------------------------------------------------

    def predict(self, lightness, *, reference=None, seed=None, decoder=None, **options):
        if decoder is not None:
            raise ValueError(f"pixcolor samples chroma and takes no decoder (got {decoder!r})")
        opts = self._options(options)
        k = int(opts["candidates"])
        samples = self.low_resolution(lightness, k, seed=seed, temperature=opts["temperature"],
                                      sampler=opts["sampler"])
        best = int(np.argmax(samples.loglik)) if k > 1 else 0
        one = Samples(samples.cr[best : best + 1], samples.cb[best : best + 1],
                      samples.loglik[best : best + 1])
        return self._predictions(np.asarray(lightness, np.float32), one, opts["refine"])[0]

    def predict_samples(self, lightness, n, *, seed=None, reference=None, **options):
        """``n`` samples drawn in one batched pass; ``rank="likelihood"`` sorts them."""
        opts = self._options(options)
        if int(opts["candidates"]) != 1:
            raise ValueError("pixcolor: candidates applies to core.colorize; use rank= with sample")
        samples = self.low_resolution(lightness, n, seed=seed, temperature=opts["temperature"],
                                      sampler=opts["sampler"])
        if opts["rank"] == "likelihood":
            order = np.argsort(-samples.loglik, kind="stable")
            samples = Samples(samples.cr[order], samples.cb[order], samples.loglik[order])
        return self._predictions(np.asarray(lightness, np.float32), samples, opts["refine"])
