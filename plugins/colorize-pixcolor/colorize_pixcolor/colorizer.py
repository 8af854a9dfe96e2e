"""The ``pixcolor`` colorizer (ONNX Runtime only: this module never imports torch).

Pipeline per image (Guadarrama et al. 2017, Fig. 4): the lightness Y at the working
resolution (112 px short side, both sides multiples of 4) goes through the
conditioning network to a 28 px feature grid; the PixelCNN samples a 28 px Cr/Cb
image in 32 bins per channel (:mod:`colorize_pixcolor.sampling`); the refinement
network combines it with the 112 px lightness (Sec. 3.2). The core then up-samples
the chroma and recombines it with the full-resolution lightness.

Graphs over the shared gray ImageNet backbone (issue #20; ``metadata_props["backbone"]``
of ``pixcolor-cond.onnx``) work at 224 px instead (sides multiples of 32, the paper's
input size): Y read as a gray value gives the CIE L* the backbone takes, its pyramid
(:mod:`core.backbones`: once per image, shared with every method that asks) goes through
the adaptation network to the 28 px grid (1/8 of the working shape), and the refinement
network sees Y at 4x the grid, as it was trained; its chroma is up-sampled to the
working shape.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from colorize_pixcolor import BB_GRID_STRIDE, BB_WORKING_SIZE, GRID_STRIDE, MODELS_DIR
from colorize_pixcolor.sampling import Graphs, Samples, gumbel_noise, sample_cached, sample_naive
from core.colorizer import (
    TEMPERATURE_VIVIDNESS,
    Capabilities,
    Colorizer,
    Prediction,
    temperature_for,
)
from core.errors import ModelFileError
from core.runtime import read_manifest

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

    vividness = TEMPERATURE_VIVIDNESS

    def vividness_options(self, vividness: float, *, decoder: str | None = None) -> dict:
        """``vividness`` as the sampling temperature of the PixelCNN
        (:func:`core.colorizer.temperature_for`; MODEL_CARD.md, "Vividness")."""
        return temperature_for(vividness)

    def __init__(self, folder=MODELS_DIR) -> None:
        self.graphs = Graphs.from_folder(folder)
        #: Stride from the working shape to the PixelCNN grid (8 over the backbone, else 4).
        self.grid_stride = GRID_STRIDE
        try:  # the manifest says which kind is installed: no graph is loaded here
            methods = read_manifest(folder).get("methods", {})
            listed = methods.get("pixcolor-pixelcnn", {}).get("backbone")
        except ModelFileError:
            listed = None
        if listed:
            self.working_size, self.size_multiple = BB_WORKING_SIZE, 32
            self.grid_stride = BB_GRID_STRIDE

    def _backbone(self) -> str | None:
        """The backbone the conditioning graph reads, or None (lightness input)."""
        return self.graphs.cond.metadata_json("backbone")

    @classmethod
    def shipped(cls, folder=MODELS_DIR) -> bool:
        return all((folder / f"pixcolor-{n}.onnx").is_file()
                   for n in ("cond", "full", "row", "pixel", "refine"))

    def model_files(self) -> tuple:
        """The five graphs and, for graphs over the shared backbone, the backbone's."""
        files = tuple(m.model_file() for m in self.graphs.files())
        name = self._backbone() if self.graphs.cond.path.is_file() else None
        if name is None:
            return files
        from core.backbones import get_backbone

        return files + get_backbone(name).model_files()

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

        ``H`` and ``W`` must be multiples of :attr:`size_multiple`; the samples are
        (H / :attr:`grid_stride`, W / :attr:`grid_stride`).
        """
        lightness = np.asarray(lightness, np.float32)
        h, w = lightness.shape if lightness.ndim == 2 else (1, 1)
        m = self.size_multiple
        if lightness.ndim != 2 or h % m or w % m:
            raise ValueError(f"expected (H, W) lightness with sides multiple of {m}, "
                             f"got shape {lightness.shape}")
        cond = self.condition(lightness)
        cond = np.ascontiguousarray(np.repeat(cond, n, axis=0))
        noise = gumbel_noise(seed, n, cond.shape[2], cond.shape[3])
        run = sample_cached if sampler == "cached" else sample_naive
        return run(self.graphs, cond, noise, temperature)

    def condition(self, lightness: np.ndarray) -> np.ndarray:
        """Conditioning features (1, C, h, w) on the PixelCNN grid of a working Y (H, W)."""
        lightness = np.asarray(lightness, np.float32)
        if self._backbone() is not None:
            from core.backbones import level_feeds
            from core.colorspaces.lab import LabSpace

            # Y read as a gray value: its CIE L* is what the backbone was adapted to
            gray_l = LabSpace().gray_lightness(np.clip(lightness, 0.0, 1.0)).astype(np.float32)
            (cond,) = self.graphs.cond.run(**level_feeds(self.graphs.cond, gray_l))
        else:
            (cond,) = self.graphs.cond.run(lightness=np.ascontiguousarray(lightness[None, None]))
        return cond

    def refine(self, lightness: np.ndarray, chroma: np.ndarray) -> np.ndarray:
        """Refinement network: (H, W) lightness + (n, h, w, 2) chroma -> (n, H, W, 2).

        The network sees the lightness at 4x the grid (its training scale); over the
        backbone (grid 1/8) its output is up-sampled bilinearly to (H, W).
        """
        n, gh, gw = chroma.shape[:3]
        full_h, full_w = lightness.shape
        seen = lightness
        if (full_h, full_w) != (GRID_STRIDE * gh, GRID_STRIDE * gw):
            seen = cv2.resize(lightness, (GRID_STRIDE * gw, GRID_STRIDE * gh),
                              interpolation=cv2.INTER_AREA)
        y = np.ascontiguousarray(np.repeat(seen[None, None], n, axis=0), np.float32)
        low = np.ascontiguousarray(chroma.transpose(0, 3, 1, 2), np.float32)
        (out,) = self.graphs.refine.run(lightness=y, chroma=low)
        out = np.clip(out.transpose(0, 2, 3, 1), -0.5, 0.5)
        if out.shape[1:3] != (full_h, full_w):
            out = np.stack([cv2.resize(np.ascontiguousarray(o), (full_w, full_h),
                                       interpolation=cv2.INTER_LINEAR) for o in out])
        return out

    def _predictions(self, lightness, samples: Samples, refine: bool) -> list[Prediction]:
        low = samples.chroma()
        if refine:
            chroma = self.refine(lightness, low)
        else:
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
