"""The ``semantic`` colorizer (ONNX Runtime, numpy and OpenCV only: never imports torch).

Pipeline per image (Zhao et al. 2019, Fig. 2): the Lab lightness at the working resolution
goes through the encoder graph -- the shared bottom layers, the colour embedding f_θ and
the segmentation head h_φ -- to the chroma grid (32 px on the short side). Graphs over the
shared gray ImageNet backbone (issue #20; ``metadata_props["backbone"]``) work at 256 px
(sides multiples of 32): the backbone's pyramid (:mod:`core.backbones`, computed once per
image and shared with every other method that asks) is the encoder's input and the grid
is 1/8 of the working shape. Graphs trained from scratch take L* at 128 px (sides
multiples of 4) and their grid is a quarter of that; where both kinds are installed the
working shape is the backbone's and the lightness is halved for the older graphs. The
PixelCNN g_ω samples (a, b) on that grid from its
discretized logistic mixture (:mod:`colorize_semantic.sampling`), conditioned on the
embedding and, in the ``full`` variant, on the segmentation (Eq. 4). The sampled chroma is
up-sampled bilinearly to the working resolution; the core recombines it with the
full-resolution lightness. The predicted segmentation (argmax of the up-sampled class
scores) comes back with every prediction.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np

from colorize_semantic import (
    AB_SCALE,
    BB_GRID_STRIDE,
    BB_WORKING_SIZE,
    CLASS_NAMES,
    DEFAULT_AVERAGE,
    DEFAULT_VARIANT,
    GRID_STRIDE,
    MODELS_DIR,
    VARIANTS,
    WORKING_SIZE,
)
from colorize_semantic.sampling import (
    draw_noise,
    sample_cached,
    sample_naive,
    sample_windowed,
    score,
)
from core.colorizer import (
    TEMPERATURE_VIVIDNESS,
    Capabilities,
    Colorizer,
    Prediction,
    temperature_for,
)
from core.errors import ModelFileError
from core.runtime import OnnxModel, read_manifest

__all__ = ["SemanticColorizer"]

CITATION = (
    "J. Zhao, J. Han, L. Shao, C. G. M. Snoek. Pixelated Semantic Colorization. IJCV 2019 "
    "(128(4):818-834). Discretized logistic mixture after T. Salimans et al., PixelCNN++, "
    "ICLR 2017. Scaled down and trained on CamVid; see colorize_semantic/MODEL_CARD.md."
)
SAMPLERS = ("cached", "windowed", "naive")
GRAPHS = ("encoder", "pixelcnn", "row", "pixel")
RANKS = (None, "likelihood")


class SemanticColorizer(Colorizer):
    """Pixelated Semantic Colorization: PixelCNN chroma guided by a segmentation head.

    Options
    -------
    variant : {"full", "embedding", "plain"}, default "full"
        Which flow of Fig. 2 to run; only the graphs found in the models folder can be used
        (the plugin ships ``full``).
    temperature : float, default 1.0
        Divides the mixture logits and multiplies the logistic scales (lower: safer).
    sampler : {"cached", "windowed", "naive"}
        ``"cached"``: row/pixel step graphs with activation caches (fastest);
        ``"windowed"``: the whole PixelCNN on each pixel's receptive-field window;
        ``"naive"``: the whole PixelCNN on the whole grid per pixel. Same samples.
    rank : {None, "likelihood"}
        With :func:`core.sample`: order the samples by PixelCNN log-likelihood.
    """

    name = "semantic"
    description = (
        "Pixelated Semantic Colorization: PixelCNN samples 32 px Lab chroma from a logistic "
        "mixture, guided by a jointly trained segmentation head (CamVid street scenes); "
        "diverse samples, returns the segmentation"
    )
    citation = CITATION
    capabilities = Capabilities(automatic=True, diverse=True, segmentation=True)
    colorspace = "lab"
    working_size = WORKING_SIZE
    size_multiple = GRID_STRIDE

    vividness = TEMPERATURE_VIVIDNESS

    def vividness_options(self, vividness: float, *, decoder: str | None = None) -> dict:
        """``vividness`` as the sampling temperature of the mixture
        (:func:`core.colorizer.temperature_for`; MODEL_CARD.md, "Vividness")."""
        return temperature_for(vividness)

    def __init__(self, folder: str | Path = MODELS_DIR) -> None:
        self.folder = Path(folder)
        self._graphs: dict[str, dict[str, OnnxModel]] = {}
        #: Stride from the working shape to the chroma grid (8 over the backbone, else 4).
        self.grid_stride = GRID_STRIDE
        if self._listed_backbones():  # the manifest says so: no graph is loaded here
            self.working_size, self.size_multiple = BB_WORKING_SIZE, 32
            self.grid_stride = BB_GRID_STRIDE

    def _listed_backbones(self) -> set[str]:
        """Backbones the manifest records for the installed variants' graphs."""
        try:
            methods = read_manifest(self.folder).get("methods", {})
        except ModelFileError:
            return set()
        return {
            methods[f"semantic-{v}"]["backbone"]
            for v in self.variants()
            if methods.get(f"semantic-{v}", {}).get("backbone")
        }

    def _backbone(self, variant: str) -> str | None:
        """The backbone the encoder of ``variant`` reads, or None (lightness input)."""
        return self.graphs(variant)["encoder"].metadata_json("backbone")

    @staticmethod
    def _files(folder: Path, variant: str) -> dict[str, Path]:
        return {g: folder / f"semantic-{variant}-{g}.onnx" for g in GRAPHS}

    @classmethod
    def shipped(cls, folder: str | Path = MODELS_DIR, variant: str = DEFAULT_VARIANT) -> bool:
        """Whether the two graphs of ``variant`` are in ``folder``."""
        return all(p.is_file() for p in cls._files(Path(folder), variant).values())

    def variants(self) -> list[str]:
        """Variants whose graphs are installed in this colorizer's folder."""
        return [v for v in VARIANTS if self.shipped(self.folder, v)]

    def graphs(self, variant: str = DEFAULT_VARIANT) -> dict[str, OnnxModel]:
        """The graphs of ``variant`` by role: encoder, pixelcnn, row, pixel (loaded lazily)."""
        if variant not in VARIANTS:
            raise ValueError(f"semantic: variant must be one of {VARIANTS}, got {variant!r}")
        if variant not in self._graphs:
            if not self.shipped(self.folder, variant):
                raise ValueError(
                    f"semantic: the graphs of variant {variant!r} are not installed in "
                    f"{self.folder} (available: {', '.join(self.variants()) or 'none'}); train "
                    "and export them with `python -m colorize_semantic.train` (MODEL_CARD.md)"
                )
            self._graphs[variant] = {
                g: OnnxModel(p) for g, p in self._files(self.folder, variant).items()
            }
        return self._graphs[variant]

    def model_files(self) -> tuple:
        """Every installed variant's graphs and, once, the shared backbone's."""
        from core.backbones import get_backbone

        files = [g.model_file() for v in self.variants() for g in self.graphs(v).values()]
        for name in sorted({b for v in self.variants() if (b := self._backbone(v))}):
            files.extend(get_backbone(name).model_files())
        return tuple(files)

    # -- helpers ---------------------------------------------------------------------------

    @staticmethod
    def _options(options: dict[str, Any]) -> dict[str, Any]:
        known = {"variant": DEFAULT_VARIANT, "temperature": 1.0, "sampler": "cached", "rank": None,
                 "average": DEFAULT_AVERAGE}
        unknown = sorted(set(options) - set(known))
        if unknown:
            raise TypeError(
                f"semantic: unknown option(s) {', '.join(unknown)}; accepted: {', '.join(known)}"
            )
        out = {**known, **options}
        if out["sampler"] not in SAMPLERS:
            raise ValueError(f"semantic: sampler must be one of {SAMPLERS}, got {out['sampler']!r}")
        if out["rank"] not in RANKS:
            raise ValueError(f"semantic: rank must be None or 'likelihood', got {out['rank']!r}")
        average = out["average"]
        if isinstance(average, bool) or not isinstance(average, (int, np.integer)) or average < 1:
            raise ValueError(f"semantic: average must be an integer >= 1, got {average!r}")
        out["average"] = int(average)
        return out

    def _check(self, lightness: np.ndarray) -> np.ndarray:
        lightness = np.asarray(lightness, np.float32)
        m = self.size_multiple
        if lightness.ndim != 2 or lightness.shape[0] % m or lightness.shape[1] % m:
            raise ValueError(
                f"expected (H, W) lightness with sides multiple of {m}, "
                f"got shape {lightness.shape}"
            )
        return lightness

    def encode(self, lightness: np.ndarray, variant: str = DEFAULT_VARIANT):
        """Encoder graph on the working L* (H, W) in [0, 100]: ``cond`` (1, C, h, w) and
        class scores (1, classes, h, w) on the chroma grid, h = H / :attr:`grid_stride`."""
        graphs = self.graphs(variant)
        encoder = graphs["encoder"]
        lightness = self._check(lightness)
        if self._backbone(variant) is not None:
            from core.backbones import level_feeds

            cond, seg = encoder.run(**level_feeds(encoder, lightness))
            return cond, seg
        if self.grid_stride != GRID_STRIDE:  # a scratch graph beside backbone graphs
            h, w = lightness.shape
            factor = self.grid_stride // GRID_STRIDE
            lightness = cv2.resize(
                lightness, (w // factor, h // factor), interpolation=cv2.INTER_AREA
            )
        x = np.ascontiguousarray(lightness[None, None] / 100.0, np.float32)
        cond, seg = encoder.run(lightness=x)
        return cond, seg

    @staticmethod
    def segment(scores: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
        """Classes (H, W) int32 from low-resolution scores (classes, h, w), bilinear up-sampling."""
        h, w = shape
        up = cv2.resize(
            np.ascontiguousarray(scores.transpose(1, 2, 0)), (w, h), interpolation=cv2.INTER_LINEAR
        )
        return np.argmax(up.reshape(h, w, -1), axis=-1).astype(np.int32)

    def low_resolution(
        self,
        lightness: np.ndarray,
        n: int,
        *,
        seed: int | None = None,
        variant: str = DEFAULT_VARIANT,
        temperature: float = 1.0,
        sampler: str = "cached",
    ):
        """``n`` samples: (a, b) levels (n, 2, h, w) in [-1, 1] on the chroma grid,
        log-likelihoods (n,), and the encoder's class scores (classes, h, w)."""
        cond, seg = self.encode(lightness, variant)
        graphs = self.graphs(variant)
        cond = np.ascontiguousarray(np.repeat(cond, n, axis=0))
        noise = draw_noise(seed, n, cond.shape[2], cond.shape[3])
        if sampler == "cached":
            x = sample_cached(graphs["row"], graphs["pixel"], cond, noise, temperature)
        else:
            run = sample_windowed if sampler == "windowed" else sample_naive
            x = run(graphs["pixelcnn"], cond, noise, temperature)
        return x, score(graphs["pixelcnn"], cond, x), seg[0]

    def _predictions(self, lightness, n, seed, opts) -> list[Prediction]:
        lightness = self._check(lightness)
        h, w = lightness.shape
        x, loglik, scores = self.low_resolution(
            lightness,
            n,
            seed=seed,
            variant=opts["variant"],
            temperature=opts["temperature"],
            sampler=opts["sampler"],
        )
        order = np.arange(n)
        if opts["rank"] == "likelihood":
            order = np.argsort(-loglik, kind="stable")
        segmentation = None if opts["variant"] == "plain" else self.segment(scores, (h, w))
        out = []
        for i in order:
            low = np.ascontiguousarray(x[i].transpose(1, 2, 0) * AB_SCALE, np.float32)
            chroma = cv2.resize(low, (w, h), interpolation=cv2.INTER_LINEAR)
            out.append(
                Prediction(
                    chroma=np.ascontiguousarray(chroma, np.float32),
                    segmentation=segmentation,
                    class_names=CLASS_NAMES if segmentation is not None else (),
                    extras={
                        "loglik": float(loglik[i]),
                        "variant": opts["variant"],
                        "low_resolution": low,
                    },
                )
            )
        return out

    # -- Colorizer API ---------------------------------------------------------------------

    def predict(self, lightness, *, reference=None, seed=None, decoder=None, **options):
        """One colorization: the per-pixel mean of ``average`` samples' chroma (default 8).

        The samples are those :meth:`predict_samples` draws for ``seed`` (sample ``i`` uses
        seed ``(seed, i)``), so ``average=1`` is sample 0, the paper's single draw (§3.1).
        Their mean is a Monte-Carlo estimate of E[a, b | L], the point estimate with the
        least squared error, in the role of Larsson et al.'s expectation decoder (§3.3,
        colorize-larsson): where the samples agree (sky, road, foliage) it keeps their
        colour, where they disagree (a car red in one sample, blue in another) it fades
        towards gray rather than guess. See MODEL_CARD.md for the measured effect.
        """
        if decoder is not None:
            raise ValueError(f"semantic samples chroma and takes no decoder (got {decoder!r})")
        opts = self._options(options)
        if opts["rank"] is not None:
            raise ValueError("semantic: rank applies to core.sample; core.colorize averages")
        k = opts["average"]
        samples = self._predictions(lightness, k, seed, opts)
        if k == 1:
            return samples[0]
        first = samples[0]
        low = np.mean([p.extras["low_resolution"] for p in samples], axis=0, dtype=np.float32)
        chroma = np.mean([p.chroma for p in samples], axis=0, dtype=np.float32)
        extras = {**first.extras, "low_resolution": low, "average": k,
                  "loglik": float(np.mean([p.extras["loglik"] for p in samples]))}
        return Prediction(chroma=chroma, segmentation=first.segmentation,
                          class_names=first.class_names, extras=extras)

    def predict_samples(self, lightness, n, *, seed=None, reference=None, **options):
        """``n`` samples drawn in one batched pass; ``rank="likelihood"`` sorts them."""
        if "average" in options:
            raise ValueError("semantic: average applies to core.colorize; core.sample draws "
                             "each sample on its own")
        return self._predictions(lightness, n, seed, self._options(options))
